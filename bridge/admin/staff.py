"""Creating and changing staff accounts: what ``pustaka user …`` and the tests call."""

from __future__ import annotations

import time

from bridge.admin.passwords import hash_password
from routing.staff_roles import ROLES, Account, AccountStore, Role

__all__ = ["add_staff", "disable_staff", "set_staff_password"]


async def add_staff(store: AccountStore, name: str, role: str, password: str, *,
                    telegram_id: int | None = None, now: float | None = None) -> Account:
    """A new account; ValueError with the reason for a bad name, role or password."""
    name = name.strip()
    if not name or len(name) > 80 or any(not ch.isprintable() for ch in name):
        raise ValueError("a name needs 1 to 80 printable characters")
    if role not in ROLES:
        raise ValueError(f"the role must be one of {', '.join(ROLES)}, not {role!r}")
    checked: Role = "admin" if role == "admin" else "librarian"
    return await store.add_account(name, checked, hash_password(password), telegram_id,
                                   time.time() if now is None else now)


async def _named(store: AccountStore, name: str) -> Account:
    found = await store.account_by_name(name)
    if found is None:
        raise ValueError(f"no account is named {name!r}")
    return found[0]


async def disable_staff(store: AccountStore, name: str) -> Account:
    """Disabled, and signed out everywhere at once."""
    account = await _named(store, name)
    await store.disable_account(account.id)
    return account


async def set_staff_password(store: AccountStore, name: str, password: str) -> Account:
    account = await _named(store, name)
    await store.set_password(account.id, hash_password(password))
    return account
