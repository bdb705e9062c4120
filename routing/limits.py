"""Token buckets: the one rate-limit rule, for patron floods and Telegram's budgets alike."""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = ["SendBudget", "TokenBucket", "WindowRule"]


@dataclass(slots=True)
class TokenBucket:
    """``capacity`` tokens, refilled at ``rate`` per second; time comes from the caller."""

    rate: float
    capacity: float
    tokens: float = -1.0
    stamp: float = 0.0

    def take(self, now: float, cost: float = 1.0) -> bool:
        self._refill(now)
        if self.tokens >= cost:
            self.tokens -= cost
            return True
        return False

    def wait_time(self, now: float, cost: float = 1.0) -> float:
        """Seconds until ``cost`` tokens are there (0 when they are now)."""
        self._refill(now)
        missing = cost - self.tokens
        return 0.0 if missing <= 0 else missing / self.rate

    def _refill(self, now: float) -> None:
        if self.tokens < 0:
            self.tokens, self.stamp = self.capacity, now
            return
        if now > self.stamp:
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now


@dataclass(frozen=True, slots=True)
class WindowRule:
    """At most ``limit`` sends in any ``span`` seconds (Telegram's limits have this shape)."""

    limit: int
    span: float


class SendBudget:
    """Plans sends against sliding-window limits shared by many lanes.

    ``reserve`` books the earliest moment every named window allows and returns it, so
    lanes waiting on one group are served in the order they asked (round-robin when
    each lane asks again after its send). ``pause`` honours a 429's ``retry_after`` for
    the windows it names and no others. A margin (a quarter second, an event loop's lag
    under load) keeps our clock and the server's from disagreeing at a window's edge.
    """

    def __init__(self, rules: dict[str, WindowRule], margin: float = 0.25) -> None:
        self._rules = rules
        self._margin = margin
        self._booked: dict[str, list[float]] = {}
        self._paused: dict[str, float] = {}

    def rule_for(self, key: str) -> WindowRule | None:
        return self._rules.get(key.partition(":")[0])

    def set_rule(self, kind: str, rule: WindowRule) -> None:
        """Change the limit for every key of ``kind`` ("group", "bot" …) from now on."""
        self._rules = {**self._rules, kind: rule}

    def snapshot(self, now: float) -> dict[str, list[float]]:
        """Sends booked up to ``now`` that still count in a window, and the pauses.

        Saved before each send so that a restarted process starts with the windows
        Telegram still remembers, instead of a fresh budget that earns a 429.
        """
        booked: dict[str, list[float]] = {}
        for key, times in self._booked.items():
            rule = self.rule_for(key)
            if rule is None:
                continue
            recent = [t for t in times if now - rule.span - self._margin < t <= now]
            if recent:
                booked[key] = recent
        paused = {f"!{key}": [until] for key, until in self._paused.items() if until > now}
        return {**booked, **paused}

    def restore(self, saved: Mapping[str, Sequence[float]]) -> None:
        """Book again what :meth:`snapshot` saved (a restart); unknown keys are kept too."""
        for key, times in saved.items():
            if key.startswith("!"):
                self.pause((key[1:],), max(times, default=0.0))
                continue
            booked = self._booked.setdefault(key, [])
            for t in times:
                bisect.insort(booked, float(t))

    def reserve(self, keys: tuple[str, ...], now: float) -> float:
        """Book one send now or later; a key named twice costs two (a topic plus a post)."""
        cost = Counter(keys)
        at = max([now, *(self._paused.get(k, 0.0) for k in cost)])
        moved = True
        while moved:  # each key's earliest moment may push another key's later
            moved = False
            for key, n in cost.items():
                earliest = self._earliest(key, now, at, n)
                if earliest > at:
                    at, moved = earliest, True
        for key, n in cost.items():
            if self.rule_for(key) is not None:
                for _ in range(n):
                    bisect.insort(self._booked.setdefault(key, []), at)
        return at

    def release(self, keys: tuple[str, ...], at: float) -> None:
        """Give back a booking made by :meth:`reserve` for ``at`` (it will not be used)."""
        for key in keys:
            booked = self._booked.get(key)
            if booked:
                i = bisect.bisect_left(booked, at)
                if i < len(booked) and booked[i] == at:
                    del booked[i]

    def move(self, keys: tuple[str, ...], at: float, to: float) -> None:
        """Count a booking made for ``at`` at ``to`` instead (when the send really ended)."""
        if to <= at or not keys:
            return
        self.release(keys, at)
        for key in keys:
            if self.rule_for(key) is not None:
                bisect.insort(self._booked.setdefault(key, []), to)

    def pause(self, keys: tuple[str, ...], until: float) -> None:
        for key in keys:
            self._paused[key] = max(self._paused.get(key, 0.0), until)

    def blocked_until(self, keys: tuple[str, ...]) -> float:
        return max([0.0, *(self._paused.get(k, 0.0) for k in keys)])

    def _earliest(self, key: str, now: float, at: float, cost: int) -> float:
        """The first moment >= ``at`` a booking fits every window of ``key``'s rule."""
        rule = self.rule_for(key)
        if rule is None:
            return at
        booked = self._booked.setdefault(key, [])
        span = rule.span + self._margin
        # Bookings that can no longer share a window with anything from now on.
        del booked[: bisect.bisect_right(booked, now - span)]
        candidates = [at] + [b + span for b in booked if b + span > at]
        for t in sorted(candidates):
            if self._fits(booked, t, rule.limit - cost + 1, span):
                return t
        return max(candidates)  # unreachable: after the last booking's span all fit

    @staticmethod
    def _fits(booked: list[float], t: float, limit: int, span: float) -> bool:
        """Would a booking at ``t`` keep every window (end - span, end] within ``limit``?"""
        ends = [t, *booked[bisect.bisect_left(booked, t):bisect.bisect_right(booked, t + span)]]
        for end in ends:
            count = bisect.bisect_right(booked, end) - bisect.bisect_right(booked, end - span)
            if count + 1 > limit:  # +1: the booking at t lies in every window checked
                return False
        return True
