"""Token buckets: the one rate-limit rule, for patron floods and Telegram's budgets alike."""

from __future__ import annotations

import bisect
import math
from collections import Counter, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = ["SendBudget", "TokenBucket", "WindowRule"]

_MAX_LATENCY = 2.0  # seconds a send may count as latency when widening the margin
_REMEMBERED = 4096  # keys (and sets of keys) whose rule and gate are kept at hand


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
    under load) keeps our clock and the server's from disagreeing at a window's edge;
    it grows by the slowest recent send (``observe``), because a send is counted by
    Telegram somewhere between asking and answering: from Indonesia a call to
    api.telegram.org can take 300 ms, and a quarter second alone then earns 429s.
    """

    def __init__(self, rules: dict[str, WindowRule], margin: float = 0.25) -> None:
        self._rules = rules
        self._base_margin = margin
        self._margin = margin
        self._booked: dict[str, list[float]] = {}
        self._paused: dict[str, float] = {}
        self._durations: deque[float] = deque(maxlen=64)
        # Asked several times per send, of the same few keys: remembered until set_rule.
        self._rule_of: dict[str, WindowRule | None] = {}
        self._gate_of: dict[tuple[str, ...], str | None] = {}
        self._cost_of: dict[tuple[str, ...], dict[str, int]] = {}  # never changed once made

    def observe(self, duration: float) -> None:
        """A send took ``duration`` seconds from asking to answer; widen the margin by the
        slowest of the recent ones (at most two seconds: a hung call is not latency)."""
        self._durations.append(min(max(duration, 0.0), _MAX_LATENCY))
        self._margin = self._base_margin + max(self._durations)

    def rule_for(self, key: str) -> WindowRule | None:
        try:
            return self._rule_of[key]
        except KeyError:
            if len(self._rule_of) > _REMEMBERED:  # a key per patron chat: keep it bounded
                self._rule_of, self._gate_of = {}, {}
            rule = self._rule_of[key] = self._rules.get(key.partition(":")[0])
            return rule

    def set_rule(self, kind: str, rule: WindowRule) -> None:
        """Change the limit for every key of ``kind`` ("group", "bot" …) from now on."""
        self._rules = {**self._rules, kind: rule}
        self._rule_of, self._gate_of = {}, {}

    def snapshot(self, now: float) -> dict[str, list[float]]:
        """Sends booked up to ``now`` that still count in a window, and the pauses.

        Saved before each send so that a restarted process starts with the windows
        Telegram still remembers, instead of a fresh budget that earns a 429.
        """
        booked: dict[str, list[float]] = {}
        for key, times in self._booked.items():
            recent = self._recent(key, times, now)
            if recent:
                booked[key] = recent
        return {**booked, **self._pauses(now)}

    def tally(self, now: float, points: int = 64) -> dict[str, list[list[float]]]:
        """:meth:`snapshot` as ``[moment, sends]`` pairs, at most about ``points`` a key.

        A key with more recent sends than that is counted on a grid of ``span / points``:
        each send is moved later to its cell's end (never past ``now``), which can only
        hold a window longer, never free it early. So the note written before every
        send stays small however many sends a lifted limit lets through.
        """
        tallied: dict[str, list[list[float]]] = {}
        for key, times in self._booked.items():
            rule = self.rule_for(key)
            if rule is None:
                continue
            lo = bisect.bisect_right(times, now - rule.span - self._margin)
            hi = bisect.bisect_right(times, now)
            if hi - lo > points:
                tallied[key] = _on_grid(times, lo, hi, (rule.span + self._margin) / points, now)
            elif hi > lo:
                tallied[key] = [[t, float(n)] for t, n in Counter(times[lo:hi]).items()]
        tallied.update({k: [[t[0], 1.0]] for k, t in self._pauses(now).items()})
        return tallied

    def restore(self, saved: Mapping[str, Sequence[float | Sequence[float]]]) -> None:
        """Book again what :meth:`snapshot` or :meth:`tally` saved (a restart); unknown
        keys are kept too."""
        for key, entries in saved.items():
            times = [float(e) if isinstance(e, (int, float)) else float(e[0]) for e in entries]
            if key.startswith("!"):
                self.pause((key[1:],), max(times, default=0.0))
                continue
            booked = self._booked.setdefault(key, [])
            for entry, t in zip(entries, times, strict=True):
                n = 1 if isinstance(entry, (int, float)) else int(entry[1])
                for _ in range(n):
                    bisect.insort(booked, t)

    def _recent(self, key: str, times: list[float], now: float) -> list[float]:
        rule = self.rule_for(key)
        if rule is None:
            return []
        lo = bisect.bisect_right(times, now - rule.span - self._margin)
        return times[lo:bisect.bisect_right(times, now)]

    def _pauses(self, now: float) -> dict[str, list[float]]:
        return {f"!{key}": [until] for key, until in self._paused.items() if until > now}

    def reserve(self, keys: tuple[str, ...], now: float) -> float:
        """Book one send now or later; a key named twice costs two (a topic plus a post)."""
        return self.book(keys, self._plan(self._cost(keys), now))

    def book(self, keys: tuple[str, ...], at: float) -> float:
        """Book one send at ``at``: what :meth:`earliest` (no ``spare``) just said, with
        nothing booked since (``Turns`` asks, then books, in one step)."""
        for key, n in self._cost(keys).items():
            if self.rule_for(key) is not None:
                booked = self._booked.setdefault(key, [])
                for _ in range(n):
                    bisect.insort(booked, at)
        return at

    def earliest(self, keys: tuple[str, ...], now: float, spare: int = 0) -> float:
        """The moment :meth:`reserve` would book now, without booking it; with ``spare``,
        the first moment that also leaves that many sends of room on the scarcest key."""
        cost = self._cost(keys)
        if spare and (gate := self.gate(keys)) is not None:
            cost = {**cost, gate: cost.get(gate, 0) + spare}
        return self._plan(cost, now)

    def _cost(self, keys: tuple[str, ...]) -> dict[str, int]:
        """How many of each key ``keys`` names; asked twice a send, of the same few tuples."""
        cost = self._cost_of.get(keys)
        if cost is None:
            if len(self._cost_of) > _REMEMBERED:
                self._cost_of = {}
            cost = self._cost_of[keys] = dict(Counter(keys))
        return cost

    def gate(self, keys: tuple[str, ...]) -> str | None:
        """The scarcest of ``keys`` (fewest sends a second): where lanes queue for their
        turn instead of booking far ahead. None when no key has a limit."""
        try:
            return self._gate_of[keys]
        except KeyError:
            pass
        limited = [(rule.limit / rule.span, key) for key in keys
                   if (rule := self.rule_for(key)) is not None]
        if len(self._gate_of) > _REMEMBERED:
            self._gate_of = {}
        gate = self._gate_of[keys] = min(limited)[1] if limited else None
        return gate

    def _plan(self, cost: Mapping[str, int], now: float) -> float:
        at = max([now, *(self._paused.get(k, 0.0) for k in cost)]) if self._paused else now
        moved = True
        while moved:  # each key's earliest moment may push another key's later
            moved = False
            for key, n in cost.items():
                earliest = self._earliest(key, now, at, n)
                if earliest > at:
                    at, moved = earliest, True
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
        if not self._paused:  # the usual case: no 429 was ever heard
            return 0.0
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
        # Fewer bookings within a span either side than the room left: every window
        # holding ``at`` has room (the usual case, and the only cheap one).
        near = bisect.bisect_right(booked, at + span) - bisect.bisect_right(booked, at - span)
        if near + cost <= rule.limit:
            return at
        # A window frees up when a booking in it leaves: try the moments the bookings
        # of the span before ``at`` leave (at most a window's worth), then the first
        # moment after the last booking. Bounded whatever the backlog: gaps further
        # out (a released booking) are left unused, which only ever sends later.
        room = rule.limit - cost + 1
        last = self._after_last(booked, at, room, span)
        if self._fits(booked, at, room, span):
            return at
        lo = bisect.bisect_right(booked, at - span)
        for b in booked[lo:lo + 2 * rule.limit]:
            if at < b + span < last and self._fits(booked, b + span, room, span):
                return b + span
        return last

    @staticmethod
    def _after_last(booked: list[float], at: float, room: int, span: float) -> float:
        """The first moment >= ``at`` and >= every booking whose window holds fewer than
        ``room`` bookings: nothing lies after it, so that window is the fullest."""
        t = max(at, booked[-1]) if booked else at
        room = max(1, room)  # a send costing more than the limit goes alone
        if len(booked) >= room:
            leaving = booked[len(booked) - room]
            t = max(t, leaving + span)
            while t - span < leaving:  # as a window is judged, not a rounding inside it
                t = math.nextafter(t, math.inf)
        return t

    @staticmethod
    def _fits(booked: list[float], t: float, limit: int, span: float) -> bool:
        """Would a booking at ``t`` keep every window (end - span, end] within ``limit``?"""
        ends = [t, *booked[bisect.bisect_left(booked, t):bisect.bisect_right(booked, t + span)]]
        for end in ends:
            count = bisect.bisect_right(booked, end) - bisect.bisect_right(booked, end - span)
            if count + 1 > limit:  # +1: the booking at t lies in every window checked
                return False
        return True


def _on_grid(
    times: list[float], lo: int, hi: int, cell: float, now: float
) -> list[list[float]]:
    """How many of ``times[lo:hi]`` fall in each ``cell``, each at its cell's end."""
    pairs: list[list[float]] = []
    end = math.ceil(times[lo] / cell) * cell
    start = lo
    while start < hi:
        stop = bisect.bisect_right(times, end, start, hi)
        if stop > start:
            pairs.append([min(end, now), float(stop - start)])
        start, end = stop, end + cell
    return pairs
