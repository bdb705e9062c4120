"""The router: a few small services sharing one conversation log.

``Router`` only builds them and names them; a caller asks for the service it uses:
``router.intake`` (a patron's messages, who the patron is), ``router.desk`` (a
librarian's replies, edits, withdrawals), ``router.claims`` (who answers; close, rate),
``router.moderation`` (blocks), ``router.records`` (notes, notices, tags, figures, topics,
member numbers), ``router.staff`` (librarians' names and duty), ``router.trail`` (the
links an adapter records: a mail taken, a Telegram post). Each is handed the same
``ConversationLog`` (store, clock, locks, the outbox's wake-up) and none calls another's
private method. Nothing is sent here: the
delivery worker sends what the outbox holds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from routing.claims import ClaimResult, Claims
from routing.conversation_log import Claimed, ConversationLog, Refused
from routing.desk_records import DeskRecords
from routing.desk_replies import DeskReplies
from routing.intake import Accepted, PatronIntake, RouterPolicy
from routing.model import Delivery
from routing.moderation import Moderation
from routing.ports import Clock, Store
from routing.router_staff import Staff
from routing.trail import Trail

__all__ = ["Accepted", "ClaimResult", "Claimed", "Refused", "Router", "RouterPolicy"]


class Router:
    """``Router(store, clock, *, policy, on_enqueue, staffed)``: the services, built once
    over one log. ``on_enqueue`` wakes the outbox; ``staffed(now)`` says whether a new
    conversation is opened within opening hours; ``policy`` is the intake's limits."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        *,
        policy: RouterPolicy | None = None,
        on_enqueue: Callable[[Sequence[Delivery]], None] = lambda queued: None,
        staffed: Callable[[float], bool] = lambda now: True,
    ) -> None:
        self.log = ConversationLog(store, clock, on_enqueue=on_enqueue)
        self.intake = PatronIntake(self.log, policy=policy, staffed=staffed)
        self.claims = Claims(self.log)
        self.desk = DeskReplies(self.log, self.claims)
        self.moderation = Moderation(self.log)
        self.records = DeskRecords(self.log)
        self.staff = Staff(self.log)
        self.trail = Trail(store)  # the links adapters record, each verb named for its event
