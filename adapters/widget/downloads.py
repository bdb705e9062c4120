"""Serving a conversation's files to the widget: ``GET /widget/files/<digest>?v=&s=``.

An ``<img src>`` or a plain link cannot send the visitor's bearer token, so the link is
the permission: ``s`` is the visitor's signature on the digest (render.py makes it). A
link edited to another visitor or another file is refused (403), and a genuine link to a
file that is no longer in the visitor's conversation (withdrawn, or never there) finds
nothing (404). What is served can do no harm where it lands: the type read from the
bytes again and never one a browser would run (HTML, SVG, XML, scripts), ``nosniff``, a
sandboxing Content-Security-Policy, and ``attachment`` for everything but an image.
"""

from __future__ import annotations

import asyncio
import re
import unicodedata
from pathlib import Path
from urllib.parse import quote

from aiohttp import web

from adapters.blobs import BlobStore
from adapters.files import sniff
from adapters.widget.render import withdrawn_ids
from adapters.widget.tokens import VisitorTokens
from routing.model import Attachment, Channel, Contact
from routing.router import Router

__all__ = ["FileDownloads", "content_disposition", "served_type"]

_DIGEST = re.compile(r"[0-9a-f]{64}")
_INLINE = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
# Types a browser would render as a document or run: served as plain bytes instead.
_ACTIVE = ("html", "xml", "script", "svg", "css", "multipart/", "x-shockwave")
_MIME = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*")
_SNIFF_BYTES = 64
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Referrer-Policy": "no-referrer",
    # Images are shown on the library's own pages, another origin than the bridge's.
    "Cross-Origin-Resource-Policy": "cross-origin",
    "Cache-Control": "private, max-age=86400",
}


def served_type(mime: str) -> str:
    """The Content-Type to serve a file under: its own, unless a browser could run it."""
    mime = mime.split(";", 1)[0].strip().lower()
    if not _MIME.fullmatch(mime) or any(word in mime for word in _ACTIVE):
        return "application/octet-stream"
    return mime


def _ascii_fallback(name: str) -> str:
    """The name for browsers that ignore ``filename*``: printable ASCII, no quote or
    backslash (RFC 6266 quoted-string), never empty."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    plain = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in plain)
    return plain.strip() or "file"


def content_disposition(name: str, *, inline: bool) -> str:
    """``attachment; filename="..."; filename*=UTF-8''...`` (RFC 6266 / RFC 8187)."""
    kind = "inline" if inline else "attachment"
    name = "".join(c for c in name if unicodedata.category(c) not in ("Cc", "Cf", "Zl", "Zp"))
    name = name.replace("/", "_").replace("\\", "_").strip() or "file"
    return f"{kind}; filename=\"{_ascii_fallback(name)}\"; filename*=UTF-8''{quote(name, safe='')}"


class FileDownloads:
    def __init__(self, router: Router, blobs: BlobStore, tokens: VisitorTokens) -> None:
        self._router = router
        self._blobs = blobs
        self._tokens = tokens

    async def find(self, visitor: str, digest: str) -> Attachment | None:
        """The file as it appears in the visitor's conversation, unless withdrawn."""
        _, messages = await self._router.patron_view(Contact(Channel.WIDGET, visitor))
        gone = withdrawn_ids(messages)
        for message in messages:
            if message.id in gone:
                continue
            for attachment in message.attachments:
                if attachment.digest == digest:
                    return attachment
        return None

    async def response(self, request: web.Request) -> web.StreamResponse:
        digest = request.match_info.get("digest", "")
        visitor, signature = request.query.get("v", ""), request.query.get("s", "")
        if not _DIGEST.fullmatch(digest) or not self._tokens.verify_file(visitor, digest,
                                                                         signature):
            raise web.HTTPForbidden(text="This file link is not valid.",
                                    headers=SECURITY_HEADERS)
        attachment = await self.find(visitor, digest)
        path = self._blobs.path(digest)
        head = await asyncio.to_thread(_head, path) if attachment is not None else None
        if attachment is None or head is None:
            raise web.HTTPNotFound(text="This file is no longer in your conversation.",
                                   headers=SECURITY_HEADERS)
        # The bytes decide again: the record may come from a channel that trusted a label.
        mime = served_type(sniff(head, attachment.mime))
        headers = {
            **SECURITY_HEADERS,
            "Content-Type": mime,
            "Content-Disposition": content_disposition(attachment.name,
                                                       inline=mime in _INLINE),
        }
        return web.FileResponse(path, headers=headers)


def _head(path: Path) -> bytes | None:
    try:
        with open(path, "rb") as blob:
            return blob.read(_SNIFF_BYTES)
    except FileNotFoundError:
        return None
