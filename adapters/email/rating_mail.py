"""The rating request by email: "How did we do?", answered by replying with 1 to 5.

When a librarian closes an email patron's conversation the router queues a SYSTEM
message "rating_request" (after "closed", which by email says nothing of its own: one
mail says both, not two mails a second apart). It needs no web page: the patron answers
the mail with a digit and, if they like, a comment ("5 thanks!"); ``rating_reply.py``
reads the answer. The HTML part has five buttons that are ``mailto:`` links to the
rating Reply-To address with the digit already written, for a patron who would rather
tap than type.

The patron's language is not known by email, so the mail says it in every language of
the library (English and Indonesian by default), one block after the other.
"""

from __future__ import annotations

import html
import urllib.parse
from collections.abc import Sequence

__all__ = ["RATING_EVENT", "RATING_WORDS", "rating_html", "rating_text"]

RATING_EVENT = "rating_request"  # the router's event for the request (routing/claims.py)
RATING_WORDS: dict[str, dict[str, str]] = {
    "en": {
        "closed": "This conversation is now closed. Thank you for writing to us; if you "
                  "need anything more, just reply to this email.",
        "ask": "How did we do?",
        "how": "Reply to this email with a number from 1 (poor) to 5 (excellent), and a "
               "comment if you like, for example: 5/5 Thank you, very helpful!",
        "tap": "Or choose a number:",
    },
    "id": {
        "closed": "Percakapan ini sudah ditutup. Terima kasih telah menghubungi kami; jika "
                  "masih ada yang ingin ditanyakan, cukup balas email ini.",
        "ask": "Bagaimana layanan kami?",
        "how": "Balas email ini dengan angka 1 (buruk) sampai 5 (sangat baik), dan komentar "
               "jika berkenan, misalnya: 5/5 Terima kasih, sangat membantu!",
        "tap": "Atau pilih angka:",
    },
}
_P = '<p style="margin:0 0 12px">'
_BUTTON = ("display:inline-block;min-width:36px;margin:0 6px 6px 0;padding:8px 0;"
           "text-align:center;border:1px solid #1a5fb4;border-radius:6px;color:#1a5fb4;"
           "text-decoration:none;font-weight:bold;font-size:17px")


def _words(languages: Sequence[str]) -> list[dict[str, str]]:
    chosen = [RATING_WORDS[lang] for lang in dict.fromkeys(languages) if lang in RATING_WORDS]
    return chosen or [RATING_WORDS["en"]]


def rating_text(languages: Sequence[str]) -> str:
    """The plain text: each language's block, the closing line and the question."""
    blocks = [f"{w['closed']}\n\n{w['ask']} {w['how']}" for w in _words(languages)]
    return "\n\n* * *\n\n".join(blocks)


def _mailto(address: str, subject: str, score: int) -> str:
    query = urllib.parse.urlencode({"subject": subject, "body": f"{score}/5 "},
                                   quote_via=urllib.parse.quote)
    return f"mailto:{urllib.parse.quote(address, safe='@+')}?{query}"


def rating_html(languages: Sequence[str], *, answer_address: str, subject: str) -> str:
    """The HTML fragment (every piece escaped): the blocks, then 1 to 5 as mailto buttons."""
    words = _words(languages)
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
