"""The widget's hello: a visitor made in this hello is welcomed without a store read, a
returning one with their conversation, and both with the same welcome's shape."""

from __future__ import annotations

from typing import Any

from adapters.widget.hub import WidgetHub
from adapters.widget.steps import PatronSteps, WidgetSettings
from adapters.widget.tokens import VisitorTokens
from routing.model import Channel, Contact, PageInfo, Patron
from routing.router import Router
from tests.unit.fakes import FakeClock, FakeStore

PAGE = PageInfo(url="https://library.example/", title="Home", language="en", ip="192.0.2.7")


class CountingStore(FakeStore):
    """The fake store, counting who asked it for a patron by contact."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[Contact] = []

    async def patron_by_contact(self, contact: Contact) -> Patron | None:
        self.asked.append(contact)
        return await super().patron_by_contact(contact)


def steps(store: FakeStore, hub: WidgetHub | None = None) -> PatronSteps:
    return PatronSteps(Router(store, FakeClock()), hub or WidgetHub(),
                       VisitorTokens("a-test-secret-of-enough-length"),
                       WidgetSettings(new_visitors_per_ip_hour=1000))


class TestHello:
    async def test_a_new_visitor_is_welcomed_without_reading_the_store(self) -> None:
        """A visitor whose id this very hello made has no patron to look up: the
        welcome says so (no conversation, no history, no queue) and the store is not
        asked."""
        store, hub = CountingStore(), WidgetHub()
        presence = hub.watch_presence()
        widget = steps(store, hub)
        welcome, session = await widget.hello({"type": "hello", "token": None}, PAGE)
        assert store.asked == []
        assert store.new_contacts == [Contact(Channel.WIDGET, session.visitor)]
        assert welcome == {"type": "welcome", "token": welcome["token"],
                           "visitor": session.visitor, "conversation": None, "history": [],
                           "availability": widget.availability(), "queue": None}
        assert widget.identity.tokens.read(welcome["token"]) == (session.visitor, 0)
        assert [v.visitor for v in presence.visitors()] == [session.visitor]

    async def test_a_returning_visitor_gets_their_conversation_in_the_same_shape(
        self
    ) -> None:
        """With the token of an earlier hello the store is read and the welcome carries
        the conversation and its history, keys in the same order as a new visitor's."""
        store = CountingStore()
        widget = steps(store)
        first, session = await widget.hello({"type": "hello", "token": ""}, PAGE)
        await widget.send(session, {"type": "send", "cid": "c1", "text": "Open today?"}, None)
        again, _ = await widget.hello({"type": "hello", "token": first["token"]}, PAGE)
        assert store.new_contacts == [session.contact]  # the returning hello made none
        assert store.asked[-1] == Contact(Channel.WIDGET, session.visitor)
        assert list(again) == list(first)
        assert again["conversation"]["status"] == "open"
        assert [m["text"] for m in again["history"]] == ["Open today?"]

    async def test_the_page_language_becomes_one_of_the_librarys(self) -> None:
        """A browser's tag is matched to the library's languages, every time alike; an
        unknown one becomes "" and a known one keeps the page as it came."""
        store = FakeStore()
        widget = steps(store)
        hello: dict[str, Any] = {"type": "hello", "token": None}
        for _ in range(2):
            _, regional = await widget.hello(hello, PageInfo(language="en-GB"))
            _, unknown = await widget.hello(hello, PageInfo(language="xx-YY"))
            assert (regional.page.language, unknown.page.language) == ("en", "")
        _, same = await widget.hello(hello, PAGE)
        assert same.page is PAGE
