"""What the three report pages share: the date range from the query string (presets or
custom dates, in the library's time zone), durations and shares in words, grouping days
into weeks or months for long ranges, and the librarians' names."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from aiohttp import web

from bridge.admin.context import AdminContext
from bridge.admin.report_queries import (
    PRESETS,
    BadRange,
    DateRange,
    Reports,
    date_range,
    period_key,
    period_of,
    periods,
)

__all__ = ["duration", "librarian_names", "period_key", "period_of", "periods", "range_view",
           "reports_of", "share"]


def reports_of(ctx: AdminContext) -> Reports:
    return Reports(ctx.store, ctx.config.library.timezone)


def range_view(
    request: web.Request, reports: Reports, now: float
) -> tuple[DateRange, dict[str, Any]]:
    """The range asked for and what the range picker shows; a bad range is a 400 page
    naming what is wrong (rendered by the caller's template through ``error``)."""
    today = reports.today(now)
    try:
        span = date_range(request.query, today)
        error = ""
    except BadRange as exc:
        span, error = date_range({"range": "7d"}, today), str(exc)
    return span, {"presets": PRESETS, "span": span, "error": error,
                  "query": f"from={span.first.isoformat()}&to={span.last.isoformat()}",
                  "timezone": reports.clock.zone.key}


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "\u2013"
    s = round(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60} s" if s < 600 else f"{s // 60} min"
    if s < 86400:
        return f"{s // 3600} h {s % 3600 // 60} min"
    return f"{s // 86400} d {s % 86400 // 3600} h"


def share(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f} %" if whole else "\u2013"


async def librarian_names(ctx: AdminContext, ids: Iterable[str]) -> dict[str, str]:
    """The staff account linked to the desk's Telegram user (``/admin/accounts``), else
    the name the librarians table knows them by."""
    linked = {str(a.telegram_id): a.name for a in await ctx.store.accounts()
              if a.telegram_id is not None}
    names = {}
    for lib_id in ids:
        found = await ctx.store.get_librarian(lib_id) if lib_id and lib_id not in linked \
            else None
        names[lib_id] = linked.get(lib_id) or (found.name if found is not None
                                               else (lib_id or "nobody"))
    return names
