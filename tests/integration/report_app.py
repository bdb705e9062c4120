"""The three report pages in an aiohttp app of their own, signed in as a librarian, for
tests that run before the dashboard's sign-in (A1) is merged: the templates are the real
ones; a minimal ``base.html`` stands in only when the real one is not there."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web

from bridge.admin import librarians, overview, reference
from bridge.admin.context import Account, AdminContext, csrf_field

TEMPLATES = Path(overview.__file__).parent / "templates"
_BASE = ('<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{% block title %}'
         '{% endblock %}</title></head><body><main>{% block content %}{% endblock %}</main>'
         '</body></html>')


class Clock:
    def __init__(self, now: float) -> None:
        self.at = now

    def now(self) -> float:
        return self.at


def report_app(ctx: AdminContext, role: str = "librarian") -> web.Application:
    @web.middleware
    async def signed_in(request: web.Request, handler: Any) -> web.StreamResponse:
        request["staff"] = Account(1, "Ayu", role)
        return await handler(request)

    async def context(request: web.Request) -> dict[str, Any]:
        return {"staff": request.get("staff"), "prefix": "/admin",
                "csrf_field": lambda: csrf_field(request), "request": request}

    app = web.Application(middlewares=[signed_in])
    loader = jinja2.ChoiceLoader([jinja2.FileSystemLoader(TEMPLATES),
                                  jinja2.DictLoader({"base.html": _BASE})])
    aiohttp_jinja2.setup(app, loader=loader, autoescape=True, context_processors=[context])
    for module in (overview, reference, librarians):
        app.add_routes(module.routes(ctx))
    outer = web.Application()
    outer.add_subapp("/admin", app)
    return outer
