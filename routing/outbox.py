"""The outbox rules and the delivery worker.

Every outbound message is a durable ``Delivery`` row before anything is sent. The worker
sends due rows through the sender of their destination, keeps order within each lane
(one conversation towards one destination), retries temporary failures with exponential
backoff and jitter, and reports what finally failed instead of dropping it.

Sends with a rate limit (Telegram) wait for their turn in a ``SendBudget`` without
holding a send slot; lanes waiting on one group are served in the order they asked,
which is round-robin over topics. Each destination has its own send slots, so a slow
or failing Telegram never holds back a librarian's reply to a widget patron.

The budget's side is ``outbox_budget``, what a send's end saves ``outbox_outcomes``; the
worker's loop and a lane's attempt stay together here (350 lines): split, each half
would have to reach into the other's lane state.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence

from routing import logctx
from routing.limits import SendBudget
from routing.model import Channel, Conversation, Delivery, DeliveryKind, Message, Patron
from routing.outbox_bound import crowded_lanes, known_only
from routing.outbox_budget import BudgetGate
from routing.outbox_ledger import DeliveryLedger
from routing.outbox_outcomes import Outcomes
from routing.outbox_reads import Known, LaneReads
from routing.outbox_rules import (
    IDEMPOTENT,
    Lane,
    RetryPolicy,
    coalesce,
    lane_of,
    utc_stamp,
)
from routing.ports import (
    Clock,
    OutboxStore,
    PermanentFailure,
    Sender,
    TemporaryFailure,
    TopicFailure,
)

__all__ = ["DeliveryWorker", "RetryPolicy"]

log = logging.getLogger(__name__)


class DeliveryWorker:
    def __init__(
        self,
        store: OutboxStore,
        clock: Clock,
        senders: Mapping[Channel, Sender],
        *,
        policy: RetryPolicy | None = None,
        concurrency: int = 64,
        batch: int = 1000,
        idle_poll: float = 1.0,
        budget: SendBudget | None = None,
        stamp: Callable[[float], str] = utc_stamp,
        coalesce_limit: int = 3800,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        max_waiting: int = 500,
    ) -> None:
        self._store = store
        self._clock = clock
        self._senders = senders
        self._policy = policy or RetryPolicy()
        self._slots = {channel: asyncio.Semaphore(concurrency) for channel in Channel}
        self._batch = batch
        self._lane_batch = max(1, min(batch, 100))
        self._reads = LaneReads(store, self._lane_batch)
        self._messages = self._reads.messages  # read ahead for lanes' next sends
        self._idle_poll = idle_poll
        self._wakeup = asyncio.Event()
        self._busy: dict[Lane, asyncio.Task[None]] = {}
        self._stopping = False
        self._budget = budget or SendBudget({})
        self._stamp = stamp
        self._coalesce_limit = coalesce_limit
        self._sleep = sleep
        self._ledger = DeliveryLedger(store, self._budget)
        self._gate = BudgetGate(self._budget, clock, sleep, self._ledger.counts)
        self._outcomes = Outcomes(store, clock, self._ledger, self._policy,
                                  report=Channel.DESK in senders, wake=self.wake)
        self._turns = self._gate.turns
        self._max_waiting = max_waiting  # lanes of a destination queued for its budget
        self._fresh: set[Lane] = set()  # idle lanes that may have rows: read them alone
        self._full_read = True  # read everything due (start, poll, a failure)
        self._last_full_read = float("-inf")
        self._readers: list[set[Lane]] = []  # one per read under way: lanes ended since

    @property
    def budget(self) -> SendBudget:
        return self._budget

    def stats(self) -> dict[str, int]:
        """Counters since this process started, for ``/metrics``; see ``COUNTERS``."""
        return {**self._ledger.counts, "lanes_busy": len(self._busy),
                "lanes_waiting_for_budget": len(self._gate.waiting),
                "messages_read_ahead": len(self._messages)}

    def wake(self, queued: Sequence[Delivery] = ()) -> None:
        """Called when something was enqueued, so it goes out now and not at the next poll.

        Rows for lanes already sending need no read now: a lane's end triggers one. Rows
        for idle lanes are read by their lanes (the lane index), not by a read of
        everything due: with thousands of conversations waiting for the group, each new
        conversation then costs one small read, not a batch of the backlog's rows.
        """
        idle = {lane for d in queued if (lane := lane_of(d)) not in self._busy}
        if queued and not idle:
            return
        if queued:
            self._fresh |= idle
        else:
            self._full_read = True
        self._wakeup.set()

    async def run(self) -> None:
        while not self._stopping:
            self._wakeup.clear()  # before reading, so a wake() during the read is kept
            try:
                started = await self._dispatch_next()
            except Exception:  # a failed read (disk, I/O) must not stop the outbox
                log.exception("the outbox could not read what is due; trying again")
                started = 0
                self._full_read = True
                self._wakeup.clear()  # wait the poll out, not spin on the failure
            if started:
                continue
            try:
                await asyncio.wait_for(self._wakeup.wait(), self._idle_poll)
            except TimeoutError:
                self._full_read = True

    async def _dispatch_next(self) -> int:
        """A read of everything due at least every ``idle_poll`` (retries come due, a
        full batch's lanes), and between those reads only the lanes named fresh."""
        now = self._clock.now()
        if self._full_read or now - self._last_full_read >= self._idle_poll:
            return await self.dispatch()
        if not self._fresh:
            return 0
        lanes, self._fresh = self._fresh, set()
        ended = self._reading()
        try:
            rows = await self._store.lane_deliveries(list(lanes), now, self._lane_batch)
        finally:
            self._readers.remove(ended)
        return await self._start(rows, ended)

    async def dispatch(self) -> int:
        """Start a task for every idle lane that has due deliveries; return how many."""
        if not self._ledger.recovered:
            await self._ledger.recover(self._clock.now())
        self._full_read, self._fresh = False, set()  # this read covers them
        self._last_full_read = self._clock.now()
        ended = self._reading()
        try:
            # Busy lanes' rows would be dropped by ``_start``: left in the store, they
            # cost neither the reading thread nor the loop (a busy outbox's page is theirs).
            due = await self._store.due_deliveries(self._clock.now(), self._batch,
                                                   skip=self._full(), busy=list(self._busy))
        finally:
            self._readers.remove(ended)
        return await self._start(due, ended)

    def _full(self) -> list[str]:
        """The destinations with ``max_waiting`` lanes queued for their budget: a read
        of everything due would drop all their rows (``crowded_lanes``), so it leaves
        them in the store undecoded; the first read after a lane ends reads them again."""
        return [d for d, n in self._gate.crowd.items() if n >= self._max_waiting]

    def _reading(self) -> set[Lane]:
        """The lanes that end while a read is under way (a copy of the busy lanes would
        cost as much as there are conversations waiting, on every read)."""
        ended: set[Lane] = set()
        self._readers.append(ended)
        return ended

    async def _start(self, due: list[Delivery], ended: set[Lane]) -> int:
        if self._stopping:
            return 0
        lanes: dict[Lane, list[Delivery]] = {}
        for delivery in due:
            lane = lane_of(delivery)
            # A lane busy when the read began may have finished during it: its rows in
            # `due` can be stale (already sent). Its own wake-up triggers a fresh read.
            if lane not in self._busy and lane not in ended:
                lanes.setdefault(lane, []).append(delivery)
        crowded = crowded_lanes(lanes, self._gate.crowd, self._max_waiting)
        chats = await self._reads.conversations(lanes) if lanes else {}
        if crowded:  # past the bound only conversations the desk knows start; the rest
            lanes = known_only(lanes, crowded, chats)  # wait in the store, unread
        known = await self._reads.start(lanes, chats) if lanes else {}
        if self._stopping:
            return 0
        for lane, deliveries in lanes.items():
            task = asyncio.create_task(self._run_lane(deliveries, known))
            self._busy[lane] = task
            task.add_done_callback(functools.partial(self._lane_done, lane))
        return len(lanes)

    async def drain(self, grace: float = 10.0) -> None:
        """Stop taking new work and wait for what is in flight (shutdown).

        Lanes asleep on a budget stop at once: their rows stay pending for the next
        start. A send still running after ``grace`` is cancelled; the ledger's note
        makes the next start re-send it and count it as a possible duplicate.
        """
        self._stopping = True
        self._wakeup.set()
        for lane in self._gate.waiting:
            self._busy[lane].cancel()
        tasks = list(self._busy.values())
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=grace)
            for task in late:
                task.cancel()
            if late:
                await asyncio.wait(late)

    async def run_until_idle(self, rounds: int = 1000) -> None:
        """Deliver everything due now (tests and `pustaka export` use this)."""
        for _ in range(rounds):
            started = await self.dispatch()
            if self._busy:
                await asyncio.wait(list(self._busy.values()))
            elif not started:
                return

    def _lane_done(self, lane: Lane, _task: asyncio.Task[None]) -> None:
        """A row queued after the lane's last read is read by the lane, not by a read of
        everything due."""
        self._busy.pop(lane, None)
        self._fresh.add(lane)
        for ended in self._readers:
            ended.add(lane)
        self._wakeup.set()

    async def _run_lane(self, deliveries: list[Delivery], read: Known) -> None:
        """Send a lane's rows in order, then read on in the lane until nothing is due:
        rows queued behind a busy conversation need no read of everything due."""
        lane = lane_of(deliveries[0])
        # The lane's conversation and patron, read once per lane (missing ones again).
        known: Known = {lane[0]: read[lane[0]]} if lane[0] in read else {}
        if known:
            _bind(deliveries[0], known[lane[0]][1])
        while deliveries and not self._stopping:
            # The batch's messages were read with it (LaneReads), not one per send.
            ahead = [d.message_id for d in deliveries]
            try:
                i = 0
                while i < len(deliveries) and not self._stopping:
                    taken = await self._deliver(deliveries, i, known)
                    if not taken:
                        return  # a retry is scheduled: later rows of the lane wait for it
                    i += taken
            finally:
                # What the batch read ahead and did not send itself (rows that rode
                # along in a coalesced post, a lane that stopped) is not kept.
                for message_id in ahead:
                    self._messages.pop(message_id, None)
            deliveries = await self._reads.read_on(lane, self._clock.now())

    async def _deliver(self, lane: list[Delivery], i: int, known: Known) -> int:
        """Send the delivery at ``lane[i]`` (with what it can be coalesced with).

        Returns how many rows of the lane it settled; 0 when the head must be retried.
        """
        head = lane[i]
        try:
            return await self._attempt(lane, i, known)
        except Exception:  # a bug in one sender must not stop the outbox
            log.exception("delivery %s crashed; will retry", head.id)
            known.clear()
            message = await self._store.get_message(head.message_id)
            return int(await self._outcomes.retry(head, "internal error", None, message))

    async def _lane_rows(self, delivery: Delivery, known: Known) -> tuple[
            Conversation | None, Patron | None]:
        """The lane's conversation and patron: read for its first send, then reused
        (``_record`` drops them when a send opened a topic, so the next one re-reads).
        The lane's log lines are labelled with them when they are read: a lane is a task
        of its own, about one conversation, so once a lane is enough."""
        rows = known.get(delivery.conversation_id)
        if rows is None:
            conversation = await self._store.get_conversation(delivery.conversation_id)
            patron = (await self._store.get_patron(conversation.patron_id)
                      if conversation else None)
            rows = known[delivery.conversation_id] = (conversation, patron)
            _bind(delivery, patron)
        return rows

    async def _attempt(self, lane: list[Delivery], i: int, known: Known) -> int:
        delivery = lane[i]
        message = self._messages.pop(delivery.message_id, None)
        if message is None:
            message = await self._store.get_message(delivery.message_id)
        rows = known.get(delivery.conversation_id)  # read for the lane's first send
        conversation, patron = rows if rows is not None else await self._lane_rows(delivery,
                                                                                    known)
        sender = self._senders.get(delivery.destination)
        if message is None or conversation is None or patron is None or sender is None:
            what = "no sender for " + delivery.destination if sender is None else "missing rows"
            await self._outcomes.give_up(delivery, what, message)
            return 1
        # The sender declares what this send costs, the topic it may open included.
        keys = sender.budget_keys(delivery, conversation, patron, message)
        group = [delivery]
        # Wait for the destination's budget without holding a send slot, so sends
        # elsewhere (a librarian's reply to a widget) never queue behind a full group.
        notice = delivery.kind is DeliveryKind.DESK_NOTICE
        waited, at = (await self._gate.wait(lane_of(delivery), keys, conversation, notice)
                      if keys else (False, 0.0))
        # A send that may have arrived is repeated whole, so it doubles once at most.
        if waited or (keys and self._ledger.is_unsure(delivery.id)):
            # An opening post also carries the info card: leave it room in 4,096.
            room = self._coalesce_limit // (2 if conversation.desk_thread is None else 1)
            queue = await self._queued(lane[i:]) if waited else lane[i:]
            message, group = await coalesce(self._store, queue, message, room, self._stamp,
                                            self._messages)
        ids = [d.id for d in group]
        if delivery.destination not in IDEMPOTENT:
            # Before taking a send slot: a slot waiting on a commit is a send not made.
            # (A crash while such a send still waits for its slot counts it as a
            # possible duplicate though it was never made: the count errs high, never low.)
            await self._ledger.before_send(ids, self._clock.now())
        return await self._send(sender, group, message, conversation, patron, known,
                                (keys, at))

    async def _send(
        self, sender: Sender, group: list[Delivery], message: Message,
        conversation: Conversation, patron: Patron, known: Known,
        booked: tuple[tuple[str, ...], float],
    ) -> int:
        """Make the send in a slot of its destination and record how it ended."""
        delivery, ids = group[0], [d.id for d in group]
        async with self._slots[delivery.destination]:
            started = self._clock.now()
            try:
                sent = await sender.send(delivery, message, conversation, patron)
            except TemporaryFailure as exc:
                self._gate.spent(booked, started, exc)
                if isinstance(exc, TopicFailure):  # the sender kept or forgot a topic
                    known.clear()
                return int(await self._outcomes.failed(delivery, ids, exc, message))
            except PermanentFailure as exc:
                self._gate.spent(booked, started, exc)
                self._ledger.settled(ids)
                await self._outcomes.give_up(delivery, str(exc), message)
                return 1
            self._gate.spent(booked, started, None)
        if sent.desk_thread is not None and sent.desk_thread != conversation.desk_thread:
            known.clear()  # the sender kept a new topic: the next send reads it
        await self._outcomes.recorded(group, sent, conversation, message)
        self._ledger.settled(ids)
        return len(group)

    async def spend(self, keys: tuple[str, ...], call: Callable[[], Awaitable[None]]) -> None:
        """``routing.ports.BudgetedCalls``: see ``BudgetGate.spend``."""
        await self._gate.spend(keys, call)

    async def _queued(self, lane: list[Delivery]) -> list[Delivery]:
        """The lane's rows as they are now: after a wait for the budget, messages that
        arrived meanwhile ride along in the same post instead of needing one of their own."""
        head = lane[0]
        fresh = await self._store.lane_deliveries([lane_of(head)], self._clock.now(),
                                                  self._lane_batch)
        return fresh if fresh and fresh[0].id == head.id else lane


def _bind(delivery: Delivery, patron: Patron | None) -> None:
    logctx.bind(conversation_id=delivery.conversation_id, channel=delivery.destination.value,
                patron_id=patron.id if patron else "")
