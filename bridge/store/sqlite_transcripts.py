"""The transcript and retention roles on SQLite (``routing.transcript_roles``).

Words are searched in ``messages_fts`` (migration 0012), an external-content FTS5
index kept in step with ``messages`` by the writer (``BatchWriter._append``, once per
group commit) and a delete trigger. Every other filter is a plain condition on
``conversations``; results are newest first. Excerpts carry the matched words between
``MARK_START`` and ``MARK_END`` (control characters no message holds), so
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

from bridge.store.sqlite_role import SqliteRole, chunks, rows
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
# The words' matches newest first, straight from the index's doclist (FTS5 consumes
# ORDER BY rowid DESC and the rowid bounds), each joined to its conversation by rowid.
_MATCHES = ("SELECT f.rowid, m.conversation_id FROM messages_fts AS f"
            " JOIN messages AS m ON m.rowid = f.rowid"
            " WHERE messages_fts MATCH ? AND f.rowid < ? AND f.rowid >= ?"
            " ORDER BY f.rowid DESC LIMIT ?")
_FIRST_CHUNK, _LAST_CHUNK = 200, 20_000
_FEW = 200  # filters leaving at most this many conversations: each is looked into
_NEWEST_IN_SPAN = ("SELECT ?, (SELECT f.rowid FROM messages_fts AS f"
                   " JOIN messages AS m ON m.rowid = f.rowid WHERE messages_fts MATCH ?"
                   " AND f.rowid BETWEEN ? AND ? AND m.conversation_id = ?"
                   " ORDER BY f.rowid DESC LIMIT 1)")
_SLACK = 86_400.0  # messages stored out of time order by at most this much
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
    first_chunk = _FIRST_CHUNK  # tests set 1: many chunks over a few messages
    few_conversations = _FEW  # tests set 0: filters then go through the chunks too
    get_patrons: Callable[[Collection[str]], Awaitable[dict[str, Patron]]]

    async def search_transcripts(
        self, query: TranscriptQuery, limit: int = 50, offset: int = 0
    ) -> list[TranscriptHit]:
        where, params = _conditions(query)
        excerpts: dict[str, str] = {}
        if query.words.strip():
            match = fts_query(query.words)
            newest: dict[str, int] = {}  # conversation -> its newest matching message
            few = await self._few(where, params)
            if few is not None:  # filters that leave few conversations: look in each
                newest = await self._within(match, few)
                found = sorted((c for c in few if c.id in newest),
                               key=lambda c: -newest[c.id])[offset:offset + limit]
            else:
                found = await self._by_words(query, match, where, params, limit + offset,
                                             newest)
                found = found[offset:offset + limit]
            excerpts = await self._excerpts(match, {c.id: newest[c.id] for c in found})
        else:
            found = await self._newest(where, params, limit, offset)
        patrons = await self.get_patrons({c.patron_id for c in found})
        return [TranscriptHit(c, patrons.get(c.patron_id), excerpts.get(c.id, ""))
                for c in found]

    async def _newest(self, where: list[str], params: list[Any], limit: int,
                      offset: int) -> list[Conversation]:
        sql = (f"SELECT {_COLUMNS} FROM conversations AS c"
               + (" WHERE " + " AND ".join(where) if where else "")
               + " ORDER BY c.created_at DESC, c.id DESC LIMIT ? OFFSET ?")
        return [conversation_from_row(r)
                for r in await rows(self._report_db(), sql, [*params, limit, offset])]

    async def _few(self, where: list[str], params: list[Any]) -> list[Conversation] | None:
        """The conversations the filters leave, newest first, when they are few."""
        if not where:
            return None
        found = await self._newest(where, params, self.few_conversations + 1, 0)
        return found if len(found) <= self.few_conversations else None

    async def _within(self, match: str, conversations: list[Conversation]) -> dict[str, int]:
        """Each conversation's newest matching message: one bounded seek in the index per
        conversation, between its first and last message."""
        spans = await rows(self._report_db(), "SELECT conversation_id, min(rowid), max(rowid)"
                           f" FROM messages WHERE conversation_id IN ({_IDS})"
                           " GROUP BY conversation_id",
                           (json.dumps([c.id for c in conversations]),))
        newest: dict[str, int] = {}
        for part in chunks(spans, 100):
            sql = " UNION ALL ".join([_NEWEST_IN_SPAN] * len(part))
            params = [v for span in part for v in (span[0], match, span[1], span[2], span[0])]
            newest.update((r[0], r[1]) for r in await rows(self._report_db(), sql, params)
                          if r[1] is not None)
        return newest

    async def _by_words(self, query: TranscriptQuery, match: str, where: list[str],
                        params: list[Any], wanted: int,
                        newest: dict[str, int]) -> list[Conversation]:
        """Conversations by their newest matching message, newest first: the matches
        are read from the index a growing chunk at a time until enough conversations
        pass the other filters, so a common word costs a few chunks and a rare one its
        few matches."""
        low, high = await self._window(query, where, params)
        found: list[Conversation] = []
        seen: set[str] = set()
        chunk = self.first_chunk
        while len(found) < wanted and high > low:
            batch = await rows(self._report_db(), _MATCHES, (match, high, low, chunk))
            if not batch:
                break
            high = batch[-1][0]
            for rowid, conversation_id in batch:
                newest.setdefault(conversation_id, rowid)
            fresh = list(dict.fromkeys(c for _, c in batch if c not in seen))
            seen.update(fresh)
            found.extend(await self._passing(fresh, where, params))
            chunk = min(chunk * 4, _LAST_CHUNK)
        return found[:wanted]

    async def _passing(self, ids: list[str], where: list[str],
                       params: list[Any]) -> list[Conversation]:
        """Those of ``ids`` that pass the filters, in the order of ``ids``."""
        if not ids:
            return []
        sql = (f"SELECT {_COLUMNS} FROM conversations AS c WHERE c.id IN ({_IDS})"
               + "".join(f" AND {w}" for w in where))
        kept = {r[0]: conversation_from_row(r)
                for r in await rows(self._report_db(), sql, [json.dumps(ids), *params])}
        return [kept[i] for i in ids if i in kept]

    async def _window(self, query: TranscriptQuery, where: list[str],
                      params: list[Any]) -> tuple[int, int]:
        """The rowids the matches can lie in: from the first message of the day before
        ``since`` (rowids follow time, within ``_SLACK``), up to the last message of the
        conversations started before ``until`` that pass the filters."""
        low, high = 0, 1 << 62
        if query.since is not None:
            found = await rows(self._report_db(), "SELECT rowid FROM messages WHERE created_at >= ?"
                               " ORDER BY created_at LIMIT 1", (query.since - _SLACK,))
            low = found[0][0] if found else high
        if query.until is not None:
            sql = ("SELECT max(m.rowid) FROM messages AS m WHERE m.conversation_id IN"
                   " (SELECT c.id FROM conversations AS c WHERE "
                   + " AND ".join(where) + ")")
            found = await rows(self._report_db(), sql, params)
            high = (found[0][0] or 0) + 1
        return low, high

    async def _excerpts(self, match: str, rowids: dict[str, int]) -> dict[str, str]:
        """Each conversation's newest matching message, cut around the words: one
        rowid lookup in the index each, never the words' whole doclist."""
        if not rowids:
            return {}
        one = (f"SELECT ?, snippet(messages_fts, 0, '{MARK_START}', '{MARK_END}', '…', 16)"
               " FROM messages_fts WHERE messages_fts MATCH ? AND rowid = ?")
        found: dict[str, str] = {}
        for part in chunks(list(rowids.items()), 100):
            sql = " UNION ALL ".join([one] * len(part))
            params = [v for conversation_id, rowid in part for v in (conversation_id, match, rowid)]
            found.update((r[0], r[1]) for r in await rows(self._report_db(), sql, params))
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
                for r in await rows(self._report_db(), sql, (before, before, limit))]

    async def forget_messages(self, conversation_ids: Sequence[str]) -> int:
        if not conversation_ids:
            return 0
        deleted: int = await self._write("forget_messages", json.dumps(list(conversation_ids)))
        return deleted

    async def stale_pages(self, before: float, limit: int = 500) -> list[Conversation]:
        sql = (f"SELECT {_COLUMNS} FROM conversations AS c WHERE c.created_at < ?"
               " AND c.page != '{}' ORDER BY c.created_at, c.id LIMIT ?")
        found = await rows(self._report_db(), sql, (before, limit))
        return [conversation_from_row(r) for r in found]

    async def stale_visitors(self, before: float, limit: int = 500) -> list[Patron]:
        sql = ("SELECT DISTINCT k.patron_id FROM contacts AS k WHERE k.channel = 'widget'"
               " AND NOT EXISTS (SELECT 1 FROM conversations AS c"
               " WHERE c.patron_id = k.patron_id AND c.updated_at >= ?)"
               " AND (SELECT created_at FROM patrons WHERE id = k.patron_id) < ? LIMIT ?")
        ids = [r[0] for r in await rows(self._report_db(), sql, (before, before, limit))]
        return list((await self.get_patrons(ids)).values())

    async def referenced_digests(self) -> set[str]:
        sql = ("SELECT DISTINCT json_extract(j.value, '$[4]') FROM messages AS m,"
               " json_each(m.attachments) AS j WHERE m.attachments != ''")
        return {r[0] for r in await rows(self._report_db(), sql, ()) if r[0]}
