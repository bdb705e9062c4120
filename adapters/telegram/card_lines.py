"""Lines of the info card that need judgement: the page a patron wrote from, and what
the member directory said. Pure; each returns Telegram HTML with every value escaped.

The page's address and title come from the patron's browser, so a page is linked only
on the library's own sites, and its host is always shown: "renew your staff SSO" on a
stranger's host stays text a librarian can read, never a link they tap.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Iterable
from urllib.parse import urlsplit

from adapters.directory.member import Member
from adapters.i18n import Catalog
from routing.plain import plain_line

__all__ = ["language_line", "member_given_line", "member_status", "origin", "page_line",
           "topic_line"]

_SUSPENDED = ("suspend", "block", "bar", "ban", "revok", "stop", "lost", "deceased")
_EXPIRED = ("expir", "lapsed")
_ACTIVE = ("active", "valid", "ok", "current", "good", "aktif")


def origin(url: str) -> str:
    """"https://opac.library.example" from any address on that site; "" when none."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return ""
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return ""
    default = {"http": 80, "https": 443}[parts.scheme.lower()]
    where = parts.hostname if port in (None, default) else f"{parts.hostname}:{port}"
    return f"{parts.scheme.lower()}://{where}"


def _host(url: str) -> str:
    """The host as a librarian should read it: look-alike letters spelled out
    (punycode), so a host with a Cyrillic "a" in it does not pass for the library's."""
    try:
        host = urlsplit(url.strip()).hostname or ""
    except ValueError:
        return ""
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return plain_line(host)


def page_line(url: str, title: str, library_origins: Iterable[str]) -> str:
    """"<b>Page:</b> …": a link only to a page of the library's own sites; the host
    always shown; an address that is no web page at all shown as the title alone."""
    shown = _e(plain_line(title or url)[:120])
    host = _host(url)
    if not origin(url) or not host:
        return f"<b>Page:</b> {shown}"
    trusted = {origin(o) for o in library_origins} - {""}
    if origin(url) in trusted:
        return f'<b>Page:</b> <a href="{_e(url)}">{shown}</a> ({_e(host)})'
    return f"<b>Page:</b> {shown} on {_e(host)} <i>(not a library site: not linked)</i>"


def language_line(code: str) -> str:
    """"<b>Language:</b> Indonesian (Bahasa Indonesia, id)": the language the patron reads
    and is answered in, named for the desk; a tag of no shipped language as it came; ""
    when unknown."""
    code = plain_line(code)[:35]
    if not code:
        return ""
    if code not in (catalog := Catalog.bundled()).codes:
        return f"<b>Language:</b> {_e(code)}"
    language = catalog.language(code)
    named = language.english_name if language.name == language.english_name else (
        f"{language.english_name} ({language.name}, {code})")
    return f"<b>Language:</b> {_e(named)}"


def member_given_line(number: str) -> str:
    """"<b>Member number:</b> 12345 (given, not verified)": what the patron typed, which
    only /verify checks against the member directory."""
    return (f"<b>Member number:</b> {_e(plain_line(number)[:32])} "
            "⚠️ <i>given, not verified: /verify checks it</i>")


def topic_line(tags: Iterable[str], hidden: Iterable[str] = ()) -> str:
    """"<b>Topic:</b> #borrowing": the tags a conversation opened with (the patron's
    choice of topic), those in ``hidden`` left out; "" when none."""
    shown = [t for t in tags if t not in set(hidden)]
    return f"<b>Topic:</b> {_e(' '.join('#' + t for t in shown))}" if shown else ""


def member_status(member: Member, today: dt.date) -> str:
    """The member's standing in plain words, as text: ✅ active, ⚠️ expired on the
    date, ⛔ suspended, or what the directory said when it is none of those."""
    status = " ".join(member.status.split())
    word = status.lower()
    expires = _date(member.expires)
    who = f"Member {member.number}: {member.name}".rstrip(": ")
    if any(w in word for w in _SUSPENDED):
        return f"⛔ {status or 'suspended'} — {who}"
    if any(w in word for w in _EXPIRED) or (expires is not None and expires < today):
        on = f" on {member.expires}" if member.expires else ""
        return f"⚠️ expired{on} — {who}"
    until = f", valid until {member.expires}" if member.expires else ""
    if word in _ACTIVE or (not word and expires is not None):
        return f"✅ active{until} — {who}"
    said = f"“{status}”" if status else "no status"
    return f"❔ the directory says {said}{until} — {who}"


def _date(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text.strip()[:10])
    except ValueError:
        return None


def _e(text: str) -> str:
    return html.escape(text, quote=True)
