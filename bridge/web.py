"""The one aiohttp Application: widget endpoints, health and metrics (and demo pages)."""

from __future__ import annotations

from aiohttp import web

from adapters.blobs import BlobStore
from adapters.i18n import Catalog
from adapters.i18n.web import TextsEndpoint
from adapters.widget.hub import WidgetHub
from adapters.widget.server import WidgetServer
from bridge.config import Config
from bridge.conn_guard import ConnectionGuard
from bridge.metrics import BridgeMetrics
from bridge.web_guard import MetricsGuard, add_headers
from routing.ports import OutboxRows

__all__ = ["build_web_app"]


def build_web_app(
    config: Config, widget: WidgetServer, *, store: OutboxRows, hub: WidgetHub,
    blobs: BlobStore, metrics: BridgeMetrics, texts: Catalog,
    extra_routes: list[web.RouteDef], admin: web.Application | None = None,
) -> web.Application:
    """The routes only: ``bridge.app`` adds the start and stop of the background tasks."""
    app = web.Application(client_max_size=64 * 1024)
    add_headers(app)  # CSP, nosniff, framing rules: bridge/web_guard.py
    server = config.server
    guard = MetricsGuard(server.metrics_allow, config.metrics_token, server.trusted_proxies)
    ConnectionGuard(server.max_connections_per_ip, server.header_timeout,  # conn_guard.py
                    server.trusted_proxies).install(app)
    widget.add_routes(app)
    app.add_routes(TextsEndpoint(texts).routes())  # GET /widget/texts/<lang>.json
    app.add_routes(extra_routes)

    async def health(_: web.Request) -> web.Response:
        pending = await store.pending_deliveries()
        body = {"status": "ok", "pending_deliveries": pending,
                "widget_connections": hub.connections}
        if low := blobs.space_refusal():  # uploads are being refused: say why
            body |= {"status": "degraded", "reasons": [low]}
        return web.json_response(body)

    app.router.add_get("/healthz", health)
    app.router.add_get("/metrics", metrics.handler(guard, store.pending_deliveries))
    if admin is not None:
        app.add_subapp("/admin", admin)  # the staff dashboard: bridge/admin
    return app
