"""Where a burst's drain time goes: the group's posts per window, and two floors.

``PostClock`` samples the bot's posts into the desk group while a run lasts (kind and
moment). ``timeline`` prints them window by window, with what the run left unused:
posts a window could have taken, and how late each window's first post came after the
previous window's first post plus a window. ``eager_floor`` replays the patrons'
sending moments through a perfect pacer (no margin, no latency, oldest waiting message
first, everything waiting for a topic coalesced into one post) that opens a topic and
posts its info card with the first message as soon as the window allows, as the bridge
does; desk_census.physical_minimum
is the floor of a schedule that knows the future (2 posts a patron, cards held back until
each patron's last message).
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter, deque
from dataclasses import dataclass, field

from adapters.telegram.emulator import BotApiEmulator
from tests.bench.desk_census import GROUP_PER_MINUTE, post_kind

__all__ = ["PostClock", "eager_floor", "timeline"]


@dataclass
class PostClock:
    """The bot's posts into ``group``: (seconds since ``start``, kind), every 20 ms."""

    emulator: BotApiEmulator
    group: int
    start: float
    posts: list[tuple[float, str]] = field(default_factory=list)
    _task: asyncio.Task[None] | None = None
    _others: int = 0  # posts of people in the group, skipped

    def begin(self) -> None:
        self._task = asyncio.create_task(self._watch())

    def end(self) -> None:
        if self._task is not None:
            self._task.cancel()
        self._sample()

    async def _watch(self) -> None:
        while True:
            self._sample()
            await asyncio.sleep(0.02)

    def _sample(self) -> None:
        messages = self.emulator.messages(self.group)
        at = time.monotonic() - self.start
        for message in messages[len(self.posts) + self._others:]:
            kind = post_kind(message)
            if kind is None:
                self._others += 1  # a librarian's, not the bot's
            else:
                self.posts.append((at, kind))


def timeline(posts: list[tuple[float, str]], window: float) -> list[str]:
    """One line per window of the group's limit, then what the run left unused: posts a
    window could have taken but did not (the last window aside), and how much later than
    the previous window's first post plus a window each first post went out (the pacing
    margin and the send's latency)."""
    lines, firsts, idle = [], [], 0
    last = posts[-1][0] if posts else 0.0
    windows = int(last // window) + 1
    for k in range(windows):
        here = [(at, kind) for at, kind in posts if k * window <= at < (k + 1) * window]
        kinds = Counter(kind for _, kind in here)
        span = f", {here[0][0]:.1f}-{here[-1][0]:.1f} s" if here else ""
        lines.append(f"window {k + 1} ({k * window:.0f}-{(k + 1) * window:.0f} s): "
                     f"{len(here)} posts ({kinds['topics']} topics, {kinds['patron']} patron, "
                     f"{kinds['notices']} notices){span}")
        if here:
            firsts.append(here[0][0])
        if k < windows - 1:
            idle += max(0, GROUP_PER_MINUTE - len(here))
    drift = [b - a - window for a, b in itertools.pairwise(firsts)]
    lines.append(f"left unused: {idle} posts in windows before the last; each window's first "
                 f"post {sum(drift) / max(1, len(drift)):.2f} s after the last one's and a "
                 f"window (total {sum(drift):.1f} s)")
    return lines


def eager_floor(moments: dict[int, list[float]], window: float) -> tuple[int, float]:
    """(posts, moment of the last) for a perfect pacer that opens each conversation as
    soon as it may: topic, then the card with all that waits, then one post per batch."""
    opened: set[int] = set()
    posted = dict.fromkeys(moments, 0)  # patron -> messages already in the desk
    booked: deque[float] = deque()
    now, count = 0.0, 0
    while any(posted[p] < len(ts) for p, ts in moments.items()):
        if len(booked) == GROUP_PER_MINUTE:
            now = max(now, booked.popleft() + window)
        waiting = {p: ts[posted[p]] for p, ts in moments.items()
                   if posted[p] < len(ts) and ts[posted[p]] <= now}
        if not waiting:
            now = min(ts[posted[p]] for p, ts in moments.items() if posted[p] < len(ts))
            continue
        patron = min(waiting, key=lambda p: waiting[p])
        if patron in opened:
            posted[patron] = sum(1 for t in moments[patron] if t <= now)
        opened.add(patron)
        booked.append(now)
        count += 1
    return count, now
