"""System lines as the patron reads them: in their own language, whatever the desk wrote.

The router stores a system line with an ``event`` and an English text meant for the desk
("Rina closed the conversation", "The patron wrote again; reopened"). Before such a line
goes to a widget its ``text`` becomes the patron's language's own words for the event
(English when the patron's language is unknown), so a widget that does not know the
event, or one that shows the server's text, still says it to the patron in their words.
"""

from __future__ import annotations

from typing import Any

from adapters.i18n import Catalog

__all__ = ["EVENT_KEYS", "worded"]

# event -> key of the translation files
EVENT_KEYS = {"claimed": "answering", "closed": "closed", "reopened": "reopened",
              "rating_request": "rateAsk"}


def worded(msg: dict[str, Any], lang: str, texts: Catalog) -> dict[str, Any]:
    """The ``Msg`` object with a system line's text in ``lang``; others as they are."""
    key = EVENT_KEYS.get(msg.get("event", "")) if msg.get("direction") == "system" else None
    if key is None:
        return msg
    return {**msg, "text": texts.say(lang, key, name=msg.get("author", ""))}
