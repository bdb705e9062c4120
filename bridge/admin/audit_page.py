"""``/admin/audit`` (admins): who did what in the dashboard, newest first."""

from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web

from bridge.admin.context import AdminContext, require_admin
from bridge.admin.operations import local

__all__ = ["routes"]

PAGE = 200


def routes(ctx: AdminContext) -> list[web.RouteDef]:
    async def page(request: web.Request) -> web.Response:
        require_admin(request)
        try:
            before = float(request.query["before"]) if "before" in request.query else None
        except ValueError:
            raise web.HTTPBadRequest(text="'before' must be a time in seconds.") from None
        entries = await ctx.store.audit_entries(limit=PAGE, before=before)
        return aiohttp_jinja2.render_template("audit.html", request, {
            "entries": [{"at": local(ctx, e.at), "account": e.account, "address": e.address,
                         "action": e.action, "detail": e.detail} for e in entries],
            "older": entries[-1].at if len(entries) == PAGE else None})

    return [web.get("/audit", page)]
