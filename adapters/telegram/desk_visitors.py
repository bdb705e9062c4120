"""``/visitors`` and ``/greet`` in the desk group: who has the chat open on the library's
pages now, and a librarian's first word to one of them.

The list is plain text (the desk's ``say`` escapes it for Telegram HTML); a visitor is
named only when they gave a name, and shown by a short label, never by their token.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence

from adapters.telegram.render import browser_summary
from routing.greeting import Greeting
from routing.model import Channel, Contact
from routing.plain import plain_line
from routing.ports import Directory
from routing.presence import PresenceView, PresentVisitor
from routing.router import Refused, Router

__all__ = ["VisitorsDesk", "visitors_text"]

SHOWN = 30  # visitors listed at most; the rest are counted
_ROOM = 3500  # characters of the list before escaping, inside Telegram's 4,096

Say = Callable[[str], Awaitable[None]]


class VisitorsDesk:
    def __init__(self, presence: PresenceView | None, store: Directory, router: Router) -> None:
        self._presence = presence
        self._store = store
        self._router = router

    async def visitors(self, now: float, say: Say) -> None:
        if self._presence is None:
            await say("Live visitors are not shown: the web chat is not running here.")
            return
        here = list(self._presence.visitors())
        names = [await self._name(v) for v in here[:SHOWN]]
        await say(visitors_text(here, names, now))

    async def greet(self, argument: str, librarian_id: str, name: str, message_id: int,
                    say: Say) -> None:
        found = re.fullmatch(r"(\S+)\s+(.+)", argument.strip(), flags=re.DOTALL)
        label, text = found.groups() if found else ("", "")
        if not label or not text.strip():
            await say("Usage: /greet v-7f3a Hello! (/visitors lists who is here)")
            return
        visitor = self._presence.find(label) if self._presence is not None else None
        if visitor is None:
            await say(f"No visitor {plain_line(label)[:40]} is on our pages now (they may "
                      "have left); /visitors lists who is.")
            return
        greeting = Greeting(Contact(Channel.WIDGET, visitor.visitor), visitor.page(),
                            librarian_id, name, text, label=visitor.label,
                            external_id=str(message_id))
        try:
            await self._router.desk.greet(greeting)
        except Refused as refused:
            await say(f"{visitor.label}: {refused.reason}")

    async def _name(self, visitor: PresentVisitor) -> str:
        patron = await self._store.patron_by_contact(Contact(Channel.WIDGET, visitor.visitor))
        return plain_line(patron.name)[:60] if patron is not None else ""


def visitors_text(here: Sequence[PresentVisitor], names: Sequence[str], now: float) -> str:
    """The list, newest first: label, name if given, time on page, page, referrer host,
    device, language, city; at most ``SHOWN`` lines and about ``_ROOM`` characters."""
    if not here:
        return "Nobody has the chat open on our pages now."
    lines = [f"{len(here)} visitor{'s' if len(here) != 1 else ''} on our pages now "
             "(newest first; /greet <label> text to say hello):"]
    size = len(lines[0])
    for visitor, name in zip(here[:SHOWN], names, strict=False):
        line = _line(visitor, name, now)
        if size + len(line) > _ROOM:
            break
        lines.append(line)
        size += len(line) + 1
    if len(here) > len(lines) - 1:
        lines.append(f"…and {len(here) - (len(lines) - 1)} more.")
    return "\n".join(lines)


def _line(visitor: PresentVisitor, name: str, now: float) -> str:
    parts = [visitor.label + (f" ({name})" if name else ""),
             f"{_duration(now - visitor.page_since)} on " + _page(visitor)]
    if visitor.referrer_host:
        parts.append(f"from {visitor.referrer_host}")
    if visitor.user_agent:
        parts.append(browser_summary(visitor.user_agent))
    parts.extend(p for p in (visitor.language, visitor.city) if p)
    return "• " + " · ".join(plain_line(p) for p in parts)


def _page(visitor: PresentVisitor) -> str:
    if not visitor.url:
        return "a page"
    title = f"“{visitor.title[:60]}” " if visitor.title else ""
    return f"{title}{visitor.url[:100]}"


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
