"""The pre-chat answers as the server checks them, the intake's topic tag, and the
card's lines for a typed member number and a chosen topic."""

from __future__ import annotations

import pytest

from adapters.telegram.card_lines import member_given_line, topic_line
from adapters.widget.frames import FrameError
from adapters.widget.prechat import PrechatAnswers, PrechatRules, prechat_answers
from routing.model import Channel, Contact, Inbound
from routing.router import Refused, Router, RouterPolicy
from tests.unit.fakes import FakeClock, FakeStore

RULES = PrechatRules(("name", "email", "member_number", "question", "topic"),
                     ("name", "email", "topic"), frozenset({"borrowing"}))


class TestAnswers:
    def test_good_answers_are_kept_trimmed(self) -> None:
        """Names are one line, the number and topic trimmed."""
        got = prechat_answers({"name": " Sari  Dewi ", "email": "s@example.org",
                               "member_number": " A1 ", "topic": "borrowing"}, RULES)
        assert got == PrechatAnswers("Sari Dewi", "s@example.org", "A1", "borrowing")

    @pytest.mark.parametrize(("answers", "code"), [
        ({"email": "s@example.org", "topic": "borrowing"}, "missing_name"),
        ({"name": "S", "topic": "borrowing"}, "missing_email"),
        ({"name": "S", "email": "s@example.org"}, "missing_topic"),
        ({"name": "S", "email": "s@example.org", "topic": "secret"}, "bad_topic"),
        ({"name": "S", "email": "nope", "topic": "borrowing"}, "bad_email"),
        ({"name": "S\nBcc: x", "email": "s@example.org", "topic": "borrowing"}, "bad_name"),
        ({"name": "S", "email": "s@example.org", "topic": "borrowing",
          "member_number": "1 OR 1"}, "bad_member_number"),
        ({"name": 3}, "bad_frame"),
    ])
    def test_bad_answers_are_refused_with_their_code(self, answers: dict[str, object],
                                                     code: str) -> None:
        """Every refusal has the code the widget shows on the field it concerns."""
        with pytest.raises(FrameError) as caught:
            prechat_answers(answers, RULES)
        assert caught.value.code == code

    def test_email_is_not_required_when_the_library_sends_no_mail(self) -> None:
        """With email off the answer comes only in the chat: no address is needed."""
        got = prechat_answers({"name": "S", "topic": "borrowing"}, RULES, email_required=False)
        assert got.email == ""

    def test_fields_the_library_does_not_ask_are_dropped(self) -> None:
        """A client sending a topic the form does not have gets no tag from it."""
        rules = PrechatRules(("name", "question"), ("name",), frozenset())
        got = prechat_answers({"name": "S", "topic": "borrowing", "member_number": "9"}, rules)
        assert got == PrechatAnswers("S")


class TestCardLines:
    def test_member_number_is_given_not_verified_and_escaped(self) -> None:
        """The typed number is text on the card, flagged as not verified."""
        line = member_given_line("<b>1</b>")
        assert "&lt;b&gt;1&lt;/b&gt;" in line and "not verified" in line

    def test_topic_line_hides_internal_tags(self) -> None:
        """The forged-sender flag has its own line; the topic line shows the rest."""
        assert topic_line(("sender-not-verified", "borrowing"), ("sender-not-verified",)) == (
            "<b>Topic:</b> #borrowing")
        assert topic_line(()) == ""


class TestIntakeTopic:
    async def test_a_configured_topic_tags_only_the_new_conversation(
            self, store: FakeStore, clock: FakeClock) -> None:
        """The chosen topic is the new conversation's tag; a later message with another
        topic joins the open conversation and tags nothing."""
        router = Router(store, clock, policy=RouterPolicy(topics=frozenset({"a", "b"})))
        first = await router.intake.accept(Inbound(Channel.WIDGET, "v1", "Hi", topic="a"))
        later = await router.intake.accept(Inbound(Channel.WIDGET, "v1", "Hi", topic="b"))
        assert first.conversation.tags == ("a",) and later.conversation.tags == ("a",)

    async def test_a_topic_not_configured_is_refused(self, store: FakeStore,
                                                     clock: FakeClock) -> None:
        """Routing itself refuses a tag the library did not offer, whatever the adapter."""
        router = Router(store, clock, policy=RouterPolicy(topics=frozenset({"a"})))
        with pytest.raises(Refused) as caught:
            await router.intake.accept(Inbound(Channel.WIDGET, "v1", "Hi", topic="admin"))
        assert caught.value.code == "bad_topic" and not store.conversations_by_id

    async def test_identify_keeps_a_typed_member_number(self, store: FakeStore,
                                                        clock: FakeClock) -> None:
        """The number is kept as typed; an empty one keeps what was there."""
        router = Router(store, clock)
        contact = Contact(Channel.WIDGET, "v1")
        await router.intake.identify(contact, name="Sari", member_number="A1")
        patron = await router.intake.identify(contact, name="Sari")
        assert patron.member_number == "A1"
