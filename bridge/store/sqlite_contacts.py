"""The contact-state role on SQLite (``routing.ports.ContactStates``): what a channel
keeps about one contact point (a Telegram chat's language and reachability, a widget
visitor's token generation, a code pending for a typed address), in columns of its own
(migration 0007)."""

from __future__ import annotations

from bridge.store.sqlite_role import SqliteRole, first
from routing.model import Contact
from routing.ports import ContactState, EmailProof

__all__ = ["WRITES", "SqliteContactStates"]

WRITES = {  # op kind -> statement
    "save_contact_state": (
        "INSERT INTO contact_states (channel, address, language, unreachable_since,"
        " token_generation, proof_email, proof_salt, proof_digest, proof_expires,"
        " proof_tries) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (channel, address) DO UPDATE SET language = excluded.language,"
        " unreachable_since = excluded.unreachable_since,"
        " token_generation = excluded.token_generation, proof_email = excluded.proof_email,"
        " proof_salt = excluded.proof_salt, proof_digest = excluded.proof_digest,"
        " proof_expires = excluded.proof_expires, proof_tries = excluded.proof_tries"
    ),
}

_STATE = (
    "SELECT language, unreachable_since, token_generation, proof_email, proof_salt,"
    " proof_digest, proof_expires, proof_tries FROM contact_states"
    " WHERE channel = ? AND address = ?"
)


class SqliteContactStates(SqliteRole):
    async def contact_state(self, contact: Contact) -> ContactState | None:
        row = await first(self._db(), _STATE, (contact.channel.value, contact.address))
        if row is None:
            return None
        proof = None if row[3] is None else EmailProof(row[3], row[4], row[5], row[6], row[7])
        return ContactState(str(row[0]), float(row[1]), int(row[2]), proof)

    async def save_contact_state(self, contact: Contact, state: ContactState) -> None:
        proof = state.email_proof
        pending = (None,) * 5 if proof is None else (
            proof.email, proof.salt, proof.digest, proof.expires, proof.tries)
        await self._write("save_contact_state", contact.channel.value, contact.address,
                          state.language, state.unreachable_since, state.token_generation,
                          *pending)
