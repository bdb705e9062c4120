"""What the patron newly wrote: quoted history and signature stripped from a body.

Reply headers ("On ... wrote:", Outlook's From/Sent/To/Subject block, "-----Original
Message-----") are found with mail-parser-reply's patterns for every language it knows
(English, German, French, Spanish, Dutch, Polish, Japanese, Chinese ...), taken from its
``MAIL_LANGUAGES`` table so a language it adds is used without a change here. Its
sign-off words and "Sent from my ..." lines feed the signature step.

Done by hand, because the library does not cover it:
- Indonesian (it has no ``id`` entry): "Pada ... menulis:" (Gmail, Apple Mail,
  Thunderbird), Outlook's Dari/Dikirim/Kepada/Subjek block, "-----Pesan Asli-----".
- Its patterns backtrack quadratically on a long line (a 100 kB line starting with "On "
  would hang a worker), so they run over a copy of the first lines cut to 200 characters;
  the intake passes on only the first few thousand characters anyway.
- Its splitter cuts a forwarded mail as if it were quoted history; a forward is what the
  patron wants us to read, so it is kept. Bottom-posted answers are found below the quote.
- Its signature rule deletes everything after "Thanks," or a line starting with "-" (a
  patron's list of books). Here a sign-off goes only when it stands alone on its line
  followed by a few short lines; losing a patron's sentence is worse than keeping their
  name, and nothing is stripped to emptiness.
"""

from __future__ import annotations

import re

from mailparser_reply.constants import GENERIC_MAIL_SEPARATOR, MAIL_LANGUAGES

__all__ = ["strip_reply"]

_LINE_CAP = 200
_MAX_LINES = 500
# Polish "from_header" accepts a single "Data:" or "Do:" line as a reply header, which
# cuts a patron's own "Data: ..." line; its "Dnia ... napisał(a):" header is still used.
_UNSAFE = {("pl", "from_header")}


def _library_patterns() -> list[str]:
    found = [GENERIC_MAIL_SEPARATOR]
    for language, entry in MAIL_LANGUAGES.items():
        for key in ("wrote_header", "from_header"):
            pattern = entry.get(key)
            if pattern and (language, key) not in _UNSAFE:
                found.append(pattern)
    return found


def _library_words(key: str) -> list[str]:
    words: list[str] = []
    for entry in MAIL_LANGUAGES.values():
        value = entry.get(key)
        if isinstance(value, list):
            words.extend(value)
        elif value:
            words.append(value)
    return [word for word in words if word]


# One alternation, searched once: its leftmost match is the first reply header, found
# about three times faster than by searching each language's pattern in turn.
_REPLY_HEADER = re.compile("|".join(f"(?:{pattern})" for pattern in (
    *_library_patterns(),
    # Gmail ("Pada tgl ..."/"Pada ... pukul ..."), Apple Mail and Thunderbird in
    # Indonesian; a long header wraps onto a second line
    r"^(?:> ?)*Pada\s[^\n]{0,200}?(?:\n[^\n]{0,200}?)?\s?menulis\s?:$",
    # Outlook in Indonesian: a "Dari:" line followed by another header line
    r"^(?:> ?)*[* ]*Dari\s?:[^\n]*\n(?:> ?)*[* ]*"
    r"(?:Dikirim|Terkirim|Tanggal|Kepada|Ke|Perihal|Subjek|Cc|Tembusan)\s?:",
    r"^(?:> ?)*-{3,}\s?Pesan Asli\s?-{3,}$",
)), re.M | re.I)
_FORWARDED = re.compile(
    r"^(?:-{3,}\s?(?:Forwarded message|Original message follows|Pesan terusan|"
    r"Pesan yang diteruskan)\s?-{3,}|Begin forwarded message:|Awal pesan yang diteruskan:)$",
    re.M | re.I,
)
_SENT_FROM = re.compile(
    "(?:" + "|".join(_library_words("sent_from")) + ")|"
    r"(?:Sent from (?:my |Mail for |Yahoo Mail|Outlook|Samsung|Gmail)|Sent via |"
    r"Get Outlook for |Dikirim dari |Dapatkan Outlook untuk |Kirim dari )",
    re.I,
)
_SIGN_OFF = re.compile(
    "(?:" + "|".join(_library_words("signatures")) + "|"
    r"thanks?(?: you| again| so much)?|many thanks|thx|cheers|best|all the best|"
    r"(?:best|kind|warm|warmest)? ?regards|best wishes|sincerely|yours sincerely|yours truly|"
    r"terima ?kasih(?: banyak)?|makasih|trims|salam(?: hangat| sejahtera)?|"
    r"hormat (?:saya|kami)|wassalam[\w' ]{0,30})[\s,.!]*",
    re.I,
)
# Outlook's plain-text stand-in for an inline image; the image is an attachment
_CID_PLACEHOLDER = re.compile(r"^\s*\[cid:[^\]\n]{1,300}\]\s*$", re.M | re.I)
_RULE = re.compile(r"^[_\-=*]{10,}$")


def _first_header(text: str) -> tuple[int, int] | None:
    """First and past-last line of the first reply header, unless it is in a forward."""
    lines = text.split("\n", _MAX_LINES)[:_MAX_LINES]
    shadow = "\n".join(line.strip()[:_LINE_CAP] for line in lines)
    found = _REPLY_HEADER.search(shadow)
    if found is None:
        return None
    pos = found.start()
    while pos < found.end() and shadow[pos] == "\n":
        pos += 1
    first = (shadow.count("\n", 0, pos), shadow.count("\n", 0, found.end()) + 1)
    forward = _FORWARDED.search(shadow, 0, pos)
    if forward is not None and shadow.count("\n", 0, forward.start()) < first[0]:
        return None  # a forwarded mail is what the patron wants us to read
    return first


def _drop_trailing(lines: list[str]) -> list[str]:
    """Drop trailing blank lines, ``>`` quote lines and horizontal rules."""
    end = len(lines)
    while end and (not lines[end - 1].strip() or lines[end - 1].lstrip().startswith(">")
                   or _RULE.match(lines[end - 1].strip())):
        end -= 1
    return lines[:end]


def _strip_signature(lines: list[str]) -> list[str]:
    """Remove an RFC 3676 signature, a footer under a rule, "Sent from my ..." and a
    short sign-off."""
    for i, line in enumerate(lines):
        if i > 0 and len(lines) - i <= 15 and (
            line.rstrip() in {"--", "-- "} or (_RULE.match(line.strip()) and len(lines) - i <= 7)
        ):
            lines = lines[:i]
            break
    filled = [i for i, line in enumerate(lines) if line.strip()]
    for i in filled[-3:]:
        if _SENT_FROM.match(lines[i].strip()) and i > 0:
            lines = lines[:i]
            break
    filled = [i for i, line in enumerate(lines) if line.strip()]
    for pos, i in enumerate(filled[-5:-1]):
        tail = filled[-5:][pos + 1 :]
        if (
            i > 0
            and _SIGN_OFF.fullmatch(lines[i].strip())
            and all(len(lines[j].strip()) <= 60 for j in tail)
        ):
            return lines[:i]
    return lines


def _new_lines(lines: list[str], header: tuple[int, int]) -> list[str]:
    """The lines above the reply header, or (bottom-posted) those below its quote."""
    start, end = header
    if any(line.strip() for line in lines[:start]):
        return lines[:start]
    skip = end
    while skip < len(lines) and (not lines[skip].strip() or lines[skip].lstrip().startswith(">")):
        skip += 1
    return lines[skip:]


def _whole(text: str) -> str:
    return re.sub(r"\n{3,}", "\n\n", "\n".join(x.rstrip() for x in text.split("\n"))).strip()


def strip_reply(text: str) -> str:
    """The new text at the top of a mail body, without quoted history or signature.

    Falls back to the whole (trimmed) body rather than return an empty string.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CID_PLACEHOLDER.sub("", text)
    lines = text.split("\n")
    header = _first_header(text)
    if header is not None:
        lines = _new_lines(lines, header)
    forward = _FORWARDED.search("\n".join(line.strip() for line in lines))
    tail: list[str] = []
    if forward is not None:
        at = "\n".join(line.strip() for line in lines)[: forward.start()].count("\n")
        lines, tail = lines[:at], lines[at:]
    kept = _drop_trailing(_strip_signature(_drop_trailing(lines)))
    result = "\n".join(line.rstrip() for line in kept + tail)
    return re.sub(r"\n{3,}", "\n\n", result).strip() or _whole(text)
