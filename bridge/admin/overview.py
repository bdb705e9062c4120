"""``/admin/``: the service over a date range. Conversations by day and by channel, the
after-hours share, first response and time to close (median, 90th percentile), missed
conversations, ratings, the busiest hours of the week, top tags and pages."""

from __future__ import annotations

from collections import Counter
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from bridge.admin import charts
from bridge.admin.context import AdminContext, staff
from bridge.admin.report_math import Tally
from bridge.admin.report_pages import (
    duration,
    period_key,
    period_of,
    periods,
    range_view,
    reports_of,
    share,
)
from bridge.admin.report_queries import CHANNELS, Overview

__all__ = ["overview_view", "routes"]


def routes(ctx: AdminContext) -> list[web.RouteDef]:
    async def overview(request: web.Request) -> web.Response:
        staff(request)
        reports = reports_of(ctx)
        now = ctx.now()
        span, picker = range_view(request, reports, now)
        view = overview_view(await reports.overview(span, now))
        response = aiohttp_jinja2.render_template("overview.html", request, {**picker, **view})
        if picker["error"]:
            response.set_status(400)
        return response

    return [web.get("/", overview)]


def overview_view(o: Overview) -> dict[str, Any]:
    """The page's figures and charts, from the report."""
    t = o.total
    return {
        "figures": _figures(t),
        "exact": t.exact,
        "by_day": _by_day(o),
        "first_line": _first_line(o),
        "channels": charts.hbars([(c, o.by_channel[c]) for c in CHANNELS],
                                 "Conversations by channel"),
        "ratings": charts.hbars([(f"{'★' * (i + 1)} ({i + 1})", n)
                                 for i, n in enumerate(t.ratings)], "Ratings"),
        "heat": charts.heat_map(o.heat, "Conversations by hour of the week"),
        "tags": charts.hbars(o.tags, "Top tags"),
        "pages": charts.hbars(o.pages, "Top pages patrons wrote from"),
    }


def _figures(t: Tally) -> list[tuple[str, str, str]]:
    """(id, label, value) for the figure cards."""
    return [
        ("conversations", "Conversations", str(t.conversations)),
        ("after-hours", "After hours", f"{share(t.after_hours, t.conversations)} "
                                       f"({t.after_hours})"),
        ("first-median", "First response, median", duration(t.first(0.5))),
        ("first-p90", "First response, 90th percentile", duration(t.first(0.9))),
        ("close-median", "Time to close, median", duration(t.close(0.5))),
        ("close-p90", "Time to close, 90th percentile", duration(t.close(0.9))),
        ("missed", "Missed (no librarian answer)", f"{t.missed} "
                                                   f"({share(t.missed, t.conversations)})"),
        ("rating", "Average rating", f"{t.average_rating:.2f} of 5 ({t.rated} rated)"
                                     if t.average_rating is not None else "no ratings"),
    ]


def _by_day(o: Overview) -> Any:
    period = period_of(o.range)
    labels = periods(o.range, period)
    counts: dict[str, Counter[str]] = {label: Counter() for label in labels}
    for day, channels in o.by_day.items():
        counts.setdefault(period_key(day, period), Counter()).update(channels)
    series = [(c, [counts[label][c] for label in labels]) for c in CHANNELS]
    return charts.stacked_bars(labels, series, f"Conversations by {period} and channel")


def _first_line(o: Overview) -> Any:
    period = period_of(o.range)
    labels = periods(o.range, period)
    merged: dict[str, Tally] = {label: Tally() for label in labels}
    for day, tally in o.daily.items():
        merged[period_key(day, period)].merge(tally)
    minutes = [(m / 60 if (m := merged[label].first(0.5)) is not None else None)
               for label in labels]
    return charts.line(labels, minutes, f"Median first response by {period} (minutes)",
                       " min")
