"""The rating request by email: "How did we do?", answered by replying with 1 to 5.

When a librarian closes an email patron's conversation the router queues a SYSTEM
message "rating_request" (after "closed", which by email says nothing of its own: one
mail says both, not two mails a second apart). It needs no web page: the patron answers
the mail with a digit and, if they like, a comment ("5 thanks!"); ``rating_reply.py``
reads the answer. The HTML part has five buttons that are ``mailto:`` links to the
rating Reply-To address with the digit already written, for a patron who would rather
tap than type.

It is worded in the patron's language when the widget told it (``Patron.language``);
otherwise, as for a patron who only ever wrote by email, in every language of the
library (English and Indonesian by default), one block after the other. The words are
the translation files' ``mail.rate*`` texts, with the library's overrides.
"""

from __future__ import annotations

import html
import urllib.parse
from collections.abc import Sequence

from adapters.i18n import Catalog

__all__ = ["RATING_EVENT", "rating_html", "rating_text"]

RATING_EVENT = "rating_request"  # the router's event for the request (routing/claims.py)
_P = '<p style="margin:0 0 12px">'
_BUTTON = ("display:inline-block;min-width:36px;margin:0 6px 6px 0;padding:8px 0;"
           "text-align:center;border:1px solid #1a5fb4;border-radius:6px;color:#1a5fb4;"
           "text-decoration:none;font-weight:bold;font-size:17px")


_KEYS = {"closed": "mail.rateClosed", "ask": "mail.rateAsk", "how": "mail.rateHow",
         "tap": "mail.rateTap"}


def _words(languages: Sequence[str], texts: Catalog | None) -> list[dict[str, str]]:
    texts = texts or Catalog.bundled()
    known = [lang for lang in dict.fromkeys(languages) if lang in texts.codes]
    return [{name: texts.say(lang, key) for name, key in _KEYS.items()}
            for lang in known or [texts.default]]


def rating_text(languages: Sequence[str], texts: Catalog | None = None) -> str:
    """The plain text: each language's block, the closing line and the question."""
    blocks = [f"{w['closed']}\n\n{w['ask']} {w['how']}" for w in _words(languages, texts)]
    return "\n\n* * *\n\n".join(blocks)


def _mailto(address: str, subject: str, score: int) -> str:
    query = urllib.parse.urlencode({"subject": subject, "body": f"{score}/5 "},
                                   quote_via=urllib.parse.quote)
    return f"mailto:{urllib.parse.quote(address, safe='@+')}?{query}"


def rating_html(languages: Sequence[str], *, answer_address: str, subject: str,
                texts: Catalog | None = None) -> str:
    """The HTML fragment (every piece escaped): the blocks, then 1 to 5 as mailto buttons."""
    words = _words(languages, texts)
    out = []
    for w in words:
        out.append(f"{_P}{html.escape(w['closed'])}</p>")
        out.append(f"{_P}<b>{html.escape(w['ask'])}</b> {html.escape(w['how'])}</p>")
    taps = " / ".join(html.escape(w["tap"]) for w in words)
    buttons = "".join(
        f'<a href="{html.escape(_mailto(answer_address, subject, n))}" style="{_BUTTON}">'
        f"{n}</a>" for n in range(1, 6))
    out.append(f"{_P}{taps}</p>\n<p style=\"margin:0 0 16px\">{buttons}</p>")
    return "\n".join(out)
