"""``/close KIND LEVEL`` in a topic, through the real python-telegram-bot client against
the Bot API emulator and the real SQLite store: the mark is kept for the reference
statistics, and a wrong one is answered in the topic and closes nothing."""

from __future__ import annotations

from routing.model import Status
from routing.report_roles import ReferenceMark
from tests.integration.test_desk_commands import Rig, rig

__all__ = ["rig"]  # the fixture, imported for pytest


class TestCloseWithReference:
    async def test_kind_and_level_are_kept(self, rig: Rig) -> None:
        """/close research 4 closes the topic and notes the question's kind and effort
        against the librarian who closed it."""
        thread = await rig.ask()
        rig.says(rig.ana, thread, "Here is the database you need.")
        rig.says(rig.ana, thread, "/close research 4")
        await rig.until(lambda: rig.emulator.topics(rig.group)[0]["closed"])
        conversation = await rig.conversation(thread)
        assert conversation.status is Status.CLOSED
        assert await rig.store.reference_of(conversation.id) == ReferenceMark("research", 4)
        rows = await rig.store.report_rows(0, conversation.created_at + 1)
        assert [(r[10], r[11], r[7]) for r in rows] == [("research", 4, str(rig.ana))]

    async def test_a_wrong_mark_is_explained_and_closes_nothing(self, rig: Rig) -> None:
        """/close reference 9 is answered with the kinds and the READ range, and the
        conversation stays open; a bare /close still closes with nothing noted."""
        thread = await rig.ask()
        rig.says(rig.ana, thread, "/close reference 9")
        await rig.line(thread, "Not closed", "'9' is not a READ level", "1-6")
        conversation = await rig.conversation(thread)
        assert conversation.status is Status.OPEN
        rig.says(rig.ana, thread, "/close")
        await rig.until(lambda: rig.emulator.topics(rig.group)[0]["closed"])
        assert await rig.store.reference_of(conversation.id) is None
