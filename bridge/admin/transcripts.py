"""``/admin/transcripts``: find conversations by what was said and by whom, open one,
export what was found (CSV or JSON, streamed page by page), download its files.

Every staff account may read transcripts (librarians answer them anyway); each export
is written to the audit log with the query that made it.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import AsyncIterator
from functools import partial
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from adapters.email.transcript_mail import composer
from bridge.admin.auth import PREFIX, redirect
from bridge.admin.context import AdminContext, audit, staff
from bridge.admin.transcript_query import (
    CHANNELS,
    FIELDS,
    PAGE_SIZE,
    hit_row,
    local_time,
    marked,
    parse_query,
    zone,
)
from routing.model import Direction, Message
from routing.report_roles import READ_LEVELS
from routing.transcript_mail import (
    TRANSCRIPT_EVENT,
    TranscriptRefused,
    confirmed_address,
    queue_transcript,
)
from routing.transcript_roles import TranscriptQuery

__all__ = ["routes"]

_EXPORT_PAGE = 500
_CSV_COLUMNS = ("id", "started", "closed", "channel", "status", "patron", "email",
                "librarian", "tags", "rating", "subject", "excerpt")
_DIGEST = re.compile(r"[0-9a-f]{64}")
_NOTICES = {"emailed": "The transcript is on its way to the patron.",
            "marked": "The question's kind and READ level are saved."}


def _cell(value: Any) -> Any:
    """A spreadsheet runs a cell that starts with = + - @: such text goes in quoted."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


async def _hits(ctx: AdminContext, query: TranscriptQuery) -> AsyncIterator[Any]:
    offset = 0
    while page := await ctx.store.search_transcripts(query, _EXPORT_PAGE, offset):
        for hit in page:
            yield hit
        offset += len(page)


async def _history(ctx: AdminContext, conversation_id: str) -> list[Message]:
    messages: list[Message] = []
    while page := await ctx.store.history(conversation_id, messages[-1].id if messages else "",
                                          500):
        messages.extend(page)
    return messages


def _message_row(m: Message, tz: Any) -> dict[str, Any]:
    return {"id": m.id, "at": local_time(m.created_at, tz), "direction": m.direction.value,
            "author": m.author, "text": m.text, "event": m.event, "replaces": m.replaces,
            "internal": m.direction is Direction.NOTE,
            "transcript": m.event == TRANSCRIPT_EVENT,
            "files": [{"name": f.name, "mime": f.mime, "size": f.size, "digest": f.digest,
                       "note": f.note} for f in m.attachments]}


async def _export(ctx: AdminContext, request: web.Request, query: TranscriptQuery,
                  kind: str) -> web.StreamResponse:
    tz = zone(ctx.config.library.timezone)
    response = web.StreamResponse(headers={
        "Content-Type": "text/csv; charset=utf-8" if kind == "csv"
        else "application/json; charset=utf-8",
        "Content-Disposition": f'attachment; filename="transcripts.{kind}"',
        "Cache-Control": "no-store"})
    await audit(ctx, request, "transcripts exported", f"{kind}: " + json.dumps(
        {k: v for k, v in request.query.items() if k in FIELDS and v}, ensure_ascii=False))
    await response.prepare(request)
    if kind == "csv":
        buffer = io.StringIO()
        out = csv.writer(buffer)
        out.writerow(_CSV_COLUMNS)
        async for hit in _hits(ctx, query):
            row = hit_row(hit, tz)
            out.writerow([_cell(row[name]) for name in _CSV_COLUMNS])
            if buffer.tell() > 32_768:
                await response.write(buffer.getvalue().encode())
                buffer.seek(0)
                buffer.truncate()
        await response.write(buffer.getvalue().encode())
    else:
        await response.write(b"[")
        first = True
        async for hit in _hits(ctx, query):
            item = hit_row(hit, tz) | {"messages": [
                _message_row(m, tz) for m in await _history(ctx, hit.conversation.id)]}
            await response.write((b"" if first else b",\n") + json.dumps(
                item, ensure_ascii=False).encode())
            first = False
        await response.write(b"]\n")
    await response.write_eof()
    return response


async def _search(ctx: AdminContext, request: web.Request) -> web.StreamResponse:
    staff(request)
    tz = zone(ctx.config.library.timezone)
    view: dict[str, Any] = {"form": {k: request.query.get(k, "") for k in FIELDS},
                            "channels": CHANNELS, "hits": [], "error": "", "page": 1,
                            "searched": any(request.query.get(k) for k in FIELDS)}
    try:
        query, view["page"] = parse_query(request.query, tz)
        kind = request.query.get("format", "")
        if kind in ("csv", "json"):
            return await _export(ctx, request, query, kind)
        if kind:
            raise ValueError("format: csv or json")
        found = await ctx.store.search_transcripts(
            query, PAGE_SIZE + 1, (view["page"] - 1) * PAGE_SIZE)
    except ValueError as exc:
        view["error"] = str(exc)
        return aiohttp_jinja2.render_template("transcripts.html", request, view, status=400)
    view["more"] = len(found) > PAGE_SIZE
    view["hits"] = [hit_row(h, tz) | {"marked": marked(h.excerpt)} for h in found[:PAGE_SIZE]]
    view["query"] = {k: v for k, v in request.query.items() if k in FIELDS and v}
    return aiohttp_jinja2.render_template("transcripts.html", request, view)


async def _one(ctx: AdminContext, request: web.Request) -> web.Response:
    staff(request)
    conversation = await ctx.store.get_conversation(request.match_info["id"])
    if conversation is None:
        raise web.HTTPNotFound(text="No conversation has that id.")
    tz = zone(ctx.config.library.timezone)
    patron = await ctx.store.get_patron(conversation.patron_id)
    view = {"c": conversation, "patron": patron, "tz": ctx.config.library.timezone,
            "started": local_time(conversation.created_at, tz),
            "closed": local_time(conversation.closed_at, tz),
            "messages": [_message_row(m, tz) for m in await _history(ctx, conversation.id)],
            "notice": _NOTICES.get(request.query.get("done", ""), ""),
            "can_email": bool(ctx.config.email.enabled and confirmed_address(patron)),
            "mark": await ctx.store.reference_of(conversation.id),
            "kinds": list(ctx.config.desk.question_kinds), "levels": list(READ_LEVELS)}
    return aiohttp_jinja2.render_template("transcript.html", request, view)


async def _file(ctx: AdminContext, request: web.Request) -> web.Response:
    staff(request)
    conversation_id, digest = request.match_info["id"], request.match_info["digest"]
    if not _DIGEST.fullmatch(digest):
        raise web.HTTPNotFound(text="No such file.")
    held = [f for m in await _history(ctx, conversation_id) for f in m.attachments
            if f.digest == digest]
    data = await ctx.blobs.get(digest) if held else None
    if data is None:
        raise web.HTTPNotFound(text="That file is not kept (any more).")
    name = re.sub(r'[^\w.\- ]', "_", held[0].name)[:120] or "file"
    return web.Response(body=data, headers={
        "Content-Type": "application/octet-stream",
        "Content-Disposition": f'attachment; filename="{name}"',
        "X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store"})


async def _email(ctx: AdminContext, request: web.Request) -> web.Response:
    account = staff(request)
    conversation_id = request.match_info["id"]
    if not ctx.config.email.enabled:
        raise web.HTTPBadRequest(text="Email is not set up ([email] enabled = false).")
    try:
        await queue_transcript(ctx.store, ctx.store, conversation_id,
                               by=f"{account.name} (dashboard)", now=ctx.now(),
                               compose=composer(library=ctx.config.library.name,
                                                timezone=zone(ctx.config.library.timezone)))
    except TranscriptRefused as exc:
        raise web.HTTPBadRequest(text=f"Not sent: {exc}.") from None
    ctx.worker.wake()
    await audit(ctx, request, "transcript emailed", f"conversation {conversation_id}")
    return redirect(f"{PREFIX}/transcripts/{conversation_id}?done=emailed")


def routes(ctx: AdminContext) -> list[web.RouteDef]:
    return [web.get("/transcripts", partial(_search, ctx)),
            web.get("/transcripts/{id}", partial(_one, ctx)),
            web.get("/transcripts/{id}/files/{digest}", partial(_file, ctx)),
            web.post("/transcripts/{id}/email", partial(_email, ctx))]
