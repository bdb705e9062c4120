"""The transcript and retention roles on SQLite (``routing.transcript_roles``).

Words are searched in ``messages_fts`` (migration 0012), an external-content FTS5
index kept in step with ``messages`` by triggers. Every other filter is a plain
condition on ``conversations``; results are newest first. Excerpts carry the matched
words between ``MARK_START`` and ``MARK_END`` (control characters no message holds), so
the page escapes the text and then marks them.

The retention deletes are one write op (``WRITES``) the group commit applies like any
other, so they never race the writer.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Awaitable, Callable, Collection, Sequence
from typing import Any

from bridge.store.sqlite_role import SqliteRole, rows
from bridge.store.sqlite_rows import CONVERSATION_COLUMNS, conversation_from_row
from routing.model import Conversation, Patron
from routing.transcript_roles import TranscriptHit, TranscriptQuery

__all__ = ["MARK_END", "MARK_START", "WRITES", "SqliteTranscripts", "fts_query"]

MARK_START, MARK_END = "\x02", "\x03"
_IDS = "SELECT value FROM json_each(?)"
_FORGET = (
        f"DELETE FROM deliveries WHERE conversation_id IN ({_IDS}) AND state != 'pending'",
        f"DELETE FROM links WHERE conversation_id IN ({_IDS})",
        f"DELETE FROM desk_cards WHERE conversation_id IN ({_IDS})",
        f"DELETE FROM mail_threads WHERE conversation_id IN ({_IDS})",
        f"DELETE FROM messages WHERE conversation_id IN ({_IDS})",
)


def _forget_messages(conn: sqlite3.Connection, args: tuple[Any, ...]) -> int:
    """One op: the statements in order for a JSON array of conversation ids; returns
    how many messages went."""
    deleted = 0
    for sql in _FORGET:
        deleted = conn.execute(sql, args).rowcount
    return deleted


# op kind -> what the writer runs for one op (BatchWriter._script)
WRITES = {"forget_messages": _forget_messages}
_COLUMNS = ", ".join(f"c.{name.strip()}" for name in CONVERSATION_COLUMNS.split(","))
_MATCHED = ("c.id IN (SELECT m.conversation_id FROM messages_fts AS f"
            " JOIN messages AS m ON m.rowid = f.rowid WHERE messages_fts MATCH ?)")
# CROSS JOIN keeps messages outside: each of the chunk's messages is one rowid lookup in
# the index, instead of the word's whole doclist read for a few conversations.
_MATCHED_IN = ("SELECT DISTINCT m.conversation_id FROM messages AS m"
               " CROSS JOIN messages_fts AS f ON f.rowid = m.rowid"
               f" WHERE m.conversation_id IN ({_IDS}) AND messages_fts MATCH ?")
_RARE = 20_000  # matching messages gathered at once before the chunked walk pays
_CHUNK = 400
_WORD = re.compile(r"\w", re.UNICODE)
_MAX_WORDS = 16


def fts_query(words: str) -> str:
    """The user's words as an FTS5 query: each a quoted term (a trailing ``*`` kept as a
    prefix search), all required. Nothing the user types is FTS5 syntax."""
    terms = []
    for word in words.split():
        prefix = word.endswith("*")
        word = word.rstrip("*").replace('"', " ").strip()
        if not _WORD.search(word):
            continue
        terms.append(f'"{word}"' + ("*" if prefix else ""))
    if not terms:
        raise ValueError("search for at least one word of letters or digits")
    if len(terms) > _MAX_WORDS:
        raise ValueError(f"search for at most {_MAX_WORDS} words at once")
    return " ".join(terms)


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _conditions(query: TranscriptQuery) -> tuple[list[str], list[Any]]:
    """Every filter but the words, as SQL over ``conversations AS c``."""
    where: list[str] = []
    params: list[Any] = []
    if query.patron.strip():
        who = query.patron.strip()
        where.append("c.patron_id IN (SELECT id FROM patrons WHERE name LIKE ? ESCAPE '\\'"
                     " OR email LIKE ? ESCAPE '\\'"
                     " UNION SELECT patron_id FROM contacts WHERE address IN (?, ?))")
        params += [_like(who), _like(who), who, who.lower()]
    if query.librarian.strip():
        where.append("(c.claimed_by LIKE ? ESCAPE '\\' OR c.claimed_by_id = ?)")
        params += [_like(query.librarian.strip()), query.librarian.strip()]
    if query.tag.strip():
        where.append("EXISTS (SELECT 1 FROM json_each(c.tags) WHERE value = ?)")
        params.append(query.tag.strip().lstrip("#").lower())
    for column, value in (("c.origin = ?", query.channel), ("c.rating = ?", query.rating),
                          ("c.created_at >= ?", query.since),
                          ("c.created_at < ?", query.until)):
        if value is not None and value != "":
            where.append(column)
            params.append(value)
    return where, params


class SqliteTranscripts(SqliteRole):
    rare_matches = _RARE  # tests set 1 to run the chunked walk over small data
    get_patrons: Callable[[Collection[str]], Awaitable[dict[str, Patron]]]

    async def search_transcripts(
        self, query: TranscriptQuery, limit: int = 50, offset: int = 0
    ) -> list[TranscriptHit]:
        where, params = _conditions(query)
        if not query.words.strip():
            found = await self._newest(where, params, limit, offset)
        elif await self._rare(match := fts_query(query.words)):
            where.append(_MATCHED)
            found = await self._newest(where, [*params, match], limit, offset)
        else:
            found = await self._dense(where, params, match, limit + offset)
            found = found[offset:offset + limit]
        patrons = await self.get_patrons({c.patron_id for c in found})
        excerpts = await self._excerpts(query, [c.id for c in found])
        return [TranscriptHit(c, patrons.get(c.patron_id), excerpts.get(c.id, ""))
                for c in found]

    async def _newest(self, where: list[str], params: list[Any], limit: int,
                      offset: int) -> list[Conversation]:
        sql = (f"SELECT {_COLUMNS} FROM conversations AS c"
               + (" WHERE " + " AND ".join(where) if where else "")
               + " ORDER BY c.created_at DESC, c.id DESC LIMIT ? OFFSET ?")
        return [conversation_from_row(r)
                for r in await rows(self._db(), sql, [*params, limit, offset])]

    async def _rare(self, match: str) -> bool:
        """Whether fewer than ``_RARE`` messages match: then the matches are gathered
        first; a common word is better checked conversation by conversation."""
        sql = "SELECT count(*) FROM (SELECT 1 FROM messages_fts WHERE messages_fts MATCH ? LIMIT ?)"
        counted = await rows(self._db(), sql, (match, self.rare_matches))
        return bool(counted[0][0] < self.rare_matches)

    async def _dense(self, where: list[str], params: list[Any], match: str,
                     wanted: int) -> list[Conversation]:
        """Conversations newest first, a chunk at a time, kept when one of their
        messages matches (looked up by rowid in the index, never the whole doclist)."""
        found: list[Conversation] = []
        after: tuple[float, str] = (float("inf"), "")
        while len(found) < wanted:
            sql = (f"SELECT {_COLUMNS} FROM conversations AS c WHERE "
                   + " AND ".join([*where, "(c.created_at, c.id) < (?, ?)"])
                   + " ORDER BY c.created_at DESC, c.id DESC LIMIT ?")
            chunk = [conversation_from_row(r) for r in await rows(
                self._db(), sql, [*params, *after, _CHUNK])]
            if not chunk:
                break
            hit = {r[0] for r in await rows(self._db(), _MATCHED_IN, (
                json.dumps([c.id for c in chunk]), match))}
            found.extend(c for c in chunk if c.id in hit)
            after = (chunk[-1].created_at, chunk[-1].id)
        return found[:wanted]

    async def _excerpts(self, query: TranscriptQuery, ids: list[str]) -> dict[str, str]:
        if not ids or not query.words.strip():
            return {}
        sql = (f"SELECT m.conversation_id, snippet(messages_fts, 0, '{MARK_START}',"
               f" '{MARK_END}', '…', 16) FROM messages_fts AS f"
               " JOIN messages AS m ON m.rowid = f.rowid"
               f" WHERE messages_fts MATCH ? AND m.conversation_id IN ({_IDS})"
               " ORDER BY m.rowid")
        found: dict[str, str] = {}
        for conversation_id, excerpt in await rows(
                self._db(), sql, (fts_query(query.words), json.dumps(ids))):
            found.setdefault(conversation_id, excerpt)
        return found

    # -- retention ---------------------------------------------------------------------

    async def stale_transcripts(self, before: float, limit: int = 500) -> list[Conversation]:
        sql = (f"SELECT {_COLUMNS} FROM conversations AS c WHERE c.status = 'closed'"
               " AND c.updated_at < ? AND c.created_at < ?"
               " AND EXISTS (SELECT 1 FROM messages AS m WHERE m.conversation_id = c.id)"
               " AND NOT EXISTS (SELECT 1 FROM deliveries AS d WHERE d.state = 'pending'"
               " AND d.conversation_id = c.id)"
               " ORDER BY c.created_at, c.id LIMIT ?")
        return [conversation_from_row(r)
                for r in await rows(self._db(), sql, (before, before, limit))]

    async def forget_messages(self, conversation_ids: Sequence[str]) -> int:
        if not conversation_ids:
            return 0
        deleted: int = await self._write("forget_messages", json.dumps(list(conversation_ids)))
        return deleted

    async def stale_pages(self, before: float, limit: int = 500) -> list[Conversation]:
        sql = (f"SELECT {_COLUMNS} FROM conversations AS c WHERE c.created_at < ?"
               " AND c.page != '{}' ORDER BY c.created_at, c.id LIMIT ?")
        return [conversation_from_row(r) for r in await rows(self._db(), sql, (before, limit))]

    async def stale_visitors(self, before: float, limit: int = 500) -> list[Patron]:
        sql = ("SELECT DISTINCT k.patron_id FROM contacts AS k WHERE k.channel = 'widget'"
               " AND NOT EXISTS (SELECT 1 FROM conversations AS c"
               " WHERE c.patron_id = k.patron_id AND c.updated_at >= ?)"
               " AND (SELECT created_at FROM patrons WHERE id = k.patron_id) < ? LIMIT ?")
        ids = [r[0] for r in await rows(self._db(), sql, (before, before, limit))]
        return list((await self.get_patrons(ids)).values())

    async def referenced_digests(self) -> set[str]:
        sql = ("SELECT DISTINCT json_extract(j.value, '$[4]') FROM messages AS m,"
               " json_each(m.attachments) AS j WHERE m.attachments != ''")
        return {r[0] for r in await rows(self._db(), sql, ()) if r[0]}
