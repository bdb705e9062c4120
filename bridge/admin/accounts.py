"""``/admin/accounts`` (admins): the staff accounts, what ``pustaka user …`` does from a
browser: add one, link it to (or unlink it from) a Telegram user so the reports name the
account for what that user did at the desk, set a new password, disable it. Every change
is written to the audit log, never with the password.

The Telegram users offered for linking are the librarians who served at the desk in the
last year, as the reports know them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from bridge.admin.auth import CTX, PREFIX, redirect
from bridge.admin.context import Account, AdminContext, audit, require_admin
from bridge.admin.report_pages import reports_of
from bridge.admin.report_queries import DateRange
from bridge.admin.staff import (
    add_staff,
    disable_staff,
    link_staff,
    set_staff_password,
    telegram_user_id,
)

__all__ = ["desk_librarians", "routes"]

_DONE = {"added": "Account added.", "linked": "Telegram link saved.",
         "password": "Password changed.", "disabled": "Account disabled and signed out."}
_SEEN_DAYS = 365


async def desk_librarians(ctx: AdminContext) -> list[dict[str, str]]:
    """The Telegram users who served at the desk in the last year: id and name."""
    reports = reports_of(ctx)
    today = reports.today(ctx.now())
    span = DateRange(today - dt.timedelta(days=_SEEN_DAYS), today)
    figures = await reports.librarians(span, {}, ctx.now())
    seen = []
    for lib_id in sorted({f.id for f in figures if f.id.isdigit()}, key=int):
        found = await ctx.store.get_librarian(lib_id)
        seen.append({"id": lib_id, "name": found.name if found is not None else lib_id})
    return seen


async def _page(request: web.Request, *, error: str = "", status: int = 200) -> web.Response:
    require_admin(request)
    ctx = request.app[CTX]
    seen = await desk_librarians(ctx)
    names = {s["id"]: s["name"] for s in seen}
    rows = [{"a": a, "telegram_name": names.get(str(a.telegram_id), "")}
            for a in await ctx.store.accounts()]
    return aiohttp_jinja2.render_template("accounts.html", request, {
        "rows": rows, "seen": seen, "error": error,
        "notice": _DONE.get(request.query.get("done", ""), "")}, status=status)


async def _show(request: web.Request) -> web.Response:
    return await _page(request)


# A form's change: (context, form, the signed-in admin) -> (audit action, detail, notice)
Change = Callable[[AdminContext, Any, Account], Awaitable[tuple[str, str, str]]]


def _change(action: Change) -> Callable[[web.Request], Awaitable[web.Response]]:
    """A form's POST: admins only; the change, its audit line, back to the page (or the
    page with the reason it was refused)."""
    async def handler(request: web.Request) -> web.Response:
        admin, ctx = require_admin(request), request.app[CTX]
        try:
            what, detail, done = await action(ctx, await request.post(), admin)
        except ValueError as exc:
            return await _page(request, error=f"Not done: {str(exc).strip(chr(39))}.",
                               status=400)
        await audit(ctx, request, what, detail)
        return redirect(f"{PREFIX}/accounts?done={done}")
    return handler


async def _add(ctx: AdminContext, form: Any, _admin: Account) -> tuple[str, str, str]:
    telegram = telegram_user_id(str(form.get("telegram_id", "")).strip()
                                or str(form.get("seen", "")))
    account = await add_staff(ctx.store, str(form.get("name", "")), str(form.get("role", "")),
                              str(form.get("password", "")), telegram_id=telegram,
                              now=ctx.now())
    linked = f", telegram {telegram}" if telegram is not None else ""
    return "account added", f"{account.name} ({account.role}{linked})", "added"


async def _link(ctx: AdminContext, form: Any, _admin: Account) -> tuple[str, str, str]:
    name = str(form.get("name", ""))
    typed = str(form.get("telegram_id", "")).strip() or str(form.get("seen", ""))
    telegram = None if form.get("unlink") else telegram_user_id(typed)
    if telegram is None and not form.get("unlink"):
        raise ValueError("choose a desk librarian or type a Telegram user id")
    account = await link_staff(ctx.store, name, telegram)
    return ("account linked", f"{account.name} to telegram {telegram}", "linked") \
        if telegram is not None else ("account unlinked", account.name, "linked")


async def _password(ctx: AdminContext, form: Any, _admin: Account) -> tuple[str, str, str]:
    password = str(form.get("password", ""))
    if password != str(form.get("again", "")):
        raise ValueError("the two passwords differ")
    account = await set_staff_password(ctx.store, str(form.get("name", "")), password)
    return "password set", account.name, "password"


async def _disable(ctx: AdminContext, form: Any, admin: Account) -> tuple[str, str, str]:
    name = str(form.get("name", ""))
    if name.casefold() == admin.name.casefold():  # the last admin would lock everyone out
        raise ValueError("an admin cannot disable their own account here")
    account = await disable_staff(ctx.store, name)
    return "account disabled", account.name, "disabled"


def routes(ctx: AdminContext) -> list[web.RouteDef]:
    return [web.get("/accounts", _show), web.post("/accounts/add", _change(_add)),
            web.post("/accounts/link", _change(_link)),
            web.post("/accounts/password", _change(_password)),
            web.post("/accounts/disable", _change(_disable))]

