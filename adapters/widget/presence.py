"""Live visitors: who has the widget open now, on which page, for the desk's /visitors.

One small record per visitor, in this process's memory only: made at ``hello``, moved
on by a ``page`` frame, dropped the moment the visitor's last socket closes (or, for
the HTTP fallback, once they stop polling). Nothing of it is stored, so it holds nothing
longer than the visit. A bridge scaled out over several processes must share it (Redis)
before one process's desk can see every visitor.

What is kept is what a librarian needs and no more: a short label (not the token), the
page (only on the library's own sites), the referrer's host, the browser's user agent
(shared between visitors who have the same), the language, and a city when the library
supplies a GeoLite2 database (the address itself is not kept).
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from routing.model import Conversation, Message, PageInfo
from routing.plain import plain_line
from routing.presence import PresentVisitor

__all__ = ["CityLookup", "VisitorPresence", "accept_language", "greet_frame", "referrer_host"]

log = logging.getLogger(__name__)

_AWAY = 30.0  # an HTTP-fallback visitor between long-polls still counts as here
_SHARED = 2048  # distinct user agents / cities / languages kept as one shared string
_SWEEP = 4096  # arrivals between two sweeps of visitors who left without closing a socket


class CityLookup:
    """"Bandung, ID" for an IP address from a GeoLite2-City (MaxMind DB) file."""

    def __init__(self, path: str | Path) -> None:
        import maxminddb  # only a library that configures geoip_db needs it

        self._reader = maxminddb.open_database(os.path.expanduser(str(path)))

    def city(self, ip: str) -> str:
        try:
            found: Any = self._reader.get(ip)
        except ValueError:  # not an address ("", a unix socket)
            return ""
        if not isinstance(found, dict):
            return ""
        name = _name(found.get("city")) or _name(found.get("subdivisions", [None])[0])
        country = found.get("country", {}).get("iso_code", "") if isinstance(
            found.get("country"), dict) else ""
        return plain_line(", ".join(p for p in (name, str(country)) if p))[:80]

    def close(self) -> None:
        self._reader.close()


class VisitorPresence:
    """``PresenceView`` over the widget hub. ``online(visitor)`` and ``away_for`` come
    from the hub; ``origins`` are the library's sites (empty: every page is shown)."""

    def __init__(self, online: Callable[[str], bool], away_for: Callable[[str, float], float],
                 *, origins: Sequence[str] = (), cities: CityLookup | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self._online = online
        self._away_for = away_for
        self._origins = frozenset(o for o in map(_origin, origins) if o)
        self._cities = cities
        self._clock = clock
        self._here: dict[str, PresentVisitor] = {}
        self._labels: dict[str, str] = {}  # label -> visitor
        self._shared: dict[str, str] = {}
        self._arrivals = 0
        self._beacons: dict[str, tuple[float, str]] = {}  # visitor -> (kept until, page)

    def arrive(self, visitor: str, page: PageInfo, referrer: Any = "") -> None:
        """A ``hello``: the visitor is here, on ``page``."""
        now = self._clock()
        self._arrivals += 1
        if self._arrivals % _SWEEP == 0:  # HTTP-fallback visitors leave without a close
            self._sweep(now)
        before = self._here.get(visitor)
        label = before.label if before else self._label(visitor)
        city = before.city if before else self._share(
            self._cities.city(page.ip) if self._cities and page.ip else "")
        url = self._url(page.url)
        self._here[visitor] = PresentVisitor(
            label=label, visitor=visitor, url=url, title=_plain(page.title, 200) if url else "",
            referrer_host=self._share(referrer_host(referrer)),
            user_agent=self._share(page.user_agent), language=self._share(page.language),
            city=city, page_since=now, arrived=before.arrived if before else now)

    def moved(self, visitor: str, url: Any, title: Any) -> None:
        """A ``page`` frame: the visitor opened another page of the site."""
        before = self._here.get(visitor)
        if before is None:
            return
        shown = self._url(url if isinstance(url, str) else "")
        self._here[visitor] = replace(before, url=shown, page_since=self._clock(),
                                       title=_plain(str(title or ""), 200) if shown else "")

    def beacon(self, visitor: str, page: PageInfo, referrer: Any, lapse: float) -> None:
        """The loader's beacon (beacon.py): here, on ``page``, for ``lapse`` seconds more,
        without the chat open; a new address is a move, the same one keeps its time."""
        before = self._here.get(visitor)
        if before is None:
            self.arrive(visitor, page, referrer)
        elif self._beacons.get(visitor, (0.0, page.url))[1] != page.url:
            self.moved(visitor, page.url, page.title)
        self._beacons[visitor] = (self._clock() + lapse, page.url)

    def leave(self, visitor: str) -> None:
        self._beacons.pop(visitor, None)
        gone = self._here.pop(visitor, None)
        if gone is not None:
            self._labels.pop(gone.label, None)

    def visitors(self) -> Sequence[PresentVisitor]:
        self._sweep(self._clock())
        return sorted(self._here.values(), key=lambda v: v.arrived, reverse=True)

    def find(self, label: str) -> PresentVisitor | None:
        visitor = self._labels.get(label.strip().lower())
        if visitor is None or not self._still_here(visitor, self._clock()):
            return None
        return self._here.get(visitor)

    def __len__(self) -> int:
        return len(self._here)

    def _sweep(self, now: float) -> None:
        for visitor in [v for v in self._here if not self._still_here(v, now)]:
            self.leave(visitor)

    def _still_here(self, visitor: str, now: float) -> bool:
        """Connected, polling, or only just said hello (its socket is attached after
        the welcome is worked out, so a sweep meanwhile must not drop it)."""
        record = self._here.get(visitor)
        return (self._online(visitor) or self._away_for(visitor, now) < _AWAY
                or self._beacons.get(visitor, (0.0, ""))[0] > now
                or (record is not None and now - record.page_since < _AWAY))

    def _label(self, visitor: str) -> str:
        """"v-7f3a": four hex digits of a hash of the visitor id, longer on a clash."""
        digest = hashlib.blake2b(visitor.encode(), digest_size=8).hexdigest()
        for size in (4, 6, 8, 12, 16):
            label = f"v-{digest[:size]}"
            if self._labels.setdefault(label, visitor) == visitor:
                return label
        self._labels[f"v-{visitor}"] = visitor  # 64 bits clashed: the id itself, once
        return f"v-{visitor}"

    def _url(self, url: str) -> str:
        """The page's address, kept only on the library's own sites (as plain text)."""
        origin = _origin(url) if url else ""
        if not origin or (self._origins and origin not in self._origins):
            return ""
        return _plain(url, 500)

    def _share(self, value: str) -> str:
        """One string object for the many visitors with the same browser or language."""
        if not value:
            return ""
        shared = self._shared.get(value)
        if shared is not None:
            return shared
        if len(self._shared) < _SHARED:
            self._shared[value] = value
        return value


def greet_frame(message: Message, conversation: Conversation,
                message_json: dict[str, Any]) -> dict[str, Any]:
    """PROTOCOL.md's ``greet``: the widget opens with the librarian's first message."""
    return {"type": "greet",
            "conversation": {"id": conversation.id, "status": conversation.status.value,
                             "claimed_by": conversation.claimed_by,
                             "rating": conversation.rating,
                             "after_hours": conversation.after_hours},
            "message": message_json}


def referrer_host(referrer: Any) -> str:
    """The host of the page that led here, and nothing of its path or query."""
    if not isinstance(referrer, str) or not referrer:
        return ""
    try:
        host = urlsplit(referrer[:2000].strip()).hostname or ""
    except ValueError:
        return ""
    try:
        return host.encode("idna").decode("ascii")[:100]
    except UnicodeError:
        return plain_line(host)[:100]


def _origin(url: str) -> str:
    try:
        parts = urlsplit(url.strip().lower())
        port = parts.port
    except ValueError:
        return ""
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return ""
    default = {"http": 80, "https": 443}[parts.scheme]
    return f"{parts.scheme}://{parts.hostname}" + ("" if port in (None, default) else f":{port}")


def _plain(text: str, limit: int) -> str:
    """``plain_line`` of ``text``; the very string the session holds when already plain,
    so a visitor's page costs presence no second copy."""
    if _already_plain(text):
        return text[:limit]
    cleaned = plain_line(text)[:limit]
    return text if cleaned == text else cleaned


def _already_plain(text: str) -> bool:
    """Whether ``plain_line`` would give ``text`` back as it is, known without its walk
    over every character: all it takes out is non-ASCII, controls and runs of spaces,
    and printable ASCII has no whitespace but the space."""
    return text.isascii() and text.isprintable() and "  " not in text and text.strip() == text


def _name(place: Any) -> str:
    names = place.get("names") if isinstance(place, dict) else None
    return str(names.get("en", "")) if isinstance(names, dict) else ""



def accept_language(header: str) -> str:
    """The first language of an ``Accept-Language`` header ("id-ID,id;q=0.9" -> "id-ID"),
    for a widget whose ``hello`` carries no ``lang``."""
    first = header.split(",", 1)[0].split(";", 1)[0].strip()
    return first[:20] if first and first != "*" and all(
        c.isalnum() or c == "-" for c in first) else ""
