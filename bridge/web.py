"""The one aiohttp Application: widget endpoints, health and metrics (and demo pages)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from adapters.widget.server import WidgetServer
from bridge.conn_guard import ConnectionGuard
from bridge.web_guard import MetricsGuard, add_headers

if TYPE_CHECKING:
    from bridge.app import Bridge

__all__ = ["build_web_app"]


def build_web_app(
    bridge: Bridge, widget: WidgetServer, extra_routes: list[web.RouteDef]
) -> web.Application:
    app = web.Application(client_max_size=64 * 1024)
    add_headers(app)  # CSP, nosniff, framing rules: bridge/web_guard.py
    server = bridge.config.server
    guard = MetricsGuard(server.metrics_allow, bridge.config.metrics_token,
                         server.trusted_proxies)
    ConnectionGuard(server.max_connections_per_ip, server.header_timeout,  # conn_guard.py
                    server.trusted_proxies).install(app)
    widget.add_routes(app)
    app.add_routes(extra_routes)

    async def health(_: web.Request) -> web.Response:
        pending = await bridge.store.pending_deliveries()
        return web.json_response({"status": "ok", "pending_deliveries": pending,
                                  "widget_connections": bridge.hub.connections})

    async def metrics(request: web.Request) -> web.Response:
        guard.check(request)  # queue sizes and counters are not for the public
        pending = await bridge.store.pending_deliveries()
        lines = [
            "# TYPE pustaka_outbox_pending gauge",
            f"pustaka_outbox_pending {pending}",
            "# TYPE pustaka_widget_connections gauge",
            f"pustaka_widget_connections {bridge.hub.connections}",
        ]
        # Counters since start: sent, coalesced, retried, failed, rate_limited, and
        # possible_duplicates (a send re-done after a crash between "sent" and "recorded").
        for name, value in sorted(bridge.worker.stats().items()):
            lines += [f"# TYPE pustaka_outbox_{name} gauge", f"pustaka_outbox_{name} {value}"]
        return web.Response(text="\n".join(lines) + "\n", content_type="text/plain")

    app.router.add_get("/healthz", health)
    app.router.add_get("/metrics", metrics)
    return app
