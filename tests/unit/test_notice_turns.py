"""A notice for the desk (a reminder, a claim line) waits in arrival order for the group."""

from __future__ import annotations

import asyncio

from routing.limits import SendBudget, WindowRule
from routing.model import Channel, Conversation
from routing.outbox_budget import BudgetGate
from tests.unit.fakes import FakeClock
from tests.unit.test_budget import fake_sleep

KEYS = ("group:desk",)
SEEN = Conversation(id="seen", patron_id="p1", origin=Channel.WIDGET, desk_thread=7)
UNSEEN = Conversation(id="unseen", patron_id="p2", origin=Channel.WIDGET)


async def _order(notice: bool) -> tuple[float, float]:
    """(moment of the unseen patron's first post, moment of the seen one's send), the
    unseen one asking first while the group's one post a minute is spent."""
    clock = FakeClock()
    budget = SendBudget({"group": WindowRule(1, 60.0)}, margin=0.0)
    gate = BudgetGate(budget, clock, fake_sleep(clock), {"budget_waits": 0})
    budget.reserve(KEYS, clock.now())
    unseen = asyncio.create_task(gate.wait(("unseen", "desk"), KEYS, UNSEEN))
    seen = asyncio.create_task(gate.wait(("seen", "desk"), KEYS, SEEN, notice))
    (_, first), (_, second) = await asyncio.gather(unseen, seen)
    return first, second


class TestNoticeTurns:
    async def test_a_notice_waits_behind_a_patron_the_desk_has_not_seen(self) -> None:
        """A reminder about a topic the desk sees goes after the opening of a patron who
        asked before it, whom the desk has not seen at all."""
        opening, reminder = await _order(notice=True)
        assert opening < reminder

    async def test_a_known_patrons_message_still_goes_first(self) -> None:
        """A message of a patron the desk is talking to keeps its place ahead of new ones."""
        opening, message = await _order(notice=False)
        assert message < opening
