"""The store's roles for the staff dashboard: accounts and sessions, the audit log, and
patrons' erasure records. Pure declarations: ``bridge/store/sqlite_accounts.py`` is the
SQLite implementation, ``tests/integration/test_accounts_contract.py`` its contract."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol

__all__ = [
    "ROLES",
    "Account",
    "AccountStore",
    "AuditEntry",
    "AuditLog",
    "FailedDelivery",
    "OutboxRepair",
    "PatronData",
    "PatronRecords",
    "Role",
    "StaffSession",
    "TelegramPost",
]

Role = Literal["admin", "librarian"]
ROLES: tuple[Role, ...] = ("admin", "librarian")


@dataclass(frozen=True, slots=True)
class Account:
    """A member of staff who signs in to the dashboard; never carries the password hash."""

    id: int
    name: str
    role: Role
    telegram_id: int | None = None
    disabled: bool = False
    created_at: float = 0.0

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


@dataclass(frozen=True, slots=True)
class StaffSession:
    """A signed-in browser: the account, the form token it must send back, its end."""

    account: Account
    csrf: str
    expires_at: float


@dataclass(frozen=True, slots=True)
class AuditEntry:
    at: float
    account: str
    address: str
    action: str
    detail: str


class AccountStore(Protocol):
    async def add_account(self, name: str, role: Role, password_hash: str,
                          telegram_id: int | None, now: float) -> Account: ...
    async def account_by_name(self, name: str) -> tuple[Account, str] | None:
        """The account and its password hash, disabled ones included."""
    async def accounts(self) -> list[Account]: ...
    async def set_password(self, account_id: int, password_hash: str) -> None: ...
    async def link_telegram(self, account_id: int, telegram_id: int | None) -> None:
        """The librarian's Telegram user id (None: unlinked), so reports name one person."""
    async def disable_account(self, account_id: int) -> None:
        """Disabled, and every session of it ended."""
    async def open_session(self, key: str, account_id: int, csrf: str, now: float,
                           expires_at: float) -> None: ...
    async def session(self, key: str, now: float) -> StaffSession | None:
        """The live session under ``key`` (its hash), None when ended, expired or disabled."""
    async def end_session(self, key: str) -> None: ...


class AuditLog(Protocol):
    async def record_audit(self, entry: AuditEntry) -> None: ...
    async def audit_entries(self, *, limit: int = 200, before: float | None = None
                            ) -> list[AuditEntry]: ...
    async def record_erasure(self, at: float, erased_by: str, kinds: dict[str, int]) -> None: ...


@dataclass(frozen=True, slots=True)
class TelegramPost:
    """Something the bridge posted on Telegram for a patron: a desk ``topic`` or ``card``,
    a ``desk`` message, or a ``telegram`` message in the patron's own chat."""

    kind: str
    ident: int  # the topic's thread id, or the message id
    chat: int | None = None  # where a ``telegram`` message is: the patron's chat


@dataclass(frozen=True, slots=True)
class PatronData:
    """Everything the store holds about one patron: rows by table, file digests, posts."""

    patron_id: str
    tables: dict[str, list[dict[str, Any]]]
    files: list[str]
    posts: list[TelegramPost]


class PatronRecords(Protocol):
    async def find_patron(self, channel: str, address: str) -> str | None: ...
    async def patron_data(self, patron_id: str) -> PatronData: ...
    async def erase_patron(self, patron_id: str) -> dict[str, int]:
        """Every row of the patron gone in one transaction; counts of what went, by kind."""
    async def blob_in_use(self, digest: str) -> bool: ...


@dataclass(frozen=True, slots=True)
class FailedDelivery:
    """An outbox row given up after its last attempt: what the Operations page lists."""

    id: str
    conversation_id: str
    destination: str
    attempts: int
    last_error: str
    created_at: float


class OutboxRepair(Protocol):
    async def failed_deliveries(self, limit: int = 100) -> list[FailedDelivery]: ...
    async def requeue_delivery(self, delivery_id: str, now: float) -> bool:
        """Pending again and due ``now``; False when the delivery was not failed."""
