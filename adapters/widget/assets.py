"""The widget's scripts over HTTP: compressed, validated by ETag, cached as long as safe.

``/widget.js`` is the loader, at the address every library page embeds, so it cannot
change name: browsers keep it five minutes, then ask again and get a bodiless 304 while
it is unchanged. The chat behind it is served under a name that carries its content's
hash, so browsers keep it for a year without asking (``immutable``). Each file is
served in the best encoding the browser accepts: brotli, gzip or none.
"""

from __future__ import annotations

from aiohttp import web

from adapters.widget.bundle import STATIC_PATH, Asset, Bundle

__all__ = ["WidgetAssets", "pick_encoding"]

LOADER_CACHE = "public, max-age=300"
STATIC_CACHE = "public, max-age=31536000, immutable"
# A script any site may load, and (for the integrity check the loader asks for) read.
_SCRIPT = {"Cross-Origin-Resource-Policy": "cross-origin", "X-Content-Type-Options": "nosniff",
           "Vary": "Accept-Encoding"}


class WidgetAssets:
    def __init__(self, bundle: Bundle) -> None:
        self._bundle = bundle

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/widget.js", self.loader)
        app.router.add_get(STATIC_PATH + "{name}", self.static)

    async def loader(self, request: web.Request) -> web.Response:
        return serve(request, self._bundle.loader, LOADER_CACHE)

    async def static(self, request: web.Request) -> web.Response:
        asset = self._bundle.static(request.match_info["name"])
        if asset is None:
            raise web.HTTPNotFound(text="No such widget file; reload the page for the "
                                        "current version.")
        return serve(request, asset, STATIC_CACHE, {"Access-Control-Allow-Origin": "*"})


def serve(request: web.Request, asset: Asset, cache: str,
          extra: dict[str, str] | None = None) -> web.Response:
    """``asset`` in the encoding ``request`` prefers, or 304 when the browser has it."""
    encoding = pick_encoding(request.headers.get("Accept-Encoding", ""))
    body = {"br": asset.brotli, "gzip": asset.gzip, "": asset.body}[encoding]
    etag = f'"{asset.digest[:32]}{"-" + encoding if encoding else ""}"'
    headers = {**_SCRIPT, "Cache-Control": cache, "ETag": etag, **(extra or {})}
    if encoding:
        headers["Content-Encoding"] = encoding
    if _matches(request.headers.get("If-None-Match", ""), etag):
        return web.Response(status=304, headers=headers)
    return web.Response(body=body, headers={**headers, "Content-Type": asset.content_type})


def pick_encoding(accept: str) -> str:
    """``br`` or ``gzip`` when the browser takes it (q > 0), else "" (the plain file)."""
    taken: dict[str, float] = {}
    for item in accept.lower().split(","):
        name, _, params = item.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        taken[name.strip()] = quality
    for encoding in ("br", "gzip"):
        if taken.get(encoding, taken.get("*", 0.0)) > 0:
            return encoding
    return ""


def _matches(header: str, etag: str) -> bool:
    tags = [t.strip().removeprefix("W/") for t in header.split(",")]
    return header.strip() == "*" or etag in tags
