"""STUB written by R2 (reports) so its pages import before A1's dashboard lands; the lead
merges A1's ``bridge/admin/context.py`` over this file. Same names, same meaning."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from markupsafe import Markup, escape

__all__ = ["CSRF_FIELD", "Account", "AdminContext", "audit", "csrf_field", "require_admin",
           "staff"]

CSRF_FIELD = "csrf"


@dataclass(frozen=True)
class Account:
    id: int
    name: str
    role: str  # "admin" | "librarian"
    telegram_id: int | None = None


@dataclass
class AdminContext:
    config: Any
    store: Any
    router: Any
    worker: Any
    clock: Any
    blobs: Any
    hub: Any

    def now(self) -> float:
        return float(self.clock.now()) if self.clock is not None else time.time()


def staff(request: web.Request) -> Account:
    account = request.get("staff")
    if not isinstance(account, Account):
        raise web.HTTPUnauthorized(text="Sign in first.")
    return account


def require_admin(request: web.Request) -> Account:
    account = staff(request)
    if account.role != "admin":
        raise web.HTTPForbidden(text="This page is for admin accounts only.")
    return account


def csrf_field(request: web.Request) -> Markup:
    token = str(request.get("csrf", ""))
    return Markup('<input type="hidden" name="%s" value="%s">') % (CSRF_FIELD, escape(token))


async def audit(ctx: AdminContext, request: web.Request, action: str, detail: str) -> None:
    record = getattr(ctx.store, "record_audit", None)  # A1's store role; absent in the stub
    if record is not None:
        await record(ctx.now(), action, detail)
