"""``/admin/operations``: the service now. Who is on duty, who waits and for how long,
the blocks (add, lift), opening hours and closures, canned replies, the member directory,
and the outbox (its counters, and a retry for each failed delivery)."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp_jinja2
from aiohttp import web

from adapters.directory.member import DirectoryUnavailable
from bridge.admin.auth import CTX, PREFIX, redirect
from bridge.admin.context import AdminContext, audit, staff
from routing.model import BlockKind

__all__ = ["routes"]

PROBE_NUMBER = "PUSTAKACHECK0"  # letters and digits, as a member number must be
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
                      "connected": ctx.directory is not None, **ctx.directory_check},
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


async def _page(request: web.Request) -> web.Response:
    staff(request)
    view = await _view(request.app[CTX])
    view["notice"] = request.query.get("done", "")
    return aiohttp_jinja2.render_template("operations.html", request, view)


async def _retry(request: web.Request) -> web.Response:
    ctx = request.app[CTX]
    delivery = str((await request.post()).get("delivery", ""))
    if not await ctx.store.requeue_delivery(delivery, ctx.now()):
        raise web.HTTPBadRequest(text="That delivery is not failed (any more): reload.")
    ctx.worker.wake()
    await audit(ctx, request, "delivery retried", delivery)
    return redirect(f"{PREFIX}/operations?done=retried")


async def _block(request: web.Request) -> web.Response:
    ctx, form = request.app[CTX], await request.post()
    conversation = str(form.get("conversation", "")).strip()
    duration = str(form.get("duration", ""))
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


async def _lift(request: web.Request) -> web.Response:
    ctx = request.app[CTX]
    block_id = str((await request.post()).get("block", ""))
    lifted = await ctx.router.moderation.unblock_id(block_id) if block_id else None
    if lifted is None:
        raise web.HTTPBadRequest(text="No block in force has that id.")
    await audit(ctx, request, "block lifted", f"{lifted.kind.value} {lifted.id}")
    return redirect(f"{PREFIX}/operations?done=lifted")


async def _check_directory(request: web.Request) -> web.Response:
    """One lookup of a number no library issues: an answer (even "unknown") means the
    directory is reachable; DirectoryUnavailable says why it is not."""
    ctx = request.app[CTX]
    if ctx.directory is None:
        raise web.HTTPBadRequest(text="No member directory is configured (directory.kind).")
    try:
        await ctx.directory.lookup(PROBE_NUMBER)
        outcome = "answered"
    except DirectoryUnavailable as exc:
        outcome = f"unavailable: {exc}"
    ctx.directory_check.update(at=local(ctx, ctx.now()), outcome=outcome)
    return redirect(f"{PREFIX}/operations?done=checked#directory")


def routes(ctx: AdminContext) -> list[web.RouteDef]:
    return [web.get("/operations", _page), web.post("/operations/retry", _retry),
            web.post("/operations/block", _block), web.post("/operations/lift", _lift),
            web.post("/operations/directory-check", _check_directory)]
