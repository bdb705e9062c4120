"""``/admin/operations``: the service now. Who is on duty, who waits and for how long,
the blocks (add, lift), opening hours and closures, canned replies, the member directory,
and the outbox (its counters, and a retry for each failed delivery)."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp_jinja2
from aiohttp import web

from bridge.admin.auth import PREFIX, redirect
from bridge.admin.context import AdminContext, audit, staff
from routing.model import BlockKind

__all__ = ["routes"]

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DURATIONS = {"1d": 86400.0, "7d": 7 * 86400.0, "30d": 30 * 86400.0, "forever": None}


def _zone(ctx: AdminContext) -> dt.tzinfo:
    try:
        return ZoneInfo(ctx.config.library.timezone)
    except (KeyError, ValueError):
        return dt.UTC


def local(ctx: AdminContext, at: float | None) -> str:
    """An instant as the library reads it: its own time zone."""
    if at is None:
        return "never"
    return dt.datetime.fromtimestamp(at, _zone(ctx)).strftime("%Y-%m-%d %H:%M")


def _wait(seconds: float) -> str:
    minutes = int(max(0.0, seconds) // 60)
    return f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"


async def _view(ctx: AdminContext) -> dict[str, Any]:
    now, config = ctx.now(), ctx.config
    present = ctx.roster.present(now) if ctx.roster is not None else []
    waiting = sorted(await ctx.store.waiting(), key=lambda w: w.since)
    directory = config.directory
    return {
        "on_duty": [{"name": d.name, "since": local(ctx, d.since)} for d in present],
        "staffed": ctx.roster.staffed(now) if ctx.roster is not None else False,
        "waiting": [{"conversation": w.conversation_id, "since": local(ctx, w.since),
                     "wait": _wait(now - w.since), "reminders": w.reminders_sent}
                    for w in waiting],
        "blocks": [{"id": b.id, "kind": b.kind.value, "value": _shown(b.kind, b.value),
                    "until": local(ctx, b.until) if b.until else "forever", "by": b.by,
                    "conversation": b.conversation_id}
                   for b in await ctx.router.moderation.blocks()],
        "hours": [(day, getattr(config.hours, day)) for day in _DAYS],
        "closures": list(config.hours.closures), "timezone": config.library.timezone,
        "canned": sorted(config.desk.canned.items()),
        "directory": {"kind": directory.kind,
                      "where": directory.path or directory.url or directory.sip2_host,
                      "connected": ctx.directory is not None},
        "outbox": await ctx.store.delivery_counts(),
        "counters": ctx.worker.stats() if ctx.worker is not None else {},
        "failed": [{"id": f.id, "conversation": f.conversation_id,
                    "destination": f.destination, "attempts": f.attempts,
                    "error": f.last_error, "at": local(ctx, f.created_at)}
                   for f in await ctx.store.failed_deliveries()],
        "durations": list(_DURATIONS),
    }


def _shown(kind: BlockKind, value: str) -> str:
    """An email address is shown half hidden: the page may be on a shared screen."""
    if kind is BlockKind.EMAIL and "@" in value:
        user, _, domain = value.partition("@")
        return f"{user[:2]}…@{domain}"
    return value


def routes(ctx: AdminContext) -> list[web.RouteDef]:
    async def page(request: web.Request) -> web.Response:
        staff(request)
        view = await _view(ctx)
        view["notice"] = request.query.get("done", "")
        return aiohttp_jinja2.render_template("operations.html", request, view)

    async def retry(request: web.Request) -> web.Response:
        form = await request.post()
        delivery = str(form.get("delivery", ""))
        if not await ctx.store.requeue_delivery(delivery, ctx.now()):
            raise web.HTTPBadRequest(text="That delivery is not failed (any more): reload.")
        ctx.worker.wake()
        await audit(ctx, request, "delivery retried", delivery)
        return redirect(f"{PREFIX}/operations?done=retried")

    async def block(request: web.Request) -> web.Response:
        form = await request.post()
        conversation, duration = str(form.get("conversation", "")).strip(), str(
            form.get("duration", ""))
        if duration not in _DURATIONS:
            raise web.HTTPBadRequest(text="Choose how long the block lasts.")
        networks = frozenset({BlockKind.IP}) if form.get("ip") else frozenset()
        made = await ctx.router.moderation.block(conversation, _DURATIONS[duration],
                                                 staff(request).name, networks)
        if not made:
            raise web.HTTPBadRequest(text="No conversation has that id.")
        await audit(ctx, request, "block added",
                    f"conversation {conversation}, {duration}, {len(made)} keys")
        return redirect(f"{PREFIX}/operations?done=blocked")

    async def lift(request: web.Request) -> web.Response:
        block_id = str((await request.post()).get("block", ""))
        lifted = await ctx.router.moderation.unblock_id(block_id) if block_id else None
        if lifted is None:
            raise web.HTTPBadRequest(text="No block in force has that id.")
        await audit(ctx, request, "block lifted", f"{lifted.kind.value} {lifted.id}")
        return redirect(f"{PREFIX}/operations?done=lifted")

    return [web.get("/operations", page), web.post("/operations/retry", retry),
            web.post("/operations/block", block), web.post("/operations/lift", lift)]
