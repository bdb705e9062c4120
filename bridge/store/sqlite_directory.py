"""The directory and blocks roles on SQLite (``routing.ports.Directory``, ``Blocks``):
patrons with their contacts, librarians, blocks. Every statement of the role is here;
``sqlite_writer`` batches the writes (a patron's row, then its contacts replaced)."""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Sequence

from bridge.store.sqlite_cache import BlockTable, Missing
from bridge.store.sqlite_role import SqliteRole, chunks, first, marks, rows
from bridge.store.sqlite_rows import (
    BLOCK_COLUMNS,
    LIBRARIAN_COLUMNS,
    Row,
    block_from_row,
    block_row,
    contact_rows,
    librarian_from_row,
    librarian_row,
    patron_from_rows,
    patron_row,
)
from routing.model import Block, BlockKind, Contact, Librarian, Patron

__all__ = [
    "DELETE_CONTACTS",
    "INSERT_CONTACT",
    "UPSERT_PATRON",
    "WRITES",
    "SqliteBlocks",
    "SqliteDirectory",
]

WRITES = {  # op kind -> statement
    "save_block": (
        f"INSERT INTO blocks ({BLOCK_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (id) DO UPDATE SET until = excluded.until"
    ),
    "remove_block": "DELETE FROM blocks WHERE id = ?",
    "save_librarian": (
        f"INSERT INTO librarians ({LIBRARIAN_COLUMNS}) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (id) DO UPDATE SET name = excluded.name, username = excluded.username,"
        " on_duty = excluded.on_duty, changed_at = excluded.changed_at"
    ),
}

UPSERT_PATRON = (
    "INSERT INTO patrons (id, name, email, member_number, created_at, email_confirmed, language)"
    " VALUES (?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (id) DO UPDATE SET name = excluded.name, email = excluded.email,"
    " email_confirmed = excluded.email_confirmed, language = excluded.language,"
    " member_number = excluded.member_number, created_at = excluded.created_at"
)
DELETE_CONTACTS = "DELETE FROM contacts WHERE patron_id = ?"
INSERT_CONTACT = "INSERT INTO contacts (channel, address, patron_id, position) VALUES (?, ?, ?, ?)"

_PATRON_WITH_CONTACTS = (
    "SELECT p.id, p.name, p.email, p.member_number, p.created_at, c.channel, c.address,"
    " p.email_confirmed, p.language"
    " FROM patrons AS p LEFT JOIN contacts AS c ON c.patron_id = p.id"
)
_LIBRARIAN = f"SELECT {LIBRARIAN_COLUMNS} FROM librarians"


class SqliteDirectory(SqliteRole):
    async def get_patron(self, patron_id: str) -> Patron | None:
        hit = self._cache.patrons.get(patron_id)
        if not isinstance(hit, Missing):
            self._db()
            return hit
        generation = self._cache.patron_generation
        sql = f"{_PATRON_WITH_CONTACTS} WHERE p.id = ? ORDER BY c.position"
        patron = patron_from_rows(await rows(self._db(), sql, (patron_id,)))
        self._cache.patron_read(generation, None, patron, patron_id)
        return patron

    async def get_patrons(self, patron_ids: Collection[str]) -> dict[str, Patron]:
        found, missed = self._cached(self._cache.patrons, patron_ids)
        if missed:
            generation = self._cache.patron_generation
            for patron in await _patrons_by_id(self, missed):
                self._cache.patron_read(generation, None, patron)
                found[patron.id] = patron
        return found

    async def patron_by_contact(self, contact: Contact) -> Patron | None:
        patron_id = self._cache.contacts.get(contact)
        if patron_id is None:
            self._db()
            return None
        if isinstance(patron_id, str):
            # A hit (nearly every message) is taken here: no coroutine to make for it.
            patron = self._cache.patrons.get(patron_id)
            if not isinstance(patron, Missing):
                self._db()  # raises when not open, as get_patron does
            else:
                patron = await self.get_patron(patron_id)
            if patron is not None and contact in patron.contacts:
                return patron
            self._cache.contacts.pop(contact)  # the contact moved or was removed
        return await self._shared_patron_read(contact)

    async def _shared_patron_read(self, contact: Contact) -> Patron | None:
        """One read of a contact's patron for every caller that misses while it runs (a
        new visitor's first messages arrive together and each asks). A caller that
        joins takes its answer only if nothing was written to the contact or the patron
        found since the read began; else it reads again."""
        under_way = self._patron_reads.get(contact)
        if under_way is not None and self._cache.patron_quiet_since(under_way[0], (contact,)):
            began, read = under_way
            patron = await asyncio.shield(read)
            written = (contact,) if patron is None else (patron.id, *patron.contacts)
            if self._cache.patron_quiet_since(began, written):
                return patron
        began = self._cache.patron_generation
        read = asyncio.ensure_future(self._read_patron(contact, began))
        self._patron_reads[contact] = (began, read)
        read.add_done_callback(lambda _done: self._forget_read(contact, read))
        return await asyncio.shield(read)

    async def _read_patron(self, contact: Contact, generation: int) -> Patron | None:
        sql = (f"{_PATRON_WITH_CONTACTS} WHERE p.id = (SELECT patron_id FROM contacts"
               " WHERE channel = ? AND address = ?) ORDER BY c.position")
        found = await rows(self._db(), sql, (contact.channel.value, contact.address))
        patron = patron_from_rows(found)
        self._cache.patron_read(generation, contact, patron)
        return patron

    def _forget_read(self, contact: Contact, read: asyncio.Future[Patron | None]) -> None:
        if self._patron_reads.get(contact, (0, None))[1] is read:
            del self._patron_reads[contact]

    def new_contact(self, contact: Contact) -> None:
        self._cache.contact_made(contact)

    async def save_patron(self, patron: Patron) -> None:
        await self._write("save_patron", patron_row(patron), contact_rows(patron), patron)

    async def save_librarian(self, librarian: Librarian) -> None:
        await self._write("save_librarian", *librarian_row(librarian))

    async def get_librarian(self, librarian_id: str) -> Librarian | None:
        row = await first(self._db(), f"{_LIBRARIAN} WHERE id = ?", (librarian_id,))
        return None if row is None else librarian_from_row(row)

    async def librarian_by_username(self, username: str) -> Librarian | None:
        name = username.lstrip("@").lower()
        if not name:
            return None
        sql = (f"{_LIBRARIAN} WHERE username = ? AND username != ''"
               " ORDER BY changed_at DESC LIMIT 1")
        row = await first(self._db(), sql, (name,))
        return None if row is None else librarian_from_row(row)

    async def librarians_on_duty(self) -> list[Librarian]:
        sql = f"{_LIBRARIAN} WHERE on_duty = 1 ORDER BY changed_at, id"
        return [librarian_from_row(r) for r in await rows(self._db(), sql, ())]


async def _patrons_by_id(role: SqliteRole, patron_ids: Collection[str]) -> list[Patron]:
    found: list[Patron] = []
    for part in chunks(patron_ids):
        sql = f"{_PATRON_WITH_CONTACTS} WHERE p.id IN ({marks(part)}) ORDER BY p.id, c.position"
        by_patron: dict[str, list[Row]] = {}
        for row in await rows(role._db(), sql, part):
            by_patron.setdefault(row[0], []).append(row)
        found += [p for p in map(patron_from_rows, by_patron.values()) if p is not None]
    return found


class SqliteBlocks(SqliteRole):
    """Blocks are few and checked on every patron message: kept in memory, written
    through on commit (right because one process owns the file, as for the cache)."""

    async def save_block(self, block: Block) -> None:
        await self._write("save_block", *block_row(block))

    async def remove_block(self, block_id: str) -> None:
        await self._write("remove_block", block_id)

    async def _all_blocks(self) -> BlockTable:
        if self._blocks is None:
            async with self._blocks_loading:  # a restart's first hundreds of messages: one read
                sql = f"SELECT {BLOCK_COLUMNS} FROM blocks ORDER BY created_at, id"
                while self._blocks is None:  # again if a block changed while it read
                    changes = self._blocks_changes
                    loaded = await rows(self._db(), sql, ())
                    if changes == self._blocks_changes:  # only this load sets it
                        self._blocks = BlockTable(map(block_from_row, loaded))
        return self._blocks

    async def find_block(
        self, keys: Sequence[tuple[BlockKind, str]], now: float
    ) -> Block | None:
        # Loaded (every message after the first): no await, the table answers at once.
        blocks = self._blocks if self._blocks is not None else await self._all_blocks()
        return blocks.find(keys, now)

    async def active_blocks(self, now: float) -> list[Block]:
        blocks = await self._all_blocks()
        return sorted((b for b in blocks.by_id.values() if b.active(now)),
                      key=lambda b: (b.created_at, b.id))
