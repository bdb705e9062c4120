"""How many wrong passwords an account or an address may try before it must wait.

Counted in memory (one process serves the dashboard): failures within ``window``
seconds; at ``limit`` failures the key is locked until the oldest of them leaves the
window. A right password clears the account's count, not the address's.
"""

from __future__ import annotations

import math
from collections import deque

__all__ = ["LoginLimiter"]


class LoginLimiter:
    def __init__(self, *, per_account: int = 5, per_address: int = 20,
                 window: float = 15 * 60) -> None:
        self._limits = {"account": per_account, "address": per_address}
        self._window = window
        self._failures: dict[tuple[str, str], deque[float]] = {}

    def wait(self, account: str, address: str, now: float) -> float:
        """Seconds before another try is allowed for this account or address; 0: allowed."""
        return max(self._wait(("account", account.casefold()), now),
                   self._wait(("address", address), now))

    def failed(self, account: str, address: str, now: float) -> None:
        for key in (("account", account.casefold()), ("address", address)):
            self._recent(key, now).append(now)

    def succeeded(self, account: str) -> None:
        self._failures.pop(("account", account.casefold()), None)

    @staticmethod
    def minutes(seconds: float) -> int:
        """What a person is told: whole minutes, at least one."""
        return max(1, math.ceil(seconds / 60))

    def _wait(self, key: tuple[str, str], now: float) -> float:
        recent = self._recent(key, now)
        if len(recent) < self._limits[key[0]]:
            return 0.0
        return recent[-self._limits[key[0]]] + self._window - now

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        times = self._failures.setdefault(key, deque())
        while times and times[0] <= now - self._window:
            times.popleft()
        if len(self._failures) > 100_000:  # a flood of addresses: keep memory bounded
            self._failures = {k: v for k, v in self._failures.items() if v}
        return times
