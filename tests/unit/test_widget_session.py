"""The widget's sessions and budgets: the quick refusal of a spent budget answers exactly
what the send step would, and only when the send step would answer that."""

from __future__ import annotations

import json
from typing import Any

import pytest

from adapters.widget.frames import FrameError, refusal
from adapters.widget.identity import VisitorIdentity
from adapters.widget.session import Session, Sessions
from adapters.widget.tokens import VisitorTokens
from routing.model import PageInfo

PER_MINUTE = 12  # a burst of 5, then one every 5 s


def sessions() -> Sessions:
    return Sessions(VisitorIdentity(VisitorTokens("a-test-secret-of-enough-length")), PER_MINUTE)


def send(cid: Any = "c1", **more: Any) -> dict[str, Any]:
    return {"type": "send", "cid": cid, "text": "Is the library open?", **more}


def spent(keeper: Sessions, visitor: str = "v1") -> Session:
    session = keeper.new(visitor, PageInfo())
    for _ in range(5):
        keeper.budgets.take(session)
    return session


class TestQuickRefusal:
    async def test_no_quick_answer_while_the_budget_has_room_and_nothing_is_spent(self) -> None:
        """With room left the send step runs, and asking first spends none of it."""
        keeper = sessions()
        session = keeper.new("v1", PageInfo())
        for _ in range(10):
            assert keeper.refused_send(session, send()) is None
        for _ in range(5):
            keeper.budgets.take(session)  # the whole burst is still there
        with pytest.raises(FrameError):
            keeper.budgets.take(session)

    async def test_the_quick_refusal_is_the_refusal_the_send_step_makes(self) -> None:
        """Past the burst, the ready-made text is the same frame the step's FrameError
        becomes: code, message, retry_after and the cid (a quote in it escaped)."""
        keeper = sessions()
        session = spent(keeper)
        cid = 'c"6\\ \u00e9'
        quick = keeper.refused_send(session, send(cid))
        assert quick is not None
        with pytest.raises(FrameError) as raised:
            keeper.budgets.take(session)
        assert json.loads(quick) == refusal(raised.value, cid)
        assert json.loads(quick)["retry_after"] in range(1, 6)

    @pytest.mark.parametrize("frame", [
        send(None), send(""), send("x" * 65), send(7),
        {"type": "send", "cid": "c1"}, send(text=3), send(prechat={"name": "Ana"}),
    ])
    async def test_a_frame_the_step_refuses_otherwise_gets_no_quick_answer(
        self, frame: dict[str, Any]
    ) -> None:
        """A bad cid, text or pre-chat form is the step's to refuse (bad_frame and the
        like come before the budget), so the quick path leaves it alone."""
        keeper = sessions()
        assert keeper.refused_send(spent(keeper), frame) is None

    async def test_a_superseded_session_gets_no_quick_answer(self) -> None:
        """A session a resume link made stale is told bad_token by the step, not
        rate_limited."""
        identity = VisitorIdentity(VisitorTokens("a-test-secret-of-enough-length"))
        keeper = Sessions(identity, PER_MINUTE)
        visitor, _ = identity.issue()
        session = spent(keeper, visitor)
        assert keeper.refused_send(session, send()) is not None
        await identity.epochs.advance(visitor)
        assert keeper.refused_send(session, send()) is None
        with pytest.raises(FrameError) as raised:
            keeper.check_current(session)
        assert raised.value.code == "bad_token"

    async def test_every_session_of_a_visitor_spends_one_budget(self) -> None:
        """A new hello does not refill the budget: its session is refused at once."""
        keeper = sessions()
        spent(keeper, "v1")
        again = keeper.new("v1", PageInfo())
        assert keeper.refused_send(again, send()) is not None
        assert keeper.refused_send(keeper.new("v2", PageInfo()), send()) is None
