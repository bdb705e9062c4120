"""The staff dashboard's accounts, sessions and audit log on SQLite (``routing.staff_roles``).

Sessions are stored under the SHA-256 of the cookie's value, so a copy of the database
opens no session. Writes go through the group commit like every other role's.
"""

from __future__ import annotations

import getpass
import json
import time

from bridge.store.sqlite_role import SqliteRole, first, rows
from bridge.store.sqlite_rows import Row
from routing.staff_roles import Account, AuditEntry, FailedDelivery, Role, StaffSession

__all__ = ["WRITES", "SqliteAccounts"]

WRITES = {  # op kind -> statement
    "add_account": "INSERT INTO accounts (name, role, password_hash, telegram_id, disabled,"
                   " created_at) VALUES (?, ?, ?, ?, 0, ?)",
    "set_password": "UPDATE accounts SET password_hash = ? WHERE id = ?",
    "disable_account": "UPDATE accounts SET disabled = 1 WHERE id = ?",
    "link_telegram": "UPDATE accounts SET telegram_id = ? WHERE id = ?",
    "end_sessions_of": "DELETE FROM staff_sessions WHERE account_id = ?",
    "open_session": "INSERT INTO staff_sessions (id, account_id, csrf, created_at, expires_at)"
                    " VALUES (?, ?, ?, ?, ?)",
    "end_session": "DELETE FROM staff_sessions WHERE id = ? OR expires_at < ?",
    "record_audit": "INSERT INTO audit_log (at, account, address, action, detail)"
                    " VALUES (?, ?, ?, ?, ?)",
    "record_erasure": "INSERT INTO erasures (at, erased_by, kinds) VALUES (?, ?, ?)",
    # The Operations page's retry: a failed delivery goes back to the outbox, due now.
    "requeue_delivery": "UPDATE deliveries SET state = 'pending', attempts = 0,"
                        " next_attempt_at = ?, last_error = '' WHERE id = ? AND state = 'failed'",
}

_ACCOUNT = "id, name, role, telegram_id, disabled, created_at"


def _account(r: Row) -> Account:
    role: Role = "admin" if r[2] == "admin" else "librarian"
    return Account(int(r[0]), str(r[1]), role, None if r[3] is None else int(r[3]),
                   bool(r[4]), float(r[5]))


class SqliteAccounts(SqliteRole):
    """``AccountStore`` and ``AuditLog``: accounts, sessions, audit lines, erasure records."""

    async def add_account(self, name: str, role: Role, password_hash: str,
                          telegram_id: int | None, now: float) -> Account:
        if await self.account_by_name(name) is not None:
            raise ValueError(f"an account named {name!r} exists already")
        await self._write("add_account", name, role, password_hash, telegram_id, now)
        found = await self.account_by_name(name)
        assert found is not None
        return found[0]

    async def account_by_name(self, name: str) -> tuple[Account, str] | None:
        r = await first(self._db(), f"SELECT {_ACCOUNT}, password_hash FROM accounts"
                                    " WHERE name = ?", (name,))
        return None if r is None else (_account(r), str(r[6]))

    async def accounts(self) -> list[Account]:
        return [_account(r) for r in await rows(
            self._db(), f"SELECT {_ACCOUNT} FROM accounts ORDER BY name", ())]

    async def set_password(self, account_id: int, password_hash: str) -> None:
        await self._write("set_password", password_hash, account_id)

    async def link_telegram(self, account_id: int, telegram_id: int | None) -> None:
        await self._write("link_telegram", telegram_id, account_id)

    async def disable_account(self, account_id: int) -> None:
        await self._write("disable_account", account_id)
        await self._write("end_sessions_of", account_id)

    async def open_session(self, key: str, account_id: int, csrf: str, now: float,
                           expires_at: float) -> None:
        await self._write("open_session", key, account_id, csrf, now, expires_at)

    async def session(self, key: str, now: float) -> StaffSession | None:
        r = await first(self._db(), "SELECT a.id, a.name, a.role, a.telegram_id, a.disabled,"
                        " a.created_at, s.csrf, s.expires_at FROM staff_sessions AS s"
                        " JOIN accounts AS a ON a.id = s.account_id"
                        " WHERE s.id = ? AND s.expires_at > ? AND a.disabled = 0", (key, now))
        return None if r is None else StaffSession(_account(r), str(r[6]), float(r[7]))

    async def end_session(self, key: str, now: float = 0.0) -> None:
        """Ends this session (and sweeps the expired ones)."""
        await self._write("end_session", key, now)

    async def record_audit(self, entry: AuditEntry) -> None:
        await self._write("record_audit", entry.at, entry.account, entry.address,
                          entry.action, entry.detail)

    async def audit_entries(self, *, limit: int = 200, before: float | None = None
                            ) -> list[AuditEntry]:
        found = await rows(self._db(), "SELECT at, account, address, action, detail"
                           " FROM audit_log WHERE at < ? ORDER BY at DESC, id DESC LIMIT ?",
                           (before if before is not None else 1e18, limit))
        return [AuditEntry(float(r[0]), str(r[1]), str(r[2]), str(r[3]), str(r[4]))
                for r in found]

    async def record_erasure(self, at: float, erased_by: str, kinds: dict[str, int]) -> None:
        await self._write("record_erasure", at, erased_by, json.dumps(kinds, sort_keys=True))

    async def record_audit_cli(self, action: str, detail: str) -> None:
        """An audit line for a ``pustaka`` command run on the server."""
        await self.record_audit(AuditEntry(time.time(), f"cli:{getpass.getuser()}", "",
                                           action, detail))

    async def failed_deliveries(self, limit: int = 100) -> list[FailedDelivery]:
        """The outbox's given-up deliveries, newest first."""
        found = await rows(self._db(), "SELECT id, conversation_id, destination, attempts,"
                           " last_error, created_at FROM deliveries WHERE state = 'failed'"
                           " ORDER BY created_at DESC LIMIT ?", (limit,))
        return [FailedDelivery(str(r[0]), str(r[1]), str(r[2]), int(r[3]), str(r[4]),
                               float(r[5])) for r in found]

    async def requeue_delivery(self, delivery_id: str, now: float) -> bool:
        """A failed delivery pending again, due ``now``; False when it was not failed."""
        before = await first(self._db(), "SELECT state FROM deliveries WHERE id = ?",
                             (delivery_id,))
        if before is None or before[0] != "failed":
            return False
        await self._write("requeue_delivery", now, delivery_id)
        return True

    async def erasures(self) -> list[tuple[float, str, dict[str, int]]]:
        found = await rows(self._db(), "SELECT at, erased_by, kinds FROM erasures"
                           " ORDER BY at DESC, id DESC LIMIT 200", ())
        return [(float(r[0]), str(r[1]), json.loads(str(r[2]))) for r in found]
