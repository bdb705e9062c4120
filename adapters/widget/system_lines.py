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
from routing.queue import QueueSpot

__all__ = ["EVENT_KEYS", "queue_lines", "worded"]

# event -> key of the translation files
EVENT_KEYS = {"claimed": "answering", "closed": "closed", "reopened": "reopened",
              "rating_request": "rateAsk"}


def worded(msg: dict[str, Any], lang: str, texts: Catalog) -> dict[str, Any]:
    """The ``Msg`` object with a system line's text in ``lang``; others as they are."""
    key = EVENT_KEYS.get(msg.get("event", "")) if msg.get("direction") == "system" else None
    if key is None:
        return msg
    return {**msg, "text": texts.say(lang, key, name=msg.get("author", ""))}


def queue_lines(spot: QueueSpot, texts: Catalog) -> dict[str, str]:
    """The ``queue`` frame's line in every language: "You are number 3 in line.
    Estimated wait: about 6 minutes."; the widget shows its own language's."""
    return {lang: _queue_line(spot, lang, texts) for lang in texts.codes}


def _queue_line(spot: QueueSpot, lang: str, texts: Catalog) -> str:
    say = texts.say
    place = (say(lang, "queue.next") if spot.position == 1
             else say(lang, "queue.nth", n=spot.position))
    if spot.wait is None:
        return f"{place} {say(lang, 'queue.nowait')}"
    if spot.wait < 60:
        wait = say(lang, "queue.short")
    elif spot.wait > 3600:
        wait = say(lang, "queue.long")
    else:
        minutes = round(spot.wait / 60)
        wait = say(lang, "queue.minute") if minutes == 1 else say(lang, "queue.minutes", n=minutes)
    return f"{place} {say(lang, 'queue.wait', wait=wait)}"
