"""``/admin/reference``: reference statistics as libraries keep them, counts by month of
each question kind and of each READ effort level noted at ``/close``; and
``/admin/reference.csv``, the same table for the annual return."""

from __future__ import annotations

import csv
import io

import aiohttp_jinja2
from aiohttp import web

from bridge.admin.context import AdminContext, audit, staff
from bridge.admin.report_pages import range_view, reports_of
from routing.report_roles import READ_LEVELS

__all__ = ["csv_text", "routes"]


def routes(ctx: AdminContext) -> list[web.RouteDef]:
    kinds = list(ctx.config.desk.question_kinds)

    async def page(request: web.Request) -> web.Response:
        staff(request)
        reports = reports_of(ctx)
        span, picker = range_view(request, reports, ctx.now())
        table = await reports.reference(span, kinds, ctx.now())
        rows = table.csv_rows()
        response = aiohttp_jinja2.render_template("reference.html", request, {
            **picker, "head": rows[0], "body": rows[1:-1], "total": rows[-1],
            "kinds": kinds, "levels": list(READ_LEVELS)})
        if picker["error"]:
            response.set_status(400)
        return response

    async def download(request: web.Request) -> web.Response:
        staff(request)
        reports = reports_of(ctx)
        span, picker = range_view(request, reports, ctx.now())
        if picker["error"]:
            raise web.HTTPBadRequest(text=picker["error"])
        table = await reports.reference(span, kinds, ctx.now())
        await audit(ctx, request, "export", f"reference statistics {span.first}..{span.last}"
                                            " (CSV)")
        name = f"reference-statistics-{span.first}-to-{span.last}.csv"
        return web.Response(
            text=csv_text(table.csv_rows()), content_type="text/csv", charset="utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'})

    return [web.get("/reference", page), web.get("/reference.csv", download)]


def csv_text(rows: list[list[str]]) -> str:
    """CSV a spreadsheet opens safely: a cell that would start a formula is quoted as text."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for row in rows:
        writer.writerow(["'" + c if c[:1] in ("=", "+", "-", "@", "\t", "\r") else c
                         for c in row])
    return out.getvalue()
