"""The outbox's side of Telegram's budget: waiting for a send's turn, settling a send
with the budget when Telegram answered, and ``spend`` for calls made outside the outbox
(a desk command's answer in General), which wait in the same windows.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable
from functools import lru_cache

from routing.blocks import ip_range, parsed_address
from routing.limits import SendBudget
from routing.model import Conversation
from routing.outbox_rules import Lane
from routing.ports import Clock, PermanentFailure, TemporaryFailure
from routing.turns import Turns

__all__ = ["BudgetGate", "party_of"]

_SPEND_TRIES = 3  # a call outside the outbox waits out this many 429s, then gives up


def party_of(conversation: Conversation | None) -> str:
    """Who a send speaks for in the group's fair share: the patron's address (an IPv6
    /64, as the widget's per-network limits count it), else the conversation itself; ""
    (no share) for a call a librarian waits on."""
    if conversation is None:
        return ""
    party = _party_at(conversation.page.ip) if conversation.page.ip else None
    return f"conversation {conversation.id}" if party is None else party


@lru_cache(maxsize=4096)
def _party_at(ip: str) -> str | None:
    """An address's party (asked before every send: parsed once per address)."""
    address = parsed_address(ip)
    if address is None:
        return None
    return str(address) if address.version == 4 else ip_range(ip)


class BudgetGate:
    def __init__(self, budget: SendBudget, clock: Clock,
                 sleep: Callable[[float], Awaitable[None]], counts: dict[str, int]) -> None:
        self._budget = budget
        self._clock = clock
        self._sleep = sleep
        self._counts = counts  # the ledger's: budget_waits, rate_limited
        self.turns = Turns(budget, clock, sleep)
        self.waiting: set[Lane] = set()  # lanes asleep until their budget allows
        self.crowd: Counter[str] = Counter()  # those lanes by destination

    async def wait(self, lane: Lane, keys: tuple[str, ...], conversation: Conversation | None,
                   notice: bool = False) -> tuple[bool, float]:
        """Wait for the send's turn (``Turns``: a conversation the desk knows goes before
        new ones, as does a call with no conversation: a librarian waits for its answer);
        returns whether the budget was short (it had to wait) and the moment booked. A
        ``notice`` (a reminder, a claim line) is for librarians about a conversation they
        see already: it waits in arrival order, behind patrons the desk has not seen yet
        who asked before it (a burst's reminders would otherwise hold their topics back)."""
        now = self._clock.now()
        self.waiting.add(lane)
        crowd, destination = self.crowd, lane[1]
        crowd[destination] = crowd.get(destination, 0) + 1  # Counter's own += is slower
        try:
            known = conversation is None or (not notice and (
                conversation.desk_thread is not None or conversation.first_response_at > 0))
            at = await self.turns.book(keys, known, now, party_of(conversation))
            waited = at > now
            while True:
                if self._budget.blocked_until(keys) > at:
                    # A 429 came while we waited: the booked moment is void, and sending
                    # at the pause's end with everyone else would overfill the window.
                    self._budget.release(keys, at)
                    at = self._budget.reserve(keys, self._clock.now())
                wait = at - self._clock.now()
                if wait <= 0:
                    break
                await self._sleep(wait)
                waited = True
        finally:
            self.waiting.discard(lane)
            left = crowd[destination] - 1
            if left:
                crowd[destination] = left
            else:
                crowd.pop(destination)
        if waited:
            self._counts["budget_waits"] += 1
        return waited, at

    def spent(self, booked: tuple[tuple[str, ...], float], started: float,
               failure: Exception | None) -> None:
        """Settle a booked call with the budget: Telegram counted it somewhere between
        asking and answering, so it counts at the answer (our windows then stay behind
        Telegram's however slow the call); a 429 pauses the chat it names for everyone."""
        keys, at = booked
        now = self._clock.now()
        self._budget.move(keys, at, now)
        if failure is None and keys:
            self._budget.observe(now - started)
        if isinstance(failure, TemporaryFailure) and failure.retry_after is not None:
            self._counts["rate_limited"] += 1
            # Only the chat it names: a group's 429 must not hold up private replies.
            chats = tuple(k for k in keys if ":" in k)
            self._budget.pause(chats, now + failure.retry_after)

    async def spend(self, keys: tuple[str, ...], call: Callable[[], Awaitable[None]]) -> None:
        """``routing.ports.BudgetedCalls``: a call outside the outbox (a desk command's
        answer in General) waits for its turn in the same windows as the outbox's sends,
        and a 429 on it pauses the chat for them too. A 429 is waited out and the call
        made again, a few times; any other failure is raised."""
        for attempt in range(1, _SPEND_TRIES + 1):
            _, at = await self.wait(("", f"call {id(call)}"), keys, None)
            started = self._clock.now()
            try:
                await call()
            except (TemporaryFailure, PermanentFailure) as exc:
                self.spent((keys, at), started, exc)
                if (not isinstance(exc, TemporaryFailure) or exc.retry_after is None
                        or attempt == _SPEND_TRIES):
                    raise
                continue
            self.spent((keys, at), started, None)
            return
