"""People sending files on the emulated Telegram: documents, photos, voice notes, albums.

As the Telegram app does it: a voice note is OGG/Opus with a duration, and an album
arrives as one ``Update`` per item, each carrying the album's ``media_group_id`` and the
caption on its first item only. What the app would not allow raises ``ValueError``.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Sequence
from typing import Any

from adapters.telegram.emulator.core import Core
from adapters.telegram.emulator.files import KINDS, MAX_UPLOAD, media_json, store_upload
from adapters.telegram.emulator.html import auto_entities
from adapters.telegram.emulator.media import MAX_ALBUM
from adapters.telegram.emulator.world import ApiError, StoredFile

__all__ = ["MediaHumans"]


class MediaHumans:
    """A mixin of :class:`Humans`, which supplies the core and ``_user_posts``."""

    _core: Core

    def _user_posts(self, chat_id: int, user_id: int, thread_id: int | None,
                    reply_to: int | None, **content: Any) -> dict[str, Any]:
        raise NotImplementedError

    def user_sends_file(self, chat_id: int, user_id: int, file_name: str, data: bytes, *,
                        caption: str | None = None, photo: bool = False,
                        mime_type: str | None = None, kind: str | None = None,
                        message_thread_id: int | None = None,
                        reply_to_message_id: int | None = None) -> dict[str, Any]:
        """A person sends a document, or a photo (PNG, GIF or JPEG bytes), or another
        ``kind``: "voice", "audio", "video"."""
        kind = kind or ("photo" if photo else "document")
        stored = self._keep(kind, file_name, data, mime_type)
        return self._user_posts(chat_id, user_id, message_thread_id, reply_to_message_id,
                                **_content(stored, kind, caption, {"duration": 1}))

    def user_sends_voice(self, chat_id: int, user_id: int, data: bytes, *,
                         duration: int = 1, caption: str | None = None,
                         message_thread_id: int | None = None,
                         reply_to_message_id: int | None = None) -> dict[str, Any]:
        """A person records a voice note (the app records OGG/Opus)."""
        if not data.startswith(b"OggS"):
            raise ValueError("the Telegram app records voice notes as OGG/Opus")
        stored = self._keep("voice", "voice.ogg", data, "audio/ogg")
        return self._user_posts(chat_id, user_id, message_thread_id, reply_to_message_id,
                                **_content(stored, "voice", caption, {"duration": duration}))

    def user_sends_album(self, chat_id: int, user_id: int,
                         items: Sequence[tuple[str, str, bytes]], *,
                         caption: str | None = None,
                         message_thread_id: int | None = None) -> list[dict[str, Any]]:
        """A person sends 2 to 10 files at once: ``items`` are (kind, file name, bytes).
        Photos and videos mix; documents go only with documents, audio with audio."""
        kinds = [kind for kind, _, _ in items]
        if not 2 <= len(items) <= MAX_ALBUM:
            raise ValueError("an album holds 2 to 10 files")
        if any(kind not in ("photo", "video", "document", "audio") for kind in kinds):
            raise ValueError("albums hold photos, videos, documents or audio files")
        alone = next((kind for kind in kinds if kind in ("document", "audio")), None)
        if alone is not None and any(kind != alone for kind in kinds):
            raise ValueError(f"{alone}s cannot share an album with other kinds")
        stored = [self._keep(kind, name, data, None) for kind, name, data in items]
        group = self._core.world.new_media_group_id()
        sent = []
        for i, (kind, keep) in enumerate(zip(kinds, stored, strict=True)):
            content = _content(keep, kind, caption if i == 0 else None, {"duration": 1})
            content["extra"]["media_group_id"] = group
            sent.append(self._user_posts(chat_id, user_id, message_thread_id, None, **content))
        return sent

    def _keep(self, kind: str, file_name: str, data: bytes, mime_type: str | None) -> StoredFile:
        if kind not in KINDS:
            raise ValueError(f"unknown kind of file {kind!r}")
        if not data or len(data) > MAX_UPLOAD:
            raise ValueError("a file must have 1 byte to 50 MB")
        if kind == "document" and mime_type:  # the app sends the type it was given
            return self._core.world.store_file(data, file_name, mime_type, "documents")
        mime_type = mimetypes.guess_type(file_name)[0] or "application/octet-stream"
        try:
            return store_upload(self._core.world, kind, data, file_name, mime_type)
        except ApiError as exc:  # a photo that is no image, or over 10 MB
            raise ValueError(exc.description) from None


def _content(stored: StoredFile, kind: str, caption: str | None,
             attrs: dict[str, Any]) -> dict[str, Any]:
    content: dict[str, Any] = {"extra": media_json(stored, kind, attrs)}
    if caption and caption.strip():
        content["caption"] = caption.strip()
        content["caption_entities"] = auto_entities(caption.strip(), [])
    return content
