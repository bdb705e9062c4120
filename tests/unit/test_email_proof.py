"""The address confirmation codes and the mail quota (routing/email_proof.py,
routing/mail_quota.py) over the recording fake store and a hand-moved clock."""

from __future__ import annotations

import asyncio

from routing.email_proof import EmailProofs, ProofPolicy
from routing.mail_quota import DAY, MailQuota
from routing.model import Channel, Contact
from tests.unit.fakes import FakeClock, FakeStore

VISITOR = Contact(Channel.WIDGET, "v1")


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


class TestEmailProofs:
    async def test_the_right_code_proves_its_address_once(
        self, store: FakeStore, clock: FakeClock
    ) -> None:
        """A code proves the address it was sent to, for the contact that asked, once."""
        proofs = EmailProofs(store, clock)
        code = await proofs.issue(VISITOR, "dewi@example.org")
        assert code is not None and len(code) == 6 and code.isdigit()
        assert await proofs.check(Contact(Channel.WIDGET, "v2"), code) is None
        assert await proofs.check(VISITOR, code) == "dewi@example.org"
        assert await proofs.check(VISITOR, code) is None

    async def test_wrong_guesses_use_the_code_up(self, store: FakeStore, clock: FakeClock) -> None:
        """After ``tries`` wrong guesses even the right code proves nothing."""
        proofs = EmailProofs(store, clock, policy=ProofPolicy(tries=5))
        code = await proofs.issue(VISITOR, "dewi@example.org")
        assert code is not None
        for _ in range(5):
            assert await proofs.check(VISITOR, wrong(code)) is None
        assert await proofs.check(VISITOR, code) is None

    async def test_a_code_expires(self, store: FakeStore, clock: FakeClock) -> None:
        """A code older than its ttl proves nothing."""
        proofs = EmailProofs(store, clock, policy=ProofPolicy(ttl=60))
        code = await proofs.issue(VISITOR, "dewi@example.org")
        assert code is not None
        clock.advance(61)
        assert await proofs.check(VISITOR, code) is None

    async def test_codes_per_address_and_per_contact_are_limited_a_day(
        self, store: FakeStore, clock: FakeClock
    ) -> None:
        """An address gets at most ``per_address`` codes a day whoever asks, and one
        contact may ask at most ``per_contact`` times; a day later both may again."""
        proofs = EmailProofs(store, clock, policy=ProofPolicy(per_address=2, per_contact=3))
        asked = [await proofs.issue(Contact(Channel.WIDGET, f"v{n}"), "Victim@example.org")
                 for n in range(3)]
        assert [a is not None for a in asked] == [True, True, False]
        mine = [await proofs.issue(Contact(Channel.WIDGET, "mine"), f"a{n}@example.org")
                for n in range(4)]
        assert [m is not None for m in mine] == [True, True, True, False]
        clock.advance(DAY)
        assert await proofs.issue(VISITOR, "victim@example.org") is not None


class TestMailQuota:
    async def test_parallel_takers_never_share_the_last_place(
        self, store: FakeStore, clock: FakeClock
    ) -> None:
        """Twenty callers at once for one address and a quota of one: one yes."""
        quota = MailQuota(store, clock)
        answers = await asyncio.gather(*(quota.take("ack", "a@example.org", 1)
                                         for _ in range(20)))
        assert answers.count(True) == 1
        assert await quota.take("ack", "A@Example.org ", 1) is False
        assert await quota.take("code", "a@example.org", 1) is True
