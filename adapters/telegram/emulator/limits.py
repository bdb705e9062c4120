"""Telegram's flood limits for bots, deterministic enough to test against.

Published limits: about 30 messages a second overall, about one a second to a private
chat (short bursts pass), 20 a minute to a group. A send over a limit is refused with
429 and ``retry_after``: the whole seconds until the limit lets it through.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["RateLimiter", "RateLimits"]


@dataclass(frozen=True, slots=True)
class RateLimits:
    bot_per_second: int = 30
    private_per_second: float = 1.0
    private_burst: int = 3
    group_per_minute: int = 20


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    """Sliding windows for the bot and each group, a token bucket for each private chat."""

    def __init__(self, limits: RateLimits, clock: Callable[[], float]) -> None:
        self.limits = limits
        self._clock = clock
        self._bot: deque[float] = deque()
        self._groups: dict[int, deque[float]] = {}
        self._private: dict[int, _Bucket] = {}

    def retry_after(self, chat_id: int, private: bool) -> int | None:
        """Seconds to wait before this chat may get another message, or ``None`` if now."""
        now = self._clock()
        waits = [_window_wait(self._bot, self.limits.bot_per_second, 1.0, now)]
        if private:
            bucket = self._refill(chat_id, now)
            if bucket.tokens < 1:
                waits.append((1 - bucket.tokens) / self.limits.private_per_second)
        else:
            window = self._groups.setdefault(chat_id, deque())
            waits.append(_window_wait(window, self.limits.group_per_minute, 60.0, now))
        worst = max(waits)
        return max(1, math.ceil(worst)) if worst > 0 else None

    def record(self, chat_id: int, private: bool) -> None:
        now = self._clock()
        self._bot.append(now)
        if private:
            self._refill(chat_id, now).tokens -= 1
        else:
            self._groups.setdefault(chat_id, deque()).append(now)

    def _refill(self, chat_id: int, now: float) -> _Bucket:
        cap = float(self.limits.private_burst)
        bucket = self._private.setdefault(chat_id, _Bucket(cap, now))
        bucket.tokens = min(cap, bucket.tokens + (now - bucket.at) * self.limits.private_per_second)
        bucket.at = now
        return bucket


def _window_wait(window: deque[float], limit: int, span: float, now: float) -> float:
    while window and window[0] <= now - span:
        window.popleft()
    if len(window) < limit:
        return 0.0
    return window[len(window) - limit] + span - now
