"""Creating and changing staff accounts: what ``pustaka user …`` and the tests call."""

from __future__ import annotations

import asyncio
import time

from bridge.admin.passwords import hash_password
from bridge.admin.store_locks import store_lock
from routing.staff_roles import ROLES, Account, AccountStore, Role

__all__ = ["add_staff", "disable_staff", "link_staff", "set_staff_password", "telegram_user_id"]


async def add_staff(store: AccountStore, name: str, role: str, password: str, *,
                    telegram_id: int | None = None, now: float | None = None) -> Account:
    """A new account; ValueError with the reason for a bad name, role or password."""
    name = name.strip()
    if not name or len(name) > 80 or any(not ch.isprintable() for ch in name):
        raise ValueError("a name needs 1 to 80 printable characters")
    if role not in ROLES:
        raise ValueError(f"the role must be one of {', '.join(ROLES)}, not {role!r}")
    checked: Role = "admin" if role == "admin" else "librarian"
    await _telegram_free(store, telegram_id, None)  # said before the password is hashed
    hashed = await asyncio.to_thread(hash_password, password)  # argon2: off the event loop
    async with _links_lock(store):  # checked again with the write: two adds at once
        await _telegram_free(store, telegram_id, None)
        return await store.add_account(name, checked, hashed, telegram_id,
                                       time.time() if now is None else now)


def _links_lock(store: AccountStore) -> asyncio.Lock:
    """Checking that a Telegram user is free and linking it, as one step in this process."""
    return store_lock(store, "telegram links")


async def _telegram_free(store: AccountStore, telegram_id: int | None,
                         account_id: int | None) -> None:
    """One Telegram user names one account in the reports: a second link is refused."""
    if telegram_id is None:
        return
    taken = [a.name for a in await store.accounts()
             if a.telegram_id == telegram_id and a.id != account_id]
    if taken:
        raise ValueError(f"Telegram user {telegram_id} is linked to {taken[0]!r} already")


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
    await store.set_password(account.id, await asyncio.to_thread(hash_password, password))
    return account


def telegram_user_id(text: str) -> int | None:
    """A Telegram user id typed in a form ('' for none); ValueError when it is not one."""
    text = text.strip()
    if not text:
        return None
    if not text.isdigit() or not 0 < int(text) < 2**52:
        raise ValueError(f"{text!r} is not a Telegram user id (a positive whole number)")
    return int(text)


async def link_staff(store: AccountStore, name: str, telegram_id: int | None) -> Account:
    """The account linked to that Telegram user (None: unlinked), so the reports name the
    account for what that user did at the desk."""
    account = await _named(store, name)
    async with _links_lock(store):
        await _telegram_free(store, telegram_id, account.id)
        await store.link_telegram(account.id, telegram_id)
    return account
