"""``/admin/privacy`` (admins): a patron's request. Export everything held about them as a
zip, or erase it everywhere the bridge can; the erasures made so far, without the data."""

from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web

from bridge.admin.auth import CTX
from bridge.admin.context import AdminContext, audit, require_admin
from bridge.admin.operations import local
from bridge.admin.patron_requests import erase_patron, export_zip, find_patron

__all__ = ["routes"]


async def _page(request: web.Request, *, error: str = "",
                erased: dict[str, int] | None = None, status: int = 200) -> web.Response:
    require_admin(request)
    ctx = request.app[CTX]
    records = [{"at": local(ctx, at), "by": by, "kinds": kinds}
               for at, by, kinds in await ctx.store.erasures()]
    return aiohttp_jinja2.render_template("privacy.html", request, {
        "error": error, "erased": erased, "erasures": records}, status=status)


async def _show(request: web.Request) -> web.Response:
    return await _page(request)


async def _export(request: web.Request) -> web.StreamResponse:
    require_admin(request)
    ctx = request.app[CTX]
    who = str((await request.post()).get("who", ""))
    try:
        patron_id = await find_patron(ctx.store, who)
    except (LookupError, ValueError) as exc:
        return await _page(request, error=str(exc).strip("'\""), status=404)
    body = await export_zip(ctx.store, ctx.blobs, patron_id)
    await audit(ctx, request, "patron exported", f"patron {patron_id}")
    return web.Response(body=body, content_type="application/zip", headers={
        "Content-Disposition": f'attachment; filename="patron-{patron_id}.zip"'})


async def _erase(request: web.Request) -> web.Response:
    account, ctx = require_admin(request), request.app[CTX]
    form = await request.post()
    if str(form.get("confirm", "")) != "erase":
        return await _page(request, status=400,
                           error='Type "erase" in the box to confirm the erasure.')
    try:
        patron_id = await find_patron(ctx.store, str(form.get("who", "")))
    except (LookupError, ValueError) as exc:
        return await _page(request, error=str(exc).strip("'\""), status=404)
    erased = await erase_patron(ctx.store, ctx.blobs, ctx.bot, ctx.group_id, patron_id,
                                by=account.name, now=ctx.now())
    await audit(ctx, request, "patron erased",
                ", ".join(f"{k} {n}" for k, n in sorted(erased.counts.items())))
    return await _page(request, erased=erased.counts)


def routes(ctx: AdminContext) -> list[web.RouteDef]:
    return [web.get("/privacy", _show), web.post("/privacy/export", _export),
            web.post("/privacy/erase", _erase)]
