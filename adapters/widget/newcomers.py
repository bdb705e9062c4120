"""How many new visitors and new conversations one network may start in an hour.

A visitor id costs nothing to make (``hello`` without a token), and each one's first
message opens a topic in the desk. So a network (an IPv4 address, an IPv6 /64: see
``address.network_key``) has two budgets an hour: new identities, and conversations
opened or reopened. A patron already in an open conversation never pays the second.
Both are token buckets: ten minutes' worth at once, refilled evenly over the hour, so a
library's shared address is slowed, not shut out. Buckets are kept for the most
recently seen networks only (an LRU), so a flood from many addresses cannot grow them
without bound; a forgotten network starts full.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable

from adapters.widget.address import network_key
from adapters.widget.frames import FrameError
from routing.limits import TokenBucket
from routing.model import Contact, Conversation, Status

__all__ = ["NetworkBudget", "Newcomers"]

_NETWORKS = 50_000  # networks whose budget is remembered
_TALKING = 100_000  # visitors remembered as in an open conversation
_RECHECK = 300.0  # seconds before "in an open conversation" is read again (the desk closes)


class NetworkBudget:
    """``per_hour`` of something for each network; ``spend`` refuses past it."""

    def __init__(self, per_hour: int, what: str, *, remember: int = _NETWORKS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._per_hour = max(1, per_hour)
        # Ten minutes' worth at once: a flood's first wave stays small enough that the
        # desk's 20 posts a minute still carry the patrons already talking to it.
        self._burst = max(1.0, self._per_hour / 6)
        self._what = what
        self._remember = remember
        self._clock = clock
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    def spend(self, ip: str) -> None:
        """Take one for ``ip``'s network, or raise ``rate_limited`` with the seconds to
        wait until one is there."""
        now = self._clock()
        bucket = self._bucket(network_key(ip))
        if bucket.take(now):
            return
        wait = max(1, math.ceil(bucket.wait_time(now)))
        raise FrameError("rate_limited", f"Too many {self._what} from your network; please "
                         f"try again in {_spoken(wait)}.", retry_after=wait)

    def _bucket(self, key: str) -> TokenBucket:
        bucket = self._buckets.pop(key, None)
        if bucket is None:
            bucket = TokenBucket(rate=self._per_hour / 3600.0, capacity=self._burst)
        self._buckets[key] = bucket
        while len(self._buckets) > self._remember:
            self._buckets.popitem(last=False)
        return bucket


ConversationOf = Callable[[Contact], Awaitable[Conversation | None]]


class Newcomers:
    """The two budgets, and who is known to be talking already (they pay nothing)."""

    def __init__(self, visitors_per_hour: int, conversations_per_hour: int, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.visitors = NetworkBudget(visitors_per_hour, "new chats", clock=clock)
        self.conversations = NetworkBudget(conversations_per_hour, "new conversations",
                                           clock=clock)
        self._clock = clock
        self._talking: OrderedDict[str, float] = OrderedDict()  # visitor -> when seen

    def admit_visitor(self, ip: str) -> None:
        """A ``hello`` without a token is about to make a new visitor."""
        self.visitors.spend(ip)

    async def admit_message(self, contact: Contact, ip: str, current: ConversationOf) -> None:
        """A message is about to be accepted: free in an open conversation, else it
        opens (or reopens) one, which the network pays for once: the visitor counts as
        talking from the moment it paid, so its messages sent together pay once. Whether
        it is in an open conversation is read from the store at most every few minutes."""
        if self._knows(contact.address):
            return
        conversation = await current(contact)
        if self._knows(contact.address):  # a message sent alongside paid meanwhile
            return
        if conversation is None or conversation.status is not Status.OPEN:
            self.conversations.spend(ip)
        self.talking(contact.address)

    def _knows(self, visitor: str) -> bool:
        seen = self._talking.get(visitor)
        return seen is not None and self._clock() - seen < _RECHECK

    def talking(self, visitor: str) -> None:
        """The visitor has an open conversation now (seen in a welcome, or just opened)."""
        self._talking.pop(visitor, None)
        self._talking[visitor] = self._clock()
        while len(self._talking) > _TALKING:
            self._talking.popitem(last=False)


def _spoken(seconds: int) -> str:
    return f"{seconds} s" if seconds < 120 else f"{math.ceil(seconds / 60)} min"
