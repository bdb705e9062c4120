"""Security headers for every response, and who may read ``/metrics``.

Headers go on in ``on_response_prepare``, the moment before any response's head is sent:
a middleware sees only what its handler returns, not a file the handler streamed itself
(downloads), nor a 404 raised by the router. Headers a handler set itself win (file
downloads carry their own sandboxing policy).

What applies depends on what the response is:
- a page of the bridge's own (HTML: the demo's sample page, the desk simulator): a strict
  Content-Security-Policy (scripts and connections to this origin only) and no framing;
- ``widget.js``: a script that libraries embed in their own pages. A CSP on a script's
  response means nothing (the embedding page's policy governs it), and framing rules do
  not apply; it gets ``nosniff`` and may be loaded by pages of any origin;
- everything else (the widget API, health, metrics, errors): data that must never be
  rendered as a page: ``default-src 'none'`` and no framing.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Sequence

from aiohttp import web

from adapters.widget.address import TrustedProxies, client_ip

__all__ = ["API_HEADERS", "PAGE_HEADERS", "SCRIPT_HEADERS", "MetricsGuard", "add_headers"]

_COMMON = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}
# 'unsafe-inline' for styles only: the widget builds its look in a <style> of its Shadow
# DOM and sets its brand colours in a style attribute; no script runs inline.
PAGE_CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data: blob: https:; connect-src 'self'; font-src 'self'; "
            "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
PAGE_HEADERS = {**_COMMON, "Content-Security-Policy": PAGE_CSP, "X-Frame-Options": "DENY"}
SCRIPT_HEADERS = {**_COMMON, "Cross-Origin-Resource-Policy": "cross-origin"}
API_HEADERS = {**_COMMON, "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
               "X-Frame-Options": "DENY"}


async def _headers(request: web.Request, response: web.StreamResponse) -> None:
    if response.status == 101:  # a WebSocket: no document, nothing to protect
        return
    kind = response.headers.get("Content-Type", response.content_type).lower()
    if request.path == "/widget.js":
        chosen = SCRIPT_HEADERS
    elif kind.startswith("text/html"):
        chosen = PAGE_HEADERS
    else:
        chosen = API_HEADERS
    for name, value in chosen.items():
        response.headers.setdefault(name, value)


def add_headers(app: web.Application) -> None:
    """Give every response of ``app`` its security headers (before ``app`` starts)."""
    app.on_response_prepare.append(_headers)


class MetricsGuard:
    """``/metrics`` answers the allowed networks (loopback by default) and, from anywhere,
    a request bearing the metrics token. A trusted proxy's ``X-Forwarded-For`` names the
    real peer, so nginx in front on the same machine does not make everyone loopback."""

    def __init__(self, allow: Sequence[str], token: str, trusted_proxies: Sequence[str]) -> None:
        self._allow = [ipaddress.ip_network(n, strict=False) for n in allow]
        self._token = token
        self._proxies = TrustedProxies(trusted_proxies)

    def peer(self, request: web.Request) -> str:
        return client_ip(request.remote, request.headers.get("X-Forwarded-For"), self._proxies)

    def allows(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        if self._token and header.startswith("Bearer "):
            return hmac.compare_digest(header[7:].strip().encode(), self._token.encode())
        try:
            address = ipaddress.ip_address(self.peer(request))
        except ValueError:
            return False
        if address.version == 6 and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in network for network in self._allow)

    def check(self, request: web.Request) -> None:
        if not self.allows(request):
            raise web.HTTPForbidden(text="Metrics are served to the monitoring network only "
                                         "(server.metrics_allow, or PUSTAKA_METRICS_TOKEN).")
