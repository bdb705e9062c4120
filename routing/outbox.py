"""The outbox rules and the delivery worker.

Every outbound message is a durable ``Delivery`` row before anything is sent. The worker
sends due rows through the sender of their destination, keeps order within each lane
(one conversation towards one destination), retries temporary failures with exponential
backoff and jitter, and reports what finally failed instead of dropping it.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace

from routing.limits import SendBudget
from routing.model import (
    Channel,
    Conversation,
    Delivery,
    DeliveryKind,
    Direction,
    Message,
    Patron,
    new_id,
)
from routing.ports import Clock, Link, PermanentFailure, Sender, Store, TemporaryFailure

__all__ = ["DeliveryWorker", "RetryPolicy"]

log = logging.getLogger(__name__)

Lane = tuple[str, str]  # (conversation id, destination)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    base: float = 1.0
    factor: float = 2.0
    cap: float = 300.0
    max_attempts: int = 12  # about half an hour of trying with the defaults
    rand: Callable[[], float] = random.random

    def delay(self, attempts: int, retry_after: float | None) -> float:
        """Seconds to wait before attempt ``attempts + 1``.

        A server's ``retry_after`` is obeyed exactly (waiting less earns another 429,
        waiting more wastes the budget); otherwise exponential backoff with jitter in
        [0.5, 1] of the ceiling, so a crowd of retries spreads out.
        """
        if retry_after is not None:
            return max(0.0, retry_after)
        exponent = min(max(0, attempts - 1), 64)  # the cap applies long before; no overflow
        ceiling = min(self.cap, self.base * self.factor**exponent)
        return ceiling * (0.5 + self.rand() / 2)


def _utc_stamp(at: float) -> str:
    return time.strftime("%H:%M", time.gmtime(at))


def _budget_keys(
    sender: Sender, delivery: Delivery, conversation: Conversation, patron: Patron
) -> tuple[str, ...]:
    """The rate-limit windows a send uses; senders without limits (the widget) have none."""
    keys = getattr(sender, "budget_keys", None)
    return tuple(keys(delivery, conversation, patron)) if keys is not None else ()


class DeliveryWorker:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        senders: Mapping[Channel, Sender],
        *,
        policy: RetryPolicy | None = None,
        concurrency: int = 64,
        batch: int = 1000,
        idle_poll: float = 1.0,
        budget: SendBudget | None = None,
        stamp: Callable[[float], str] = _utc_stamp,
        coalesce_limit: int = 3800,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._store = store
        self._clock = clock
        self._senders = senders
        self._policy = policy or RetryPolicy()
        self._concurrency = asyncio.Semaphore(concurrency)
        self._batch = batch
        self._idle_poll = idle_poll
        self._wakeup = asyncio.Event()
        self._busy: dict[Lane, asyncio.Task[None]] = {}
        self._stopping = False
        self._budget = budget or SendBudget({})
        self._stamp = stamp
        self._coalesce_limit = coalesce_limit
        self._sleep = sleep

    def wake(self) -> None:
        """Called when something was enqueued, so it goes out now and not at the next poll."""
        self._wakeup.set()

    async def run(self) -> None:
        while not self._stopping:
            self._wakeup.clear()  # before reading, so a wake() during the read is kept
            started = await self.dispatch()
            if started:
                continue
            try:
                await asyncio.wait_for(self._wakeup.wait(), self._idle_poll)
            except TimeoutError:
                pass

    async def dispatch(self) -> int:
        """Start a task for every idle lane that has due deliveries; return how many."""
        busy_before = set(self._busy)
        due = await self._store.due_deliveries(self._clock.now(), self._batch)
        if self._stopping:
            return 0
        lanes: dict[Lane, list[Delivery]] = {}
        for delivery in due:
            lane = (delivery.conversation_id, delivery.destination.value)
            # A lane busy when the read began may have finished during it: its rows in
            # `due` can be stale (already sent). Its own wake-up triggers a fresh read.
            if lane not in self._busy and lane not in busy_before:
                lanes.setdefault(lane, []).append(delivery)
        for lane, deliveries in lanes.items():
            task = asyncio.create_task(self._run_lane(deliveries))
            self._busy[lane] = task
            task.add_done_callback(functools.partial(self._lane_done, lane))
        return len(lanes)

    async def drain(self, grace: float = 10.0) -> None:
        """Stop taking new work and wait for what is in flight (shutdown)."""
        self._stopping = True
        self._wakeup.set()
        tasks = list(self._busy.values())
        if tasks:
            await asyncio.wait(tasks, timeout=grace)

    async def run_until_idle(self, rounds: int = 1000) -> None:
        """Deliver everything due now (tests and `pustaka export` use this)."""
        for _ in range(rounds):
            started = await self.dispatch()
            if self._busy:
                await asyncio.wait(list(self._busy.values()))
            elif not started:
                return

    def _lane_done(self, lane: Lane, _task: asyncio.Task[None]) -> None:
        self._busy.pop(lane, None)
        self._wakeup.set()

    async def _run_lane(self, deliveries: list[Delivery]) -> None:
        i = 0
        while i < len(deliveries):
            taken = await self._deliver(deliveries, i)
            if not taken:
                return  # a retry is scheduled: later rows of this lane must wait for it
            i += taken

    async def _deliver(self, lane: list[Delivery], i: int) -> int:
        """Send the delivery at ``lane[i]`` (with what it can be coalesced with).

        Returns how many rows of the lane it settled; 0 when the head must be retried.
        """
        head = lane[i]
        try:
            return await self._attempt(lane, i)
        except Exception:  # a bug in one sender must not stop the outbox
            log.exception("delivery %s crashed; will retry", head.id)
            message = await self._store.get_message(head.message_id)
            return int(await self._schedule_retry(head, "internal error", None, message))

    async def _attempt(self, lane: list[Delivery], i: int) -> int:
        delivery = lane[i]
        message = await self._store.get_message(delivery.message_id)
        conversation = await self._store.get_conversation(delivery.conversation_id)
        patron = await self._store.get_patron(conversation.patron_id) if conversation else None
        sender = self._senders.get(delivery.destination)
        if message is None or conversation is None or patron is None or sender is None:
            what = "no sender for " + delivery.destination if sender is None else "missing rows"
            await self._give_up(delivery, what, message)
            return 1
        keys = _budget_keys(sender, delivery, conversation, patron)
        group = [delivery]
        if keys:
            # Wait for the destination's budget without holding a send slot, so sends
            # elsewhere (a librarian's reply to a widget) never queue behind a full group.
            if await self._wait_for_budget(keys):
                message, group = await self._coalesce(lane, i, message)
        async with self._concurrency:
            try:
                sent = await sender.send(delivery, message, conversation, patron)
            except TemporaryFailure as exc:
                if exc.retry_after is not None and keys:
                    self._budget.pause(keys, self._clock.now() + exc.retry_after)
                return int(await self._schedule_retry(delivery, str(exc), exc.retry_after,
                                                      message))
            except PermanentFailure as exc:
                await self._give_up(delivery, str(exc), message)
                return 1
        if sent.desk_thread is not None and sent.desk_thread != conversation.desk_thread:
            # Re-read: a claim may have been saved while the topic was being opened.
            fresh = await self._store.get_conversation(conversation.id) or conversation
            await self._store.save_conversation(replace(fresh, desk_thread=sent.desk_thread))
        for done in group:
            await self._store.finish_delivery(done.id, sent.external_id)
        if sent.external_id:
            await self._store.save_link(
                Link(delivery.destination.value, sent.external_id, conversation.id, message.id)
            )
        return len(group)

    async def _wait_for_budget(self, keys: tuple[str, ...]) -> bool:
        """Wait for the send's turn; True when the budget was short and it had to wait."""
        now = self._clock.now()
        at = self._budget.reserve(keys, now)
        waited = at > now
        # Sleeping until a known moment; a 429 seen meanwhile may push that moment on.
        while (wait := max(at, self._budget.blocked_until(keys)) - self._clock.now()) > 0:
            await self._sleep(wait)
            waited = True
        return waited

    async def _coalesce(
        self, lane: list[Delivery], i: int, head: Message
    ) -> tuple[Message, list[Delivery]]:
        """Join the patron messages queued behind ``lane[i]`` into one send.

        Under a short budget (20 a minute into one group) a busy patron's messages pile
        up in their lane; one combined message, each part with its time, keeps the topic
        current instead of leaving it minutes behind a queue of single sends.
        """
        first = lane[i]
        if first.kind is not DeliveryKind.TO_DESK or head.direction is not Direction.PATRON:
            return head, [first]
        parts, group = [head], [first]
        size = len(head.text)
        for follower in lane[i + 1:]:
            if follower.kind is not DeliveryKind.TO_DESK:
                break
            message = await self._store.get_message(follower.message_id)
            if message is None or message.direction is not Direction.PATRON:
                break
            size += len(message.text) + 10
            if size > self._coalesce_limit:
                break
            parts.append(message)
            group.append(follower)
        if len(parts) == 1:
            return head, group
        text = "\n\n".join(f"[{self._stamp(m.created_at)}] {m.text}" for m in parts)
        return replace(head, text=text), group

    async def _schedule_retry(
        self,
        delivery: Delivery,
        error: str,
        retry_after: float | None,
        message: Message | None = None,
    ) -> bool:
        attempts = delivery.attempts + 1
        if attempts >= self._policy.max_attempts:
            await self._give_up(delivery, f"{error} (after {attempts} attempts)", message)
            return True
        when = self._clock.now() + self._policy.delay(attempts, retry_after)
        await self._store.retry_delivery(delivery.id, attempts, when, error)
        log.info("delivery %s attempt %d failed (%s); retry at %.0f",
                 delivery.id, attempts, error, when)
        return False

    async def _give_up(self, delivery: Delivery, error: str, message: Message | None) -> None:
        """Mark failed and tell the desk, so a lost reply is never silent."""
        await self._store.fail_delivery(delivery.id, delivery.attempts + 1, error)
        log.warning("delivery %s to %s failed for good: %s",
                    delivery.id, delivery.destination, error)
        if delivery.destination is Channel.DESK or message is None:
            return
        now = self._clock.now()
        notice = Message(
            id=new_id(),
            conversation_id=delivery.conversation_id,
            direction=Direction.NOTE,  # for librarians only
            text=f"Could not deliver to the patron: {error}\n\u2014 {message.text[:200]}",
            event="delivery_failed",
            created_at=now,
        )
        await self._store.append(notice, [
            Delivery(
                id=new_id(),
                conversation_id=delivery.conversation_id,
                message_id=notice.id,
                kind=DeliveryKind.DESK_NOTICE,
                destination=Channel.DESK,
                idempotency_key=f"{notice.id}:desk",
                next_attempt_at=now,
                created_at=now,
            )
        ])
        self.wake()
