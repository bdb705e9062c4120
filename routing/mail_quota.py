"""How often the library mails one address unasked: at most so many a day, kept across
restarts.

A form on the library's website makes the library send mail (the offline form's
acknowledgement, an address confirmation code). Without a quota anyone can make the
library bomb an address of their choosing; RFC 3834 asks the same of automatic replies
("not more than once within a period of several days" to one sender).
"""

from __future__ import annotations

import asyncio
import json
from typing import Protocol

from routing.ports import Clock

__all__ = ["DAY", "MailQuota", "StatePort"]

DAY = 86400.0
_KEY = "mail-quota:"
_STRIPES = 64


class StatePort(Protocol):
    """The store's key-value state (``routing.ports.Store.get_state/set_state``)."""

    async def get_state(self, key: str) -> str | None: ...
    async def set_state(self, key: str, value: str) -> None: ...


class MailQuota:
    """``take(kind, address, per_day)``: whether one more mail of ``kind`` may go to
    ``address`` now; a yes is recorded before it is answered, so parallel callers
    never both pass the last place."""

    def __init__(self, state: StatePort, clock: Clock) -> None:
        self._state = state
        self._clock = clock
        self._locks = [asyncio.Lock() for _ in range(_STRIPES)]

    async def take(self, kind: str, address: str, per_day: int, window: float = DAY) -> bool:
        key = f"{_KEY}{kind}:{address.strip().lower()}"
        async with self._locks[hash(key) % _STRIPES]:
            now = self._clock.now()
            sent = [at for at in _times(await self._state.get_state(key)) if now - at < window]
            if len(sent) >= per_day:
                return False
            await self._state.set_state(key, json.dumps([*sent, now]))
            return True


def _times(raw: str | None) -> list[float]:
    try:
        values = json.loads(raw) if raw else []
    except ValueError:
        return []  # an unreadable record counts as nothing sent
    if not isinstance(values, list):
        return []
    return [float(v) for v in values if isinstance(v, int | float)]
