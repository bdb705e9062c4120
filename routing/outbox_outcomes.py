"""How a send ended, saved: done rows and their link, a retry with backoff, or a failure
reported in the desk's topic so a lost message is never silent."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from routing.model import Channel, Conversation, Delivery, Message
from routing.outbox_ledger import DeliveryLedger
from routing.outbox_rules import RetryPolicy, desk_notice, worth_reporting
from routing.ports import Clock, Link, OutboxStore, Sent, TemporaryFailure, TopicFailure

__all__ = ["Outcomes"]

log = logging.getLogger("routing.outbox")


class Outcomes:
    def __init__(self, store: OutboxStore, clock: Clock, ledger: DeliveryLedger,
                 policy: RetryPolicy, *, report: bool,
                 wake: Callable[[Sequence[Delivery]], None]) -> None:
        self._store = store
        self._clock = clock
        self._ledger = ledger
        self._policy = policy
        self._report = report  # a desk to report failures to
        self._wake = wake

    async def recorded(
        self, group: list[Delivery], sent: Sent, conversation: Conversation, message: Message
    ) -> None:
        """Save what a successful send produced: each row done, and the link (a topic it
        opened the sender has kept already, through ``DeskTopics``)."""
        # The head's write carries the link: one write, one commit, for a plain send.
        # The rest of a coalesced group one after the other (a task each costs more).
        link = (Link(group[0].destination.value, sent.external_id, conversation.id, message.id)
                if sent.external_id else None)
        await self._store.finish_delivery(group[0].id, sent.external_id, link)
        for done in group[1:]:
            await self._store.finish_delivery(done.id, sent.external_id)
        counts = self._ledger.counts
        counts["sent"] += 1
        counts["delivered"] += len(group)
        counts["coalesced"] += len(group) - 1

    async def failed(
        self, delivery: Delivery, ids: list[str], exc: TemporaryFailure, message: Message,
    ) -> bool:
        """A temporary failure: note doubt, schedule a retry. A deleted topic is retried
        at once: the retry opens a new topic, and books what that costs before it does."""
        self._ledger.failed_attempt(ids, exc.maybe_sent)
        if isinstance(exc, TopicFailure) and exc.topic_gone:
            return await self.retry(delivery, str(exc), 0.0, message)
        return await self.retry(delivery, str(exc), exc.retry_after, message)

    async def retry(
        self,
        delivery: Delivery,
        error: str,
        retry_after: float | None,
        message: Message | None = None,
    ) -> bool:
        attempts = delivery.attempts + 1
        if attempts >= self._policy.max_attempts:
            await self.give_up(delivery, f"{error} (after {attempts} attempts)", message)
            return True
        when = self._clock.now() + self._policy.delay(attempts, retry_after)
        await self._store.retry_delivery(delivery.id, attempts, when, error)
        self._ledger.counts["retried"] += 1
        log.info("delivery %s attempt %d failed (%s); retry at %.0f",
                 delivery.id, attempts, error, when)
        return False

    async def give_up(self, delivery: Delivery, error: str, message: Message | None) -> None:
        """Mark failed and tell the desk, so a lost message is never silent.

        A reply the patron could not get, or a patron message the topic could not take
        (too long, refused), becomes a note in the topic; a failed notice itself does
        not, or a broken desk would feed on its own reports. Neither does a live status
        line ("X is answering"): the reply it announces reports its own failure.
        """
        await self._store.fail_delivery(delivery.id, delivery.attempts + 1, error)
        self._ledger.settled([delivery.id])
        self._ledger.counts["failed"] += 1
        log.warning("delivery %s to %s failed for good: %s",
                    delivery.id, delivery.destination, error)
        if (message is None or not worth_reporting(delivery, message)
                or not self._report):
            return
        where = "the patron" if delivery.destination is not Channel.DESK else "this topic"
        await self._notify_desk(
            delivery.conversation_id,
            f"Could not deliver to {where}: {error}\n\u2014 {message.text[:200]}",
        )

    async def _notify_desk(self, conversation_id: str, text: str) -> None:
        notice, row = desk_notice(conversation_id, text, self._clock.now())
        await self._store.append(notice, [row])
        self._wake(())
