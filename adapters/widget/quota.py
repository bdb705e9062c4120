"""How many bytes of files one visitor, and one network address, may upload in a day.

Four fresh identities can each upload at the full rate; only a byte quota per address
keeps them from filling the disk (issue 11 item 7: 1.17 GB in ten seconds); an IPv6
address counts as its /64, which one subscriber holds whole. Each upload
is metered as it streams: its bytes count against both quotas while it is read, so
parallel uploads cannot all pass the last megabytes, and are recorded (``charge``) in
the store's state once the form is read, so a restart forgets nothing. A refused form
costs nothing: its bytes were never kept. Days are UTC days.

The counts are cached in memory in front of the store, which is right while one process
owns the store (SQLite); scaled out, each process keeps its own in-flight counts.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass

from adapters.files import human_size
from adapters.widget.frames import FrameError
from routing.mail_quota import DAY, StatePort
from routing.ports import Clock

__all__ = ["QuotaExceeded", "QuotaMeter", "QuotaPolicy", "UploadQuota"]

_KEY = "upload-bytes:"


class QuotaExceeded(FrameError):
    """An upload past a day's quota: 429 when nothing is left, 413 when the files are
    larger than what is left."""

    def __init__(self, message: str, *, status: int, retry_after: int) -> None:
        super().__init__("quota", message, retry_after=retry_after)
        self.status = status


@dataclass(frozen=True, slots=True)
class QuotaPolicy:
    """Bytes a day; 0 means no quota."""

    per_visitor: int = 200 * 1024 * 1024
    per_ip: int = 1024 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class _Scope:
    key: str  # the state key
    limit: int
    who: str  # "you" or "your network", for the message


class UploadQuota:
    def __init__(self, state: StatePort, clock: Clock, policy: QuotaPolicy) -> None:
        self._state = state
        self._clock = clock
        self._policy = policy
        self._used: dict[str, tuple[int, int]] = {}  # key: (day, bytes recorded)
        self._inflight: dict[str, int] = {}  # key: bytes of uploads being read

    async def meter(self, visitor: str, ip: str) -> QuotaMeter:
        """A meter for one upload; ``QuotaExceeded`` (429) when either quota is used up."""
        scopes = [_Scope(f"{_KEY}visitor:{visitor}", self._policy.per_visitor, "you")]
        if ip:
            scopes.append(_Scope(f"{_KEY}ip:{_network(ip)}", self._policy.per_ip,
                                 "your network"))
        scopes = [s for s in scopes if s.limit > 0]
        for scope in scopes:
            await self._load(scope.key)
        meter = QuotaMeter(self, tuple(scopes))
        meter.add(0)
        return meter

    def left(self, scope: _Scope) -> int:
        used = self._used.get(scope.key, (self._today(), 0))[1]
        return scope.limit - used - self._inflight.get(scope.key, 0)

    def retry_after(self) -> int:
        return max(1, int((self._today() + 1) * DAY - self._clock.now()))

    def hold(self, key: str, size: int) -> None:
        self._inflight[key] = self._inflight.get(key, 0) + size
        if self._inflight[key] <= 0:
            del self._inflight[key]

    async def record(self, key: str, size: int) -> None:
        """Move ``size`` held bytes to today's record, in memory at once, then stored."""
        self.hold(key, -size)
        day, used = self._used.get(key, (self._today(), 0))
        if day != self._today():
            day, used = self._today(), 0
        self._used[key] = (day, used + size)
        await self._state.set_state(key, json.dumps([day, used + size]))

    async def _load(self, key: str) -> None:
        today = self._today()
        if key in self._used and self._used[key][0] == today:
            return
        try:
            day, used = json.loads(await self._state.get_state(key) or "[0, 0]")
            self._used[key] = (today, int(used) if int(day) == today else 0)
        except (ValueError, TypeError):  # an unreadable record counts as nothing sent
            self._used[key] = (today, 0)

    def _today(self) -> int:
        return int(self._clock.now() // DAY)


class QuotaMeter:
    """One upload's bytes: ``add`` them as they arrive, then ``charge`` (the form was
    read) or ``release`` (it was refused)."""

    def __init__(self, quota: UploadQuota, scopes: tuple[_Scope, ...]) -> None:
        self._quota = quota
        self._scopes = scopes
        self.size = 0

    def add(self, size: int) -> None:
        for scope in self._scopes:
            left = self._quota.left(scope)
            if left <= 0 and self.size == 0:
                raise QuotaExceeded(
                    f"{_who(scope)} sent {human_size(scope.limit)} of files today, the most "
                    "the library takes in a day; please send more tomorrow.", status=429,
                    retry_after=self._quota.retry_after())
            if size > left:
                raise QuotaExceeded(
                    f"These files are larger than the {human_size(max(0, left + self.size))}"
                    f" {scope.who} may still send today (the limit is "
                    f"{human_size(scope.limit)} a day).", status=413,
                    retry_after=self._quota.retry_after())
        for scope in self._scopes:
            self._quota.hold(scope.key, size)
        self.size += size

    async def charge(self) -> None:
        size, self.size = self.size, 0
        for scope in self._scopes:
            await self._quota.record(scope.key, size)

    def release(self) -> None:
        for scope in self._scopes:
            self._quota.hold(scope.key, -self.size)
        self.size = 0


def _network(ip: str) -> str:
    """The address a quota counts: an IPv6 host's /64, which one subscriber holds whole
    (a new address in it costs nothing), an IPv4 address as it is."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip[:64]
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def _who(scope: _Scope) -> str:
    return "You have" if scope.who == "you" else "Your network has"
