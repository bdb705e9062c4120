"""One browser tab's session, and every visitor's one rate budget.

A ``Session`` is who a socket, long-poll or HTTP call speaks for; ``Sessions`` opens
them (from a hello or a bearer token), says when a resume elsewhere made one stale, and
spends the visitor's one budget (``VisitorBudgets``) across all of them. Refused sends
are a flood's whole cost, so that answer is built without an exception or a JSON
encoder (``fast_refusal``): a refused send should cost about as little as reading it.
"""

from __future__ import annotations

import asyncio
import functools
import json
import math
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from adapters.widget.frames import FrameError
from adapters.widget.identity import VisitorIdentity
from routing.limits import TokenBucket
from routing.model import Channel, Contact, PageInfo

__all__ = ["Session", "Sessions", "VisitorBudgets"]

_VISITOR_BUDGETS = 100_000  # visitors whose rate budget is remembered


@dataclass
class Session:
    """One browser tab: who it is and where it is."""

    visitor: str
    page: PageInfo
    bucket: TokenBucket
    generation: int = 0  # of the token it was opened with; a resume makes it stale

    @functools.cached_property
    def contact(self) -> Contact:
        return Contact(Channel.WIDGET, self.visitor)


class VisitorBudgets:
    """Each visitor's budget of ``messages_per_minute``, remembered for the most recently
    seen visitors only (an LRU: a flood of identities cannot grow it); a forgotten
    visitor starts full."""

    def __init__(self, messages_per_minute: int, remember: int = _VISITOR_BUDGETS) -> None:
        self._per_minute = max(1, messages_per_minute)
        self._remember = remember
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    def bucket(self, visitor: str) -> TokenBucket:
        bucket = self._buckets.pop(visitor, None)
        if bucket is None:
            per_minute = self._per_minute
            bucket = TokenBucket(rate=per_minute / 60.0, capacity=max(5.0, per_minute / 6))
        self._buckets[visitor] = bucket
        while len(self._buckets) > self._remember:
            self._buckets.popitem(last=False)
        return bucket

    @staticmethod
    def take(session: Session) -> None:
        """Spend one of the session's budget; a ``rate_limited`` refusal when it is spent."""
        now = asyncio.get_running_loop().time()
        if not session.bucket.take(now):
            wait = _wait(session.bucket, now)
            raise FrameError("rate_limited", _too_fast(wait), retry_after=wait)

    @staticmethod
    def fast_refusal(session: Session, cid: str) -> str | None:
        """The ``rate_limited`` error frame (JSON text) a send with this ``cid`` would get
        now, or None while the budget has room (then nothing is spent here)."""
        now = asyncio.get_running_loop().time()
        if session.bucket.wait_time(now) <= 0:
            return None
        return f'{_refusal_head(_wait(session.bucket, now))}{json.dumps(cid)}}}'


def _wait(bucket: TokenBucket, now: float) -> int:
    return max(1, math.ceil(bucket.wait_time(now)))


def _too_fast(wait: int) -> str:
    return f"You are sending too fast; you can send again in {wait} s."


@functools.lru_cache(maxsize=256)
def _refusal_head(wait: int) -> str:
    """All of the refusal frame but its cid, as ``frames.refusal`` would write it."""
    frame: dict[str, Any] = {"type": "error", "code": "rate_limited",
                             "message": _too_fast(wait), "retry_after": wait}
    return json.dumps(frame)[:-1] + ', "cid": '


class Sessions:
    """Opens a visitor's sessions, each spending the visitor's one budget."""

    def __init__(self, identity: VisitorIdentity, messages_per_minute: int) -> None:
        self._identity = identity
        self.budgets = VisitorBudgets(messages_per_minute)

    def new(self, visitor: str, page: PageInfo, generation: int = 0) -> Session:
        """A Session of the visitor spending the visitor's one rate budget: a new hello,
        socket or HTTP call continues it, never refills it."""
        return Session(visitor, page, self.budgets.bucket(visitor), generation)

    async def bearer(self, token: str, page: PageInfo) -> Session | None:
        """The Session of an HTTP call's bearer token, None unless it is the visitor's
        current token."""
        verified = await self._identity.verify(token)
        if verified is None:
            return None
        visitor, generation = verified
        return self.new(visitor, page, generation)

    def superseded(self, session: Session) -> bool:
        """Whether a resume link opened elsewhere took this session's visitor."""
        return self._identity.superseded(session.visitor, session.generation)

    def check_current(self, session: Session) -> None:
        if self.superseded(session):
            raise FrameError("bad_token", "This chat was continued from an email link in "
                             "another browser; start a new chat here.")

    def spend(self, session: Session) -> None:
        """Spend an upload's budget before its form is read: a refused upload costs it
        too, and parallel uploads cannot all pass one check. ``send`` it ``paid``."""
        self.check_current(session)
        self.budgets.take(session)

    def refused_send(self, session: Session, frame: dict[str, Any]) -> str | None:
        """The answer (JSON text) ``PatronSteps.send`` would give this frame for a spent
        budget, found without running it; None when ``send`` must run (room in the
        budget, or a frame ``send`` refuses for another reason first)."""
        cid = frame.get("cid")
        if (not isinstance(cid, str) or not 0 < len(cid) <= 64
                or not isinstance(frame.get("text"), str) or frame.get("prechat") is not None
                or self.superseded(session)):
            return None
        return self.budgets.fast_refusal(session, cid)
