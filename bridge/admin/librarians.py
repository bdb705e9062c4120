"""``/admin/librarians``: each librarian's conversations served, median first response,
average rating and READ distribution, named as the librarians table knows them."""

from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web

from bridge.admin import charts
from bridge.admin.context import AdminContext, staff
from bridge.admin.report_pages import duration, librarian_names, range_view, reports_of
from routing.report_roles import READ_LEVELS

__all__ = ["routes"]


def routes(ctx: AdminContext) -> list[web.RouteDef]:
    async def page(request: web.Request) -> web.Response:
        staff(request)
        reports = reports_of(ctx)
        now = ctx.now()
        span, picker = range_view(request, reports, now)
        figures = await reports.librarians(span, {}, now)
        names = await librarian_names(ctx, [f.id for f in figures])
        figures.sort(key=lambda f: (-f.tally.conversations, names[f.id]))
        rows = [{
            "id": f.id, "name": names[f.id], "served": f.tally.conversations,
            "first": duration(f.tally.first(0.5)),
            "rating": f"{f.tally.average_rating:.2f} ({f.tally.rated})"
                      if f.tally.average_rating is not None else "\u2013",
            "reads": [f.reads[i] for i in READ_LEVELS],
        } for f in figures]
        served = charts.hbars([(names[f.id], f.tally.conversations) for f in figures],
                              "Conversations served")
        response = aiohttp_jinja2.render_template("librarians.html", request, {
            **picker, "rows": rows, "levels": list(READ_LEVELS), "served": served})
        if picker["error"]:
            response.set_status(400)
        return response

    return [web.get("/librarians", page)]
