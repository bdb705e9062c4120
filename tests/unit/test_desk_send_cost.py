"""The forwarding path's shortcuts cost and say exactly what the long way does: what
DeskSender books and asks for a plain text into its topic (no render to count it, no
files path, the link preview option as Telegram's JSON), and the budget's rules, gates
and turns kept at hand."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from telegram import LinkPreviewOptions
from telegram.request._requestparameter import RequestParameter

from adapters.telegram import desk_sender
from adapters.telegram.desk_base import DeskTarget
from adapters.telegram.desk_sender import DeskSender, desk_keys
from adapters.telegram.files_send import cost, plan
from routing.limits import SendBudget, WindowRule
from routing.model import (
    Attachment,
    AttachmentKind,
    Channel,
    Conversation,
    Delivery,
    DeliveryKind,
    Direction,
    Message,
    PageInfo,
    Patron,
)
from routing.outbox_budget import party_of
from routing.turns import Turns
from tests.unit.fakes import FakeClock
from tests.unit.test_budget import fake_sleep

GROUP = -100777


class RecordingBot:
    """Answers every call at once and keeps what it was asked."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    async def do_api_request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        self.calls.append((method, params))
        return {"message_id": 500 + len(self.calls)}


class NoTopics:
    async def keep_topic(self, conversation_id: str, thread: int | None) -> None:
        raise AssertionError("a send into an existing topic opens none")


def rows(text: str, *, files: tuple[Attachment, ...] = (), thread: int | None = 42
         ) -> tuple[Delivery, Message, Conversation, Patron]:
    patron = Patron("p1", name="Ana")
    chat = Conversation("c1", "p1", Channel.WIDGET, desk_thread=thread)
    message = Message("m1", "c1", Direction.PATRON, text, attachments=files)
    return (Delivery("d1", "c1", "m1", DeliveryKind.TO_DESK, Channel.DESK, "m1:desk"),
            message, chat, patron)


def sender(bot: RecordingBot, forum: bool = True) -> DeskSender:
    return DeskSender(bot, DeskTarget(GROUP, forum), None, topics=NoTopics())  # type: ignore[arg-type]


class TestCost:
    def test_a_text_that_renders_past_telegrams_limit_still_costs_what_plan_says(self) -> None:
        """Quotes escape to six characters each: the HTML outgrows 4,096, and the text
        alone is still one post, as ``plan`` counts it."""
        delivery, message, chat, patron = rows('"' * 3000)
        keys = sender(RecordingBot()).budget_keys(delivery, chat, patron, message)
        assert keys == desk_keys(GROUP, cost(plan("&quot;" * 3000, ()))) == (
            "bot", f"group:{GROUP}")

    def test_a_text_with_two_photos_costs_the_album(self) -> None:
        """Files are counted as before: the text rides as the album's caption."""
        photos = tuple(Attachment(AttachmentKind.PHOTO, f"p{n}.jpg", "image/jpeg", 1000,
                                  digest=f"{n}" * 64) for n in range(2))
        delivery, message, chat, patron = rows("two shelves", files=photos)
        keys = sender(RecordingBot()).budget_keys(delivery, chat, patron, message)
        assert keys == ("bot", "bot", f"group:{GROUP}", f"group:{GROUP}")

    def test_an_opening_still_counts_the_topic_and_the_card(self) -> None:
        delivery, message, chat, patron = rows("hello", thread=None)
        keys = sender(RecordingBot()).budget_keys(delivery, chat, patron, message)
        assert keys == ("bot", f"group:{GROUP}", f"group:{GROUP}")


class TestPlainPost:
    async def test_a_plain_text_goes_as_one_escaped_sendmessage_into_its_topic(self) -> None:
        bot = RecordingBot()
        delivery, message, chat, patron = rows("<b>2019</b> & later?")
        sent = await sender(bot).send(delivery, message, chat, patron)
        [(method, params)] = bot.calls
        assert method == "sendMessage" and sent.external_id == "501"
        assert params["text"] == "&lt;b&gt;2019&lt;/b&gt; &amp; later?"
        assert (params["chat_id"], params["message_thread_id"]) == (GROUP, 42)

    def test_the_preview_option_goes_on_the_wire_as_the_object_would(self) -> None:
        """The plain dict DeskSender passes is what PTB makes of a LinkPreviewOptions."""
        ours = RequestParameter.from_input("link_preview_options", desk_sender._NO_PREVIEW)
        theirs = RequestParameter.from_input("link_preview_options",
                                             LinkPreviewOptions(is_disabled=True))
        assert ours.json_value == theirs.json_value == '{"is_disabled": true}'


class TestBudgetAtHand:
    """SendBudget remembers each key's rule and gate, and Turns books a send with room
    at once: the moments booked must be those the long way books."""

    def test_a_rule_changed_after_use_applies_to_the_next_booking(self) -> None:
        budget = SendBudget({"group": WindowRule(2, 60.0)}, margin=0.0)
        assert [budget.reserve(("group:a",), 0.0) for _ in range(3)] == [0.0, 0.0, 60.0]
        budget.set_rule("group", WindowRule(100, 60.0))
        assert budget.reserve(("group:a",), 1.0) == 1.0
        assert budget.gate(("bot", "group:a")) == "group:a"
        budget.set_rule("bot", WindowRule(1, 60.0))  # now the bot's is the scarcer
        assert budget.gate(("bot", "group:a")) == "bot"

    def test_room_kept_for_one_send_is_not_booked_by_the_next(self) -> None:
        """The count of each key is remembered per tuple of keys: asking with ``spare``
        does not change it, so the bookings after it cost the send alone."""
        budget = SendBudget({"group": WindowRule(5, 60.0)}, margin=0.0)
        assert budget.earliest(("group:a",), 0.0, spare=2) == 0.0
        assert [budget.reserve(("group:a",), 0.0) for _ in range(6)] == [0.0] * 5 + [60.0]

    async def test_turns_with_nobody_queued_book_what_a_queued_place_would(self) -> None:
        """A third send into a window of two waits for the window's end; the two before
        it go at once, without a place in the queue, and no queue is left behind."""
        clock = FakeClock(100.0)
        budget = SendBudget({"group": WindowRule(2, 60.0)}, margin=0.0)
        turns = Turns(budget, clock, fake_sleep(clock))
        booked = [await turns.book(("group:a",), True, clock.now()) for _ in range(3)]
        assert booked == [100.0, 100.0, 160.0] and turns.waiting() == 0


# In a fresh process (the rules are compiled once per process): the seconds building a
# DeskSender takes, then the seconds the first patron's card takes after it.
_FIRST_CARD = """
import time
from adapters.telegram.desk_base import DeskTarget
from adapters.telegram.desk_sender import DeskSender
from adapters.telegram.render import info_card
from routing.model import Channel, Conversation, PageInfo, Patron
started = time.perf_counter()
DeskSender(None, DeskTarget(-1, True), topics=None)
built = time.perf_counter()
page = PageInfo(url="https://library.example/", user_agent="Mozilla/5.0 (Linux; Android 14) "
                "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36")
info_card(Patron("p1"), Conversation("c1", "p1", Channel.WIDGET, page=page))
print(built - started, time.perf_counter() - built)
"""


def test_the_first_card_finds_the_browser_rules_compiled_when_the_sender_was_built() -> None:
    """Building the DeskSender (as the bridge starts) compiles ua-parser's rules, so the
    first patron's info card does not pay for them on the event loop."""
    done = subprocess.run([sys.executable, "-c", _FIRST_CARD], capture_output=True,
                          text=True, check=True)
    building, first_card = map(float, done.stdout.split())
    assert first_card < building / 10, (building, first_card)


def test_a_party_parsed_once_per_address_is_still_each_conversations_own_without_one() -> None:
    """The fair share's party is remembered per address: an IPv4 (mapped or not) is
    itself, an IPv6 its /64, and a conversation without a usable address is its own
    party, asked again (never another conversation's)."""
    def chat(cid: str, ip: str) -> Conversation:
        return Conversation(cid, "p1", Channel.WIDGET, page=PageInfo(url="", ip=ip))

    for _ in range(2):  # the second answer comes from what the first remembered
        assert party_of(chat("c1", "203.0.113.9")) == "203.0.113.9"
        assert party_of(chat("c2", "::ffff:203.0.113.9")) == "203.0.113.9"
        assert party_of(chat("c3", "2001:db8:1:2::7")) == "2001:db8:1:2::/64"
        assert party_of(chat("c4", "not an address")) == "conversation c4"
        assert party_of(chat("c5", "not an address")) == "conversation c5"
        assert party_of(chat("c6", "")) == "conversation c6"
    assert party_of(None) == ""
