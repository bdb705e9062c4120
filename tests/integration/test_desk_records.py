"""Desk commands that keep records: notes, tags, history, canned replies, blocks, duty,
/who, /stats, /verify and edits, through python-telegram-bot against the emulator."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace

import pytest

from adapters.telegram.commands import Asked, DeskCommands
from adapters.telegram.desk_base import DeskTarget
from routing.limits import SendBudget, WindowRule
from routing.model import Channel, Direction, Inbound, PageInfo
from routing.outbox import DeliveryWorker
from routing.ports import SystemClock
from routing.router import Refused
from tests.integration.test_desk_commands import CANNED, Rig, rig

__all__ = ["rig"]  # the fixture, shared with test_desk_commands.py


class TestConversationRecords:
    async def test_note_never_reaches_the_patron(self, rig: Rig) -> None:
        """/note is kept as a NOTE in the log and nothing of it reaches the patron."""
        thread = await rig.ask()
        rig.says(rig.ana, thread, "/note Asked the same last week")
        rig.says(rig.ana, thread, "/who")  # a later command proves the note was handled
        await rig.line(thread, "This conversation")
        cid = (await rig.conversation(thread)).id
        notes = [m for m in await rig.store.history(cid) if m.event == "note"]
        assert [(n.direction, n.text) for n in notes] == [
            (Direction.NOTE, "Asked the same last week")]
        assert rig.patron_side.got == []

    async def test_tag_history_and_canned_list(self, rig: Rig) -> None:
        """/tag tags the conversation, /history lists earlier ones, /r lists canned keys."""
        first = await rig.ask("First question")
        rig.says(rig.ana, first, "/close")
        await rig.until(lambda: rig.emulator.topics(rig.group)[0]["closed"])
        await _age(rig, (await rig.conversation(first)).id)
        second = await rig.ask("Second question")
        assert second != first
        rig.says(rig.ana, second, "/tag #Thesis Help")
        await rig.line(second, "Tags: #thesis_help")
        rig.says(rig.ana, second, "/history")
        await rig.line(second, "Earlier conversations:", "closed", "Ana Wijaya")
        rig.says(rig.ana, second, "/r")
        await rig.line(second, "Canned replies", "hours:", "isbn:")

    async def test_canned_reply_goes_to_patron(self, rig: Rig) -> None:
        """/r hours sends the configured text to the patron and shows it in the topic."""
        thread = await rig.ask()
        rig.says(rig.ana, thread, "/r hours")
        await rig.until(lambda: rig.patron_side.texts() == [CANNED["hours"]])
        await rig.line(thread, "Sent “hours”")

    async def test_answers_are_escaped(self, rig: Rig) -> None:
        """A tag or unknown command with HTML in it comes back as text, not markup."""
        thread = await rig.ask()
        rig.says(rig.ana, thread, "/r <b>x</b>")
        line = await rig.line(thread, "No canned reply")
        assert "<b>x</b>" in line  # the emulator shows parsed text: the tags stayed text


async def _age(rig: Rig, cid: str) -> None:
    """Move a closed conversation's close 30 days back, out of the reopen window."""
    conversation = await rig.store.get_conversation(cid)
    assert conversation is not None
    await rig.store.save_conversation(replace(conversation,
                                              closed_at=conversation.closed_at - 30 * 86400))


class TestBlocks:
    async def test_block_refuses_patron_and_unblock_lifts(self, rig: Rig) -> None:
        """/block 1d blocks the patron's visitor id only: their next message is refused
        with the configured text and nothing reaches the group, while a new visitor from
        the same address still reaches the desk; /unblock lifts it."""
        thread = await rig.ask(ip="198.51.100.23")
        rig.says(rig.ana, thread, "/block 1d")
        line = await rig.line(thread, "Blocked visitor visitor-1 for 1d")
        assert "198.51.100" not in line
        before = len(rig.emulator.messages(rig.group))
        with pytest.raises(Refused) as refused:
            await rig.router.intake.accept(Inbound(Channel.WIDGET, "visitor-1", "Hi again",
                                            page=PageInfo(ip="198.51.100.23")))
        assert (refused.value.code, refused.value.reason) == (
            "blocked", "Maaf, we cannot take your message.")
        await rig.ask("A stranger on the same Wi-Fi", visitor="someone-new",
                      ip="198.51.100.23")
        rig.says(rig.ana, thread, "/blocks")
        await rig.line(thread, "visitor visitor-1", "until")
        rig.says(rig.ana, thread, "/unblock")
        await rig.line(thread, "Lifted 1 block(s)")
        await asyncio.sleep(0.1)
        assert all("Hi again" not in m.get("text", "")
                   for m in rig.emulator.messages(rig.group)[before:])
        await rig.router.intake.accept(Inbound(Channel.WIDGET, "visitor-1", "Thanks"))

    async def test_block_ip_or_range_only_when_asked(self, rig: Rig) -> None:
        """/block 1d range adds the patron's /24, /blocks lists it, a new visitor from
        that range is refused, and /unblock <id> lifts the range; a word that is neither
        ip nor range blocks nothing and says what works."""
        thread = await rig.ask(ip="198.51.100.23")
        rig.says(rig.ana, thread, "/block 1d subnet")
        await rig.line(thread, "“subnet” is not ip or range")
        assert await rig.router.moderation.blocks() == []
        rig.says(rig.ana, thread, "/block 1d range")
        await rig.line(thread, "Blocked visitor visitor-1, range 198.51.100.0/24 for 1d")
        with pytest.raises(Refused):
            await rig.router.intake.accept(Inbound(Channel.WIDGET, "someone-new", "Hi",
                                            page=PageInfo(ip="198.51.100.99")))
        rig.says(rig.ana, thread, "/blocks")
        listed = await rig.line(thread, "Blocked (lift one", "range 198.51.100.0/24")
        [block_id] = [b.id for b in await rig.router.moderation.blocks() if b.kind.value == "range"]
        assert block_id[-6:] in listed
        rig.says(rig.ana, thread, f"/unblock {block_id[-6:]}")
        await rig.line(thread, "Lifted the block on range 198.51.100.0/24")
        await rig.ask("Back again", visitor="someone-new", ip="198.51.100.99")

    async def test_block_button_asks_how_long(self, rig: Rig) -> None:
        """Block on the card first shows durations; "1 hour" then blocks."""
        thread = await rig.ask()
        cid = (await rig.conversation(thread)).id
        rig.press(rig.budi, thread, "block", cid)
        await rig.until(lambda: "⛔ 1 hour" in rig.buttons(thread))
        assert await rig.router.moderation.blocks() == []
        rig.press(rig.budi, thread, "b-1h", cid)
        answers = await rig.answered(2)
        assert answers[-1]["text"] == "Blocked."
        assert [b.kind.value for b in await rig.router.moderation.blocks()] == ["visitor"]
        await rig.until(lambda: "✋ Claim" in rig.buttons(thread))

    async def test_bad_duration(self, rig: Rig) -> None:
        """/block soon blocks nothing and says which durations work."""
        thread = await rig.ask()
        rig.says(rig.ana, thread, "/block soon")
        await rig.line(thread, "not a duration", "forever")
        assert await rig.router.moderation.blocks() == []


class TestDesk:
    async def test_duty_who_and_stats(self, rig: Rig) -> None:
        """/onduty records the librarian and calls the hook; /who lists them; /offduty
        reverses it; /stats counts today's conversations and answers."""
        thread = await rig.ask()
        rig.says(rig.ana, thread, "Hello!")
        general_id = rig.emulator.user_sends(rig.group, rig.budi, "/onduty")["message_id"]
        assert general_id
        await rig.until(lambda: [(d.librarian_id, d.name) for d in rig.roster.present(
            time.time())] == [(str(rig.budi), "Budi")])
        rig.says(rig.ana, thread, "/who")
        await rig.line(thread, "This conversation: Ana Wijaya", "On duty: Budi (@budi_s)")
        rig.emulator.user_sends(rig.group, rig.budi, "/offduty")
        await rig.until(lambda: rig.roster.present(time.time()) == [])
        assert await rig.store.librarians_on_duty() == []
        rig.emulator.user_sends(rig.group, rig.ana, "/stats")
        general = await rig.until(lambda: [m.get("text", "") for m in
                                           rig.emulator.messages(rig.group)
                                           if "Conversations:" in m.get("text", "")])
        assert "Conversations: 1" in general[0] and "Answered: 1" in general[0]
        assert "Median first response" in general[0]

    async def test_verify_shows_member_on_card(self, rig: Rig) -> None:
        """/verify 12345 asks the directory hook and shows the member on the card; the
        patron is told nothing."""
        thread = await rig.ask()
        rig.says(rig.ana, thread, "/verify 33333")
        await rig.line(thread, "✅ active, valid until 2099-12-31 — Member 33333: Sari Lestari")
        card = await rig.until(lambda: "Sari Lestari" in rig.card(thread)["text"]
                               and rig.card(thread))
        assert "Member: ✅ active" in card["text"]
        rig.says(rig.ana, thread, "/verify 99999")
        await rig.line(thread, "No member 99999")
        assert rig.patron_side.got == []

    async def test_verify_keeps_the_first_question_on_the_card(self, rig: Rig) -> None:
        """The card and the patron's first question went as one post; /verify rewrites
        the card and the question is still there, below the member line."""
        thread = await rig.ask("Can I renew Laskar Pelangi online?")
        rig.says(rig.ana, thread, "/verify 33333")
        card = await rig.until(lambda: "Member: ✅" in rig.card(thread)["text"]
                               and rig.card(thread))
        assert card["text"].endswith("Can I renew Laskar Pelangi online?")
        assert any("Can I renew Laskar Pelangi online?" in t for t in rig.texts(thread))

    @pytest.mark.parametrize(("number", "said"), [
        ("12345", "⚠️ expired on 2026-06-30 — Member 12345"),
        ("22222", "⛔ suspended — Member 22222"),
    ])
    async def test_a_lapsed_member_gets_no_tick(self, rig: Rig, number: str,
                                                said: str) -> None:
        """An expired or suspended member is said so on the card and in the topic,
        never with ✅."""
        thread = await rig.ask()
        rig.says(rig.ana, thread, f"/verify {number}")
        await rig.line(thread, said)
        card = await rig.until(lambda: said in rig.card(thread)["text"] and rig.card(thread))
        assert "✅" not in card["text"]

    async def test_edit_reaches_patron(self, rig: Rig) -> None:
        """A librarian editing a reply in the topic sends an "edited" message naming the
        original to the patron."""
        thread = await rig.ask()
        message_id = rig.says(rig.ana, thread, "We open at 9.")
        await rig.until(lambda: rig.patron_side.texts() == ["We open at 9."])
        original = rig.patron_side.got[-1]
        rig.emulator.user_edits(rig.group, message_id, "We open at 10.")
        await rig.until(lambda: any(m.event == "edited" for m in rig.patron_side.got))
        edit = rig.patron_side.got[-1]
        assert (edit.text, edit.replaces) == ("We open at 10.", original.id)

    async def test_delete_withdraws_a_reply_from_the_patron(self, rig: Rig) -> None:
        """/delete sent as a reply to one's answer queues a "withdrawn" message naming it;
        /delete on its own, or on a patron's line, withdraws nothing."""
        thread = await rig.ask()
        answer = rig.says(rig.ana, thread, "We open at 7.")
        await rig.until(lambda: rig.patron_side.texts() == ["We open at 7."])
        original = rig.patron_side.got[-1]
        rig.says(rig.ana, thread, "/delete")
        await rig.line(thread, "Reply to your answer with /delete")
        patron_line = next(m["message_id"] for m in rig.emulator.messages(rig.group, thread)
                           if "Do you have Bumi Manusia?" in m.get("text", ""))
        rig.emulator.user_sends(rig.group, rig.ana, "/delete", message_thread_id=thread,
                                reply_to_message_id=patron_line)
        await rig.line(thread, "Only an answer sent to the patron can be withdrawn")
        rig.emulator.user_sends(rig.group, rig.ana, "/delete", message_thread_id=thread,
                                reply_to_message_id=answer)
        await rig.line(thread, "Withdrawn.", "chat window shows it as withdrawn")
        withdrawn = [m for m in rig.patron_side.got if m.event == "withdrawn"]
        assert [(m.replaces, m.text) for m in withdrawn] == [(original.id, "")]

    async def test_unknown_command(self, rig: Rig) -> None:
        """An unknown command is answered with a pointer to /help and sent to nobody."""
        thread = await rig.ask()
        rig.says(rig.ana, thread, "/frobnicate")
        await rig.line(thread, "Unknown command /frobnicate")
        assert rig.patron_side.got == []


class TestAnswersOutsideTopics:
    async def test_an_answer_in_general_waits_for_the_groups_budget(self, rig: Rig) -> None:
        """/who in General is booked in the outbox's budget (its ``spend``): with the
        group's window full, the answer is posted only when the window has room, and the
        booking is kept."""
        clock = SystemClock()
        budget = SendBudget({"group": WindowRule(1, 0.6)}, margin=0.0)
        keys = ("bot", f"group:{rig.group}")
        full_until = budget.reserve(keys, clock.now()) + 0.6  # one send just went
        commands = DeskCommands(rig.bot, rig.store,
                                rig.router, DeskTarget(rig.group, forum=True),
                                clock=clock, calls=DeliveryWorker(rig.store, clock, {},
                                                                  budget=budget))
        await commands.say(Asked(str(rig.ana), "Ana", None, 1, None), "Nobody is on duty.")

        assert clock.now() >= full_until
        assert max(budget.snapshot(clock.now())[f"group:{rig.group}"]) >= full_until
        assert any(m.get("text") == "Nobody is on duty."
                   for m in rig.emulator.messages(rig.group))
