r"""HTML mail to plain text, with the standard library's ``html.parser``.

Why not html2text or inscriptis: measured on our mail corpus (what the desk sees after
``strip_reply``, against the sender's own plain part), ours is right on 7 of 7 HTML mails,
inscriptis on 6 (it indents a signature out of the reply stripper's reach), html2text on
4 even set as plain as it goes (it escapes a signature's ``--`` as ``\--``, leaves
``* * *`` for a rule and Markdown links); ours is also the quickest of the three, within
noise of inscriptis (tests/bench/bench_htmltext.py; tests/unit/test_htmltext_measured.py
keeps the corpus result true).
What an HTML-only mail needs is small: text in reading order, paragraphs and line breaks
kept, list items marked, links kept visible, and ``<blockquote>`` turned into ``> ``
lines so the reply stripper sees quoted history exactly as in a plain-text mail.

With ``cid_marks`` an ``<img src="cid:...">`` leaves a mark in the text where it stands
(``cid_mark``), so ``inline.py`` can tell an image the patron put in their message from
one in their signature or in quoted history.
"""

from __future__ import annotations

import hashlib
import re
import urllib.parse
from html.parser import HTMLParser

__all__ = ["cid_mark", "html_to_text"]

_CID_OPEN, _CID_CLOSE = "\ue000", "\ue001"  # private-use characters: never in a mail's text


def cid_mark(content_id: str) -> str:
    """The mark ``html_to_text(..., cid_marks=True)`` leaves for an image of this Content-ID:
    short, so a signature's logo line stays a short line for the signature rule."""
    digest = hashlib.sha256(content_id.strip("<> ").lower().encode("utf-8", "replace"))
    return f"{_CID_OPEN}{digest.hexdigest()[:8]}{_CID_CLOSE}"

# Not "head": senders often leave it unclosed, which would hide the whole body; what a
# head holds besides these (meta, link, base) has no text.
_SKIP = {"style", "script", "title", "template", "svg", "object", "iframe"}
_BLOCK = {
    "address", "article", "aside", "center", "dd", "div", "dl", "dt", "fieldset",
    "figcaption", "figure", "footer", "form", "header", "hr", "li", "main", "nav", "ol",
    "section", "table", "tr", "ul",
}
_PARAGRAPH = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "blockquote"}
_SPACES = re.compile(r"[ \t\r\n\f\v\u00a0]+")


class _TextBuilder(HTMLParser):
    def __init__(self, cid_marks: bool = False) -> None:
        super().__init__(convert_charrefs=True)
        self._cid_marks = cid_marks
        self.lines: list[str] = []
        self._line: list[str] = []
        self._depth_at_start = 0
        self._quote = 0
        self._skip = 0
        self._pre = 0
        self._links: list[str | None] = []
        self._link_text: list[str] = []

    def _break(self, force: bool = False) -> None:
        """End the current line; ``force`` keeps it even when empty (``<br>``)."""
        joined = "".join(self._line)
        text = joined.rstrip() if self._pre else joined.strip()
        prefix = "> " * self._depth_at_start
        if text or self._line or force:
            self.lines.append(prefix + text if text else prefix.rstrip())
        self._line = []
        self._depth_at_start = self._quote

    def _blank(self) -> None:
        """Separate paragraphs by one empty line (never two)."""
        if self.lines and self.lines[-1].strip("> ") != "":
            self.lines.append(("> " * self._quote).rstrip())

    def _write(self, text: str) -> None:
        if not self._line:
            self._depth_at_start = self._quote
        self._line.append(text)
        if self._links:
            self._link_text.append(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self._skip += 1
        elif tag == "br":
            self._break(force=True)
        elif tag in _PARAGRAPH or tag in _BLOCK:
            self._break()
            if tag in _PARAGRAPH:
                self._blank()
            if tag == "blockquote":
                self._quote += 1
                self._depth_at_start = self._quote
            elif tag == "pre":
                self._pre += 1
            elif tag == "li":
                self._write("- ")
        elif tag in {"td", "th"}:
            self._write(" ")
        elif tag == "a":
            self._links.append(dict(attrs).get("href"))
            self._link_text = []
        elif tag == "img" and self._cid_marks and not self._skip:
            src = (dict(attrs).get("src") or "").strip()
            if src[:4].lower() == "cid:":  # RFC 2392: the Content-ID, URL-encoded
                self._write(f" {cid_mark(urllib.parse.unquote(src[4:]))} ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self._skip = max(0, self._skip - 1)
        elif tag == "a" and self._links:
            href = (self._links.pop() or "").strip()
            shown = "".join(self._link_text).strip()
            if href.lower().startswith(("http://", "https://")) and href not in shown:
                self._line.append(f" ({href})" if shown else href)
        elif tag in _PARAGRAPH or tag in _BLOCK:
            self._break()
            if tag == "blockquote":
                self._quote = max(0, self._quote - 1)
                self._depth_at_start = self._quote
            elif tag == "pre":
                self._pre = max(0, self._pre - 1)
            if tag in _PARAGRAPH:
                self._blank()

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            return
        self.handle_starttag(tag, attrs)

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if self._pre:
            for i, piece in enumerate(data.replace("\r\n", "\n").split("\n")):
                if i:
                    self._break()
                self._write(piece.replace("\u00a0", " "))
            return
        text = _SPACES.sub(" ", data)
        if not self._line:
            text = text.lstrip()
        if text:
            self._write(text)


def html_to_text(html: str, *, cid_marks: bool = False) -> str:
    """Readable plain text of an HTML mail body; never raises on broken markup."""
    builder = _TextBuilder(cid_marks)
    try:
        builder.feed(html)
        builder.close()
    except Exception:  # html.parser is lenient; keep whatever was read before a fault
        pass
    builder._break()
    text = "\n".join(line.rstrip() for line in builder.lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()
