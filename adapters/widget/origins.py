"""Which sites may use the widget: the origin check and the CORS headers every widget
endpoint shares (the WebSocket, the HTTP fallback, files, the presence beacon)."""

from __future__ import annotations

from collections.abc import Sequence

from aiohttp import web

__all__ = ["Origins", "origin_key"]


class Origins:
    """``allowed``: the library's ``widget.allowed_origins``; empty allows every site."""

    def __init__(self, allowed: Sequence[str]) -> None:
        self._allowed = tuple(allowed)
        self._keys = frozenset(origin_key(o) for o in allowed)

    def check(self, request: web.Request) -> None:
        """With ``allowed_origins`` set, a request from a page of another site is refused.

        A request without ``Origin`` passes: browsers send it on every cross-origin fetch
        and on every WebSocket handshake, so its absence means a same-origin request, a
        link or an <img>, or no browser at all; and a program that is not a browser can
        send any Origin it likes. The check keeps other sites' pages from using a
        visitor's browser; it is not authentication (the signed visitor token is)."""
        origin = request.headers.get("Origin")
        if origin is not None and not self.allowed(origin):
            raise web.HTTPForbidden(text="This site may not embed the library's chat.")

    def allowed(self, origin: str) -> bool:
        return not self._allowed or origin_key(origin) in self._keys

    def cors(self, request: web.Request) -> dict[str, str]:
        origin = request.headers.get("Origin", "")
        if not self._allowed:
            return {"Access-Control-Allow-Origin": "*"}
        if not origin or not self.allowed(origin):
            return {}
        return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}


def origin_key(origin: str) -> str:
    """An origin as browsers send it: lower case, no trailing slash, no default port; so
    ``https://Library.example:443/`` in the settings matches ``https://library.example``."""
    value = origin.strip().rstrip("/").lower()
    for scheme, port in (("https://", ":443"), ("http://", ":80")):
        if value.startswith(scheme) and value.endswith(port):
            value = value[: -len(port)]
    return value
