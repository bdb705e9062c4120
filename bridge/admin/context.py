"""What every page of the dashboard is handed, and the four helpers every page uses:
who is signed in (``staff``), the admin-only check (``require_admin``), the hidden form
field carrying the session's CSRF token (``csrf_field``), and the audit log (``audit``)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from markupsafe import Markup, escape

from routing.staff_roles import Account, AuditEntry

__all__ = ["AUDIT_NAME", "CSRF", "CSRF_FIELD", "PEER", "STAFF", "Account", "AdminContext",
           "audit", "csrf_field", "peer", "require_admin", "staff"]

CSRF_FIELD = "csrf"
# What the sign-in middleware (bridge.admin.auth) keeps on each request.
STAFF = web.RequestKey("admin_staff", Account)
CSRF = web.RequestKey("admin_csrf", str)
PEER = web.RequestKey("admin_peer", str)
AUDIT_NAME = web.RequestKey("admin_audit_name", str)  # who tried to sign in, before a session


@dataclass
class AdminContext:
    """The parts of the bridge the dashboard reads and acts through (``bridge.parts``)."""

    config: Any  # bridge.config.Config
    store: Any  # bridge.store.sqlite.SqliteStore: every role, the accounts' included
    router: Any  # routing.router.Router
    worker: Any  # routing.outbox.DeliveryWorker
    clock: Any  # routing.ports.Clock
    blobs: Any  # adapters.blobs.BlobStore
    hub: Any  # adapters.widget.hub.WidgetHub
    bot: Any = None  # telegram.Bot: erasing a patron deletes the bridge's posts
    group_id: int = 0  # the librarians' group
    roster: Any = None  # routing.duty.DutyRoster: who is on duty
    directory: Any = None  # the member directory, when configured
    # The Operations page's last check of the directory: "at" and "outcome", once made.
    directory_check: dict[str, str] = field(default_factory=dict)

    def now(self) -> float:
        return float(self.clock.now()) if self.clock is not None else time.time()


def staff(request: web.Request) -> Account:
    """The signed-in account; the sign-in middleware set it before any page runs."""
    account = request.get(STAFF)
    if not isinstance(account, Account):
        raise web.HTTPUnauthorized(text="Sign in first.")
    return account


def require_admin(request: web.Request) -> Account:
    """The signed-in account when it is an admin; 403 for a librarian."""
    account = staff(request)
    if account.role != "admin":
        raise web.HTTPForbidden(text="This page is for admin accounts only.")
    return account


def csrf_field(request: web.Request) -> Markup:
    """``<input type=hidden>`` with the session's token: every POST form carries it."""
    token = request.get(CSRF, "")
    return Markup('<input type="hidden" name="%s" value="%s">') % (CSRF_FIELD, escape(token))


def peer(request: web.Request) -> str:
    """The browser's address (``auth`` sets it from a trusted proxy's header)."""
    return request.get(PEER) or request.remote or ""


async def audit(ctx: AdminContext, request: web.Request, action: str, detail: str) -> None:
    """One line in the audit log: who (the signed-in name), from where, did what."""
    account = request.get(STAFF)
    name = account.name if account is not None else request.get(AUDIT_NAME, "")
    await ctx.store.record_audit(AuditEntry(ctx.now(), name, peer(request), action, detail))
