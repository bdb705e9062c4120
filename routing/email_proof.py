"""One-time codes that prove a patron reads the email address they typed.

An address typed into the widget is only where that patron's own answers may go; it
joins their email contact (so mail from it reaches their conversation) once they type
back the code the library mailed there (``Router.confirm_email``). A code is six digits,
lives ``ttl`` seconds, allows ``tries`` guesses and is kept only as a salted hash; each
address gets at most ``per_address`` codes a day and each contact may ask
``per_contact`` times a day, so neither guessing nor mailing strangers pays.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, replace
from typing import Protocol

from routing.mail_quota import MailQuota
from routing.model import Contact
from routing.ports import Clock, ContactState, ContactStates, Cursors, EmailProof

__all__ = ["EmailProofs", "ProofPolicy", "ProofStore"]



@dataclass(frozen=True, slots=True)
class ProofPolicy:
    ttl: float = 1800.0
    tries: int = 5
    per_address: int = 3
    per_contact: int = 5


class ProofStore(ContactStates, Cursors, Protocol):
    """Where a pending code is kept (the contact's state) and the daily quota (cursors)."""


class EmailProofs:
    def __init__(self, state: ProofStore, clock: Clock, *, policy: ProofPolicy | None = None,
                 quota: MailQuota | None = None) -> None:
        self._state = state
        self._clock = clock
        self._policy = policy or ProofPolicy()
        self._quota = quota or MailQuota(state, clock)

    async def issue(self, contact: Contact, email: str) -> str | None:
        """A new code for ``email`` (the one before it no longer counts), or None when
        the address or the contact had its codes for today."""
        who = f"{contact.channel.value}:{contact.address}"
        if not await self._quota.take("proof-by", who, self._policy.per_contact):
            return None
        if not await self._quota.take("proof-to", email, self._policy.per_address):
            return None
        code = f"{secrets.randbelow(10**6):06d}"
        salt = secrets.token_hex(8)
        await self._keep(contact, EmailProof(email, salt, _digest(salt, code),
                                             self._clock.now() + self._policy.ttl, 0))
        return code

    async def check(self, contact: Contact, code: str) -> str | None:
        """The address ``code`` proves for this contact, or None (wrong, expired, used
        up). A right code is spent; a wrong one costs a try."""
        kept = await self._state.contact_state(contact)
        pending = None if kept is None else kept.email_proof
        if pending is None or self._clock.now() > pending.expires:
            return None
        if pending.tries >= self._policy.tries:
            return None
        if hmac.compare_digest(pending.digest, _digest(pending.salt, code.strip())):
            await self._keep(contact, None)
            return pending.email
        await self._keep(contact, replace(pending, tries=pending.tries + 1))
        return None

    async def _keep(self, contact: Contact, proof: EmailProof | None) -> None:
        kept = await self._state.contact_state(contact) or ContactState()
        await self._state.save_contact_state(contact, replace(kept, email_proof=proof))


def _digest(salt: str, code: str) -> str:
    return hashlib.sha256(f"{salt}\0{code}".encode("utf-8", "replace")).hexdigest()
