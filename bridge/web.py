"""The one aiohttp Application: widget endpoints, health and metrics (and demo pages)."""

from __future__ import annotations

from aiohttp import web

from adapters.widget.hub import WidgetHub
from adapters.widget.server import WidgetServer
from bridge.config import Config
from bridge.web_guard import MetricsGuard, add_headers
from routing.outbox import DeliveryWorker
from routing.ports import Store

__all__ = ["build_web_app"]


def build_web_app(
    config: Config, widget: WidgetServer, *, store: Store, hub: WidgetHub,
    worker: DeliveryWorker, extra_routes: list[web.RouteDef]
) -> web.Application:
    """The routes only: ``bridge.app`` adds the start and stop of the background tasks."""
    app = web.Application(client_max_size=64 * 1024)
    add_headers(app)  # CSP, nosniff, framing rules: bridge/web_guard.py
    server = config.server
    guard = MetricsGuard(server.metrics_allow, config.metrics_token, server.trusted_proxies)
    widget.add_routes(app)
    app.add_routes(extra_routes)

    async def health(_: web.Request) -> web.Response:
        pending = await store.pending_deliveries()
        return web.json_response({"status": "ok", "pending_deliveries": pending,
                                  "widget_connections": hub.connections})

    async def metrics(request: web.Request) -> web.Response:
        guard.check(request)  # queue sizes and counters are not for the public
        pending = await store.pending_deliveries()
        lines = [
            "# TYPE pustaka_outbox_pending gauge",
            f"pustaka_outbox_pending {pending}",
            "# TYPE pustaka_widget_connections gauge",
            f"pustaka_widget_connections {hub.connections}",
        ]
        # Counters since start: sent, coalesced, retried, failed, rate_limited, and
        # possible_duplicates (a send re-done after a crash between "sent" and "recorded").
        for name, value in sorted(worker.stats().items()):
            lines += [f"# TYPE pustaka_outbox_{name} gauge", f"pustaka_outbox_{name} {value}"]
        return web.Response(text="\n".join(lines) + "\n", content_type="text/plain")

    app.router.add_get("/healthz", health)
    app.router.add_get("/metrics", metrics)
    return app
