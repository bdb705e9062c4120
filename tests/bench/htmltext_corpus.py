"""HTML-to-text converters side by side on our mail corpus (tests/data/emails).

What counts is what the desk sees: the new text of the mail after ``strip_reply``. The
reference is the sender's own plain-text alternative (their mail program wrote it from
the same HTML), or, for HTML-only mail, the text tests/unit/test_email_parse.py expects.
Gmail's plain part stands an image as ``[image: name]``; the desk shows images as files,
so that placeholder is left out of the comparison. Whitespace is compared collapsed.
"""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from adapters.email.htmltext import html_to_text
from adapters.email.quotes import strip_reply

__all__ = ["CONVERTERS", "Sample", "converters", "desk_text", "samples"]

CORPUS = Path(__file__).resolve().parents[1] / "data" / "emails"
HTML_ONLY = {"outlook_com_html_only_en.eml": "Thanks \u2013 my card number was 0012 3456. "
             "Can the new card keep my 3 loans & holds?\n\nMaria"}
_GMAIL_IMAGE = re.compile(r"\[image: [^\]]*\]")


@dataclass(frozen=True)
class Sample:
    name: str
    html: str
    expected: str  # the desk's text, whitespace collapsed


def desk_text(text: str) -> str:
    return " ".join(_GMAIL_IMAGE.sub("", strip_reply(text)).split())


def samples() -> list[Sample]:
    """Every mail of the corpus with an HTML body and a reference for it."""
    found = []
    for path in sorted(CORPUS.glob("*.eml")):
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        html = _first(msg, "text/html")
        plain = _first(msg, "text/plain") or HTML_ONLY.get(path.name)
        if html and plain:
            found.append(Sample(path.name, html, desk_text(plain)))
    return found


def _first(msg: email.message.Message, kind: str) -> str | None:
    for part in msg.walk():
        if part.get_content_type() == kind and not part.is_attachment():
            try:
                return str(part.get_content())  # type: ignore[attr-defined]
            except (LookupError, ValueError):
                return None
    return None


def _html2text(html: str) -> str:
    import html2text

    # As plain as it goes: no wrapping, emphasis, images or mailto links; real characters.
    h = html2text.HTML2Text()
    h.body_width, h.ignore_emphasis, h.ignore_images = 0, True, True
    h.unicode_snob, h.ignore_mailto_links, h.single_line_break = True, True, True
    return str(h.handle(html))


def _inscriptis(html: str) -> str:
    import inscriptis
    from inscriptis.model.config import ParserConfig

    return str(inscriptis.get_text(html, ParserConfig(display_links=False)))


CONVERTERS: dict[str, Callable[[str], str]] = {
    "ours (html.parser)": html_to_text, "html2text": _html2text, "inscriptis": _inscriptis}


def converters() -> dict[str, Callable[[str], str]]:
    return dict(CONVERTERS)
