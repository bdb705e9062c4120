"""The question's kind and READ effort edited on a transcript's page (``POST
/admin/transcripts/{id}/reference``): what ``/close KIND LEVEL`` notes, set or corrected
afterwards by any staff account, and written to the audit log.

An edited mark keeps the day and the librarian it was first noted with (a mark counts on
the day its conversation was closed, for whoever closed it); a mark added afterwards
counts on the day of the close, for the librarian who served. When that day is already
rolled up into the daily aggregates, the edit moves one count there as well, so the
reference report and its CSV show it for old days too.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from aiohttp import web

from bridge.admin.auth import PREFIX, redirect
from bridge.admin.context import AdminContext, audit, staff
from bridge.admin.report_math import LocalTime
from bridge.admin.report_rollup import aggregates_lock
from routing.model import Conversation, Status
from routing.report_roles import READ_LEVELS, NotedMark, ReferenceMark

__all__ = ["edit_reference", "mark_from_form", "routes"]


def mark_from_form(form: Any, kinds: list[str]) -> ReferenceMark:
    """The form's kind ('' for not said) and level ('' for not said); ValueError says
    what is wrong."""
    kind, level = str(form.get("kind", "")), str(form.get("level", ""))
    if kind and kind not in kinds:
        raise ValueError(f"{kind!r} is not one of the question kinds ({', '.join(kinds)})")
    if level and (not (level.isascii() and level.isdigit()) or int(level) not in READ_LEVELS):
        raise ValueError(f"{level!r} is not a READ level (1 to 6)")
    mark = ReferenceMark(kind, int(level) if level else None)
    if mark.empty:
        raise ValueError("choose a question kind, a READ level, or both")
    return mark


async def edit_reference(store: Any, conversation: Conversation, mark: ReferenceMark, *,
                         timezone: str, now: float) -> tuple[NotedMark | None, NotedMark]:
    """Save ``mark`` for the conversation; (the mark before, the mark now). Under the
    aggregates' lock: two edits at once (a double click) must not both move the count."""
    async with aggregates_lock(store):
        return await _edit(store, conversation, mark, timezone=timezone, now=now)


async def _edit(store: Any, conversation: Conversation, mark: ReferenceMark, *,
                timezone: str, now: float) -> tuple[NotedMark | None, NotedMark]:
    before = await store.reference_noted(conversation.id)
    if before is not None:
        librarian, at = before.librarian_id, before.marked_at
    else:
        closed = conversation.status is Status.CLOSED and conversation.closed_at
        librarian, at = conversation.claimed_by_id, conversation.closed_at if closed else now
    after = NotedMark(mark, librarian, at)
    await store.save_reference(conversation.id, mark, librarian, at)
    day, rolled = LocalTime(timezone)(at)[0], await store.rolled_until()
    if rolled and day < rolled:  # the day is read from the aggregates only: move its count
        await store.recount_reference(day, before.key if before else None, after.key)
    return before, after


def _said(noted: NotedMark | None) -> str:
    if noted is None:
        return "none"
    return f"{noted.mark.kind or 'no kind'} READ {noted.mark.read_level or '-'}"


async def _save(ctx: AdminContext, request: web.Request) -> web.Response:
    staff(request)
    conversation = await ctx.store.get_conversation(request.match_info["id"])
    if conversation is None:
        raise web.HTTPNotFound(text="No conversation has that id.")
    try:
        mark = mark_from_form(await request.post(), list(ctx.config.desk.question_kinds))
    except ValueError as exc:
        raise web.HTTPBadRequest(text=f"Not saved: {exc}.") from None
    before, after = await edit_reference(ctx.store, conversation, mark,
                                         timezone=ctx.config.library.timezone, now=ctx.now())
    await audit(ctx, request, "reference mark edited",
                f"conversation {conversation.id}: {_said(before)} -> {_said(after)}")
    return redirect(f"{PREFIX}/transcripts/{conversation.id}?done=marked")


def routes(ctx: AdminContext) -> list[web.RouteDef]:
    return [web.post("/transcripts/{id}/reference", partial(_save, ctx))]
