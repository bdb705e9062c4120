"""``/verify`` keeps the member number through the router, under the patron's locks: an
address the patron gives while the directory is asked is kept, not overwritten."""

from __future__ import annotations

import asyncio

from telegram import Bot

from adapters.directory.member import Member
from adapters.telegram.commands import Asked, DeskCommands, DeskHooks
from adapters.telegram.desk_base import DeskTarget
from routing.model import Channel, Contact, Inbound
from routing.router import Router
from tests.unit.fakes import FakeClock, FakeStore


async def directory(number: str) -> Member | None:
    return Member(number, "Sari Lestari", "active", "2099-12-31")


class TestVerifyUnderConcurrency:
    async def test_an_address_given_during_verify_is_kept(self) -> None:
        """The patron types their email while /verify is saving the member number: both
        stay on the patron, whichever read came first."""
        store, clock = FakeStore(), FakeClock()
        router = Router(store, clock)
        contact = Contact(Channel.WIDGET, "visitor-1")
        inbound = Inbound(Channel.WIDGET, "visitor-1", "Renew my loan?")
        accepted = await router.intake.accept(inbound)
        commands = DeskCommands(Bot("123:offline"), store, router, DeskTarget(-100, forum=True),
                                hooks=DeskHooks(verify=directory), clock=clock)
        asked = Asked("id-ana", "Ana", None, 7, accepted.conversation)

        pause = store.pause_after("get_patron")  # /verify has read the patron
        verifying = asyncio.create_task(commands.verify(asked, accepted.conversation, "12345"))
        await pause.reached.wait()
        typing = asyncio.create_task(router.intake.identify(contact, email="sari@example.org"))
        for _ in range(5):  # let the address be saved now, if nothing holds it back
            await asyncio.sleep(0)
        pause.release()
        await asyncio.gather(verifying, typing)

        patron = store.patrons[accepted.patron.id]
        assert (patron.member_number, patron.email) == ("12345", "sari@example.org")

    async def test_verify_answers_in_the_topic(self) -> None:
        """The standing goes to the conversation's topic as a desk answer (the outbox)."""
        store, clock = FakeStore(), FakeClock()
        router = Router(store, clock)
        inbound = Inbound(Channel.WIDGET, "visitor-1", "Renew my loan?")
        accepted = await router.intake.accept(inbound)
        commands = DeskCommands(Bot("123:offline"), store, router, DeskTarget(-100, forum=True),
                                hooks=DeskHooks(verify=directory), clock=clock)
        asked = Asked("id-ana", "Ana", None, 7, accepted.conversation)

        await commands.verify(asked, accepted.conversation, "12345")

        answers = [m for m in store.history_of(accepted.conversation.id)
                   if m.event == "desk_answer"]
        assert len(answers) == 1
        assert store.patrons[accepted.patron.id].member_number == "12345"


class TestVerifyTheTypedNumber:
    async def test_verify_alone_checks_the_number_the_patron_typed(self) -> None:
        """The pre-chat form's member number is what /verify without a number asks the
        directory about; the card then shows the directory's answer."""
        store, clock = FakeStore(), FakeClock()
        router = Router(store, clock)
        asked_for: list[str] = []

        async def lookup(number: str) -> Member | None:
            asked_for.append(number)
            return await directory(number)

        await router.intake.identify(Contact(Channel.WIDGET, "visitor-1"), member_number="A77")
        accepted = await router.intake.accept(Inbound(Channel.WIDGET, "visitor-1", "Renew?"))
        commands = DeskCommands(Bot("123:offline"), store, router, DeskTarget(-100, forum=True),
                                hooks=DeskHooks(verify=lookup), clock=clock)
        await commands.verify(Asked("id-ana", "Ana", None, 7, accepted.conversation),
                              accepted.conversation, "")
        assert asked_for == ["A77"]
