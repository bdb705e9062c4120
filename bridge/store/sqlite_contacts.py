"""The contact-state role on SQLite (``routing.ports.ContactStates``): what a channel
keeps about one contact point (a Telegram chat's language and reachability, a widget
visitor's token generation), in columns of its own (migration 0008)."""

from __future__ import annotations

from bridge.store.sqlite_role import SqliteRole, first
from routing.model import Contact
from routing.ports import ContactState

__all__ = ["WRITES", "SqliteContactStates"]

WRITES = {  # op kind -> statement
    "save_contact_state": (
        "INSERT INTO contact_states (channel, address, language, unreachable_since,"
        " token_generation) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (channel, address) DO UPDATE SET language = excluded.language,"
        " unreachable_since = excluded.unreachable_since,"
        " token_generation = excluded.token_generation"
    ),
}

_STATE = (
    "SELECT language, unreachable_since, token_generation FROM contact_states"
    " WHERE channel = ? AND address = ?"
)


class SqliteContactStates(SqliteRole):
    async def contact_state(self, contact: Contact) -> ContactState | None:
        row = await first(self._db(), _STATE, (contact.channel.value, contact.address))
        return None if row is None else ContactState(str(row[0]), float(row[1]), int(row[2]))

    async def save_contact_state(self, contact: Contact, state: ContactState) -> None:
        await self._write("save_contact_state", contact.channel.value, contact.address,
                          state.language, state.unreachable_since, state.token_generation)
