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
from collections import OrderedDict
from pathlib import Path
from urllib.parse import quote

from aiohttp import web

from adapters.blobs import BlobStore
from adapters.files import SNIFF_BYTES, sniff
from adapters.widget.render import withdrawn_ids
from adapters.widget.tokens import VisitorTokens
from routing.model import Attachment, Channel, Contact, Message
from routing.plain import storable
from routing.router import Router

__all__ = ["FileDownloads", "content_disposition", "served_type"]

_DIGEST = re.compile(r"[0-9a-f]{64}")
_INLINE = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
# Types a browser would render as a document or run: served as plain bytes instead.
_ACTIVE = ("html", "xml", "script", "svg", "css", "multipart/", "x-shockwave")
_MIME = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*")
_REREAD_MS = 5 * 60 * 1000
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
    name = "".join(c for c in storable(name)
                   if unicodedata.category(c) not in ("Cc", "Cf", "Zl", "Zp"))
    name = name.replace("/", "_").replace("\\", "_").strip() or "file"
    return f"{kind}; filename=\"{_ascii_fallback(name)}\"; filename*=UTF-8''{quote(name, safe='')}"


class _Seen:
    """What one conversation's messages say about its files, read up to ``through``."""

    def __init__(self, conversation_id: str) -> None:
        self.conversation_id = conversation_id
        self.through = ""
        self.files: dict[str, dict[str, Attachment]] = {}  # digest: {message id: file}
        self.gone: set[str] = set()  # withdrawn replies
        self.edits: dict[str, str] = {}  # an edit's id: the id of the message it edits

    def add(self, messages: list[Message]) -> None:
        """Idempotent, whatever the order: a message read twice changes nothing."""
        self.gone |= withdrawn_ids(messages)
        for message in messages:
            if message.event == "edited" and message.replaces:
                self.edits[message.id] = message.replaces
            for attachment in message.attachments:
                self.files.setdefault(attachment.digest, {})[message.id] = attachment
            self.through = max(self.through, message.id)

    def find(self, digest: str) -> Attachment | None:
        """The file, from a message that is not withdrawn (nor an edit of one)."""
        for message_id, attachment in self.files.get(digest, {}).items():
            if message_id not in self.gone and self.edits.get(message_id) not in self.gone:
                return attachment
        return None


class FileDownloads:
    """Finds a file in the visitor's whole conversation, however long. What was read is
    kept per conversation (``cache`` of them), and each look-up reads only the messages
    since, from ``_REREAD_MS`` back: ids sort by creation time, and a message may be
    stored a moment after a later-made one, so the last moments are read again."""

    def __init__(self, router: Router, blobs: BlobStore, tokens: VisitorTokens,
                 *, cache: int = 1000) -> None:
        self._router = router
        self._blobs = blobs
        self._tokens = tokens
        self._cache: OrderedDict[str, _Seen] = OrderedDict()  # by visitor
        self._cache_size = cache

    async def find(self, visitor: str, digest: str) -> Attachment | None:
        """The file as it appears in the visitor's conversation, unless withdrawn."""
        contact = Contact(Channel.WIDGET, visitor)
        seen = self._cache.pop(visitor, None)
        cursor = _reread_from(seen.through) if seen is not None else ""
        # patron_view pages past notes; an empty page is the end of the conversation.
        while True:
            conversation, messages = await self._router.intake.patron_view(contact, after=cursor)
            if conversation is None:
                return None
            if seen is None or seen.conversation_id != conversation.id:
                seen = _Seen(conversation.id)  # a new conversation: read it from the start
                if cursor:
                    cursor = ""
                    continue
            if not messages:
                break
            seen.add(messages)
            cursor = messages[-1].id
        self._cache[visitor] = seen
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return seen.find(digest)

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


def _reread_from(through: str) -> str:
    """The id to read after: ``_REREAD_MS`` before the last one read."""
    if not through:
        return ""
    try:
        stamp = int(through[:12], 16)
    except ValueError:
        return ""
    return f"{max(0, stamp - _REREAD_MS):012x}"


def _head(path: Path) -> bytes | None:
    try:
        with open(path, "rb") as blob:
            return blob.read(SNIFF_BYTES)
    except FileNotFoundError:
        return None
