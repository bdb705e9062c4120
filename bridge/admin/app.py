"""``admin_app(ctx)``: the dashboard as an aiohttp sub-application, mounted at ``/admin``.

Its pages come from a fixed list of modules, each exposing ``routes(ctx)``. Templates are
rendered by Jinja2 with autoescape on; every page extends ``base.html``. The stylesheet
is served from ``static/``: no CDN, no inline script (the CSP of ``bridge.web_guard``).
"""

from __future__ import annotations

import importlib
import logging
from pathlib import Path
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web

from bridge.admin import auth
from bridge.admin.context import STAFF, AdminContext, csrf_field
from bridge.admin.limiter import LoginLimiter

__all__ = ["PAGES", "admin_app"]

log = logging.getLogger(__name__)

PAGES = ("bridge.admin.overview", "bridge.admin.reference", "bridge.admin.librarians",
         "bridge.admin.transcripts", "bridge.admin.reference_edit", "bridge.admin.operations",
         "bridge.admin.privacy", "bridge.admin.accounts", "bridge.admin.audit_page")
_HERE = Path(__file__).parent


async def _template_context(request: web.Request) -> dict[str, Any]:
    return {"staff": request.get(STAFF), "csrf_field": lambda: csrf_field(request),
            "prefix": auth.PREFIX, "request": request}


def admin_app(ctx: AdminContext) -> web.Application:
    """The dashboard's routes behind sign-in; the caller mounts it at ``/admin``."""
    app = web.Application(middlewares=[auth.auth_middleware], client_max_size=1024 * 1024)
    app[auth.CTX] = ctx
    app[auth.LIMITER] = LoginLimiter()
    aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(_HERE / "templates"),
                         autoescape=True, context_processors=[_template_context])
    app.router.add_static("/static", _HERE / "static")
    app.add_routes(auth.routes())
    for name in PAGES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            log.debug("dashboard page %s is not installed", name)
            continue
        app.add_routes(module.routes(ctx))
    return app
