"""``GET /widget/texts/<lang>.json``: one language's texts, the library's overrides in.

The body of each language is made once (the texts change only with a restart), so a
request costs a dictionary look-up. A tag the library has no file for ("pt-BR.json")
gets the language ``Catalog.pick`` chooses for it, named in ``Content-Language``. The
ETag is the body's hash: a widget revalidates a stale copy with ``If-None-Match`` and
gets a 304 without the body; ``Cache-Control`` keeps it a day and lets a browser use it
a week more while it checks. gzip when the browser takes it. Public and read-only, so
any site embedding the widget may read it (CORS ``*``).
"""

from __future__ import annotations

import gzip
import hashlib
import json
from dataclasses import dataclass

from aiohttp import web

from adapters.i18n.catalog import Catalog

__all__ = ["CACHE_CONTROL", "TextsEndpoint"]

CACHE_CONTROL = "public, max-age=86400, stale-while-revalidate=604800"
_PATH = "/widget/texts/{name}"


@dataclass(frozen=True, slots=True)
class _Body:
    plain: bytes
    gzipped: bytes
    etag: str


class TextsEndpoint:
    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog
        self._bodies = {code: _body(catalog, code) for code in catalog.codes}

    def routes(self) -> list[web.RouteDef]:
        return [web.get(_PATH, self.texts)]

    async def texts(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if not name.endswith(".json") or len(name) > 40:
            raise web.HTTPNotFound(text="texts are at /widget/texts/<language>.json")
        code = self._catalog.pick([name[:-5]])
        body = self._bodies[code]
        headers = {"ETag": body.etag, "Cache-Control": CACHE_CONTROL,
                   "Content-Language": code, "Vary": "Accept-Encoding",
                   "Access-Control-Allow-Origin": "*"}
        if body.etag in _tags(request.headers.get("If-None-Match", "")):
            return web.Response(status=304, headers=headers)
        data = body.plain
        if "gzip" in request.headers.get("Accept-Encoding", "").lower():
            data, headers["Content-Encoding"] = body.gzipped, "gzip"
        return web.Response(body=data, headers=headers,
                            content_type="application/json", charset="utf-8")


def _body(catalog: Catalog, code: str) -> _Body:
    plain = json.dumps(catalog.language(code).json(), ensure_ascii=False,
                       separators=(",", ":")).encode("utf-8")
    etag = '"' + hashlib.sha256(plain).hexdigest()[:32] + '"'
    return _Body(plain, gzip.compress(plain, mtime=0), etag)


def _tags(header: str) -> set[str]:
    """The entity tags of an If-None-Match header; weak ones compare by their value."""
    return {tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()}
