"""router.desk.greet: a librarian opens a conversation with a visitor who has not written."""

from __future__ import annotations

import pytest

from routing.conversation_log import Refused
from routing.greeting import GREETED_TAG, GREETING_EVENT, Greeting
from routing.model import Channel, Contact, DeliveryKind, Direction, Inbound, PageInfo, Status
from routing.router import Router
from tests.unit.fakes import FakeClock, FakeStore

VISITOR = Contact(Channel.WIDGET, "visitor-1")
PAGE = PageInfo(url="https://library.example/opac", title="Catalogue")


def greeting(text: str = "Hello! Can I help?", **kw: str) -> Greeting:
    return Greeting(VISITOR, PAGE, "id-ana", "Ana", text, label="v-7f3a", **kw)


class TestGreet:
    async def test_opens_a_claimed_conversation_with_the_greeting_first(
        self, store: FakeStore, clock: FakeClock
    ) -> None:
        """The visitor gets a patron record and a conversation claimed by the greeter;
        the greeting goes to their widget and a line to the desk opens the topic."""
        router = Router(store, clock)
        conversation, message = await router.desk.greet(greeting())
        assert conversation.claimed_by_id == "id-ana" and conversation.claimed_by == "Ana"
        assert conversation.tags == (GREETED_TAG,) and conversation.page == PAGE
        assert message.direction is Direction.LIBRARIAN and message.event == GREETING_EVENT
        assert [d.kind for d in store.deliveries_of(message.id)] == [DeliveryKind.TO_PATRON]
        notes = [m for m in store.history_of(conversation.id) if m.direction is Direction.NOTE]
        assert notes[0].text == "Ana greeted visitor v-7f3a: Hello! Can I help?"
        assert [d.kind for d in store.deliveries_of(notes[0].id)] == [DeliveryKind.DESK_NOTICE]

    async def test_once_a_day_unless_answered(self, store: FakeStore, clock: FakeClock) -> None:
        """A second greeting the same day is refused while the visitor is silent; a day
        later it joins the same conversation; once they answered, the chat goes on in
        its topic and /greet says so."""
        router = Router(store, clock)
        first, _ = await router.desk.greet(greeting())
        with pytest.raises(Refused) as refused:
            await router.desk.greet(greeting("Hello?"))
        assert refused.value.code == "greeted_today"
        clock.advance(86400)
        again, _ = await router.desk.greet(greeting("Good morning!"))
        assert again.id == first.id
        answer = await router.intake.accept(Inbound(Channel.WIDGET, "visitor-1", "Yes!"))
        assert answer.conversation.id == first.id  # the patron's answer continues it
        with pytest.raises(Refused) as busy:
            await router.desk.greet(greeting("More?"))
        assert busy.value.code == "in_conversation"

    async def test_answered_and_closed_may_be_greeted_again(
        self, store: FakeStore, clock: FakeClock
    ) -> None:
        """After an answered greeting's conversation is closed, a new greeting the same
        day opens a new conversation."""
        router = Router(store, clock)
        first, _ = await router.desk.greet(greeting())
        await router.intake.accept(Inbound(Channel.WIDGET, "visitor-1", "Thanks, all good"))
        await router.claims.close(first.id, "id-ana", "Ana")
        second, _ = await router.desk.greet(greeting("Welcome back!"))
        assert second.id != first.id and second.status is Status.OPEN

    async def test_empty_and_blocked(self, store: FakeStore, clock: FakeClock) -> None:
        """An empty greeting and a blocked visitor are refused; nothing is stored."""
        router = Router(store, clock)
        with pytest.raises(Refused) as empty:
            await router.desk.greet(greeting("   "))
        assert empty.value.code == "empty"
        accepted = await router.intake.accept(Inbound(Channel.WIDGET, "visitor-1", "spam"))
        await router.moderation.block(accepted.conversation.id, None, "Ana")
        await router.claims.close(accepted.conversation.id, "id-ana", "Ana")
        with pytest.raises(Refused) as blocked:
            await router.desk.greet(greeting())
        assert blocked.value.code == "blocked"
