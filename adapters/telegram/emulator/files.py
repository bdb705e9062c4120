"""How the emulated Telegram keeps files: kinds, upload limits, and the JSON they show as.

Shared by the bot's sending methods and by the people's side (``Humans``), so a photo a
patron sends and a photo the bot sends are stored and rendered alike. Telegram's limits:
a bot uploads at most 50 MB (10 MB for a photo) and downloads at most 20 MB.
"""

from __future__ import annotations

import mimetypes
import struct

from adapters.telegram.emulator.params import Upload
from adapters.telegram.emulator.world import ApiError, Json, StoredFile, World, bad_request

__all__ = [
    "KINDS",
    "MAX_DOWNLOAD",
    "MAX_PHOTO",
    "MAX_UPLOAD",
    "file_from",
    "image_mime",
    "image_size",
    "media_json",
    "store_upload",
    "stored_file",
]

MAX_UPLOAD = 50 * 1024 * 1024  # what a bot may upload
MAX_DOWNLOAD = 20 * 1024 * 1024  # what getFile will hand out
MAX_PHOTO = 10 * 1024 * 1024  # a photo, from anyone
KINDS = ("photo", "document", "voice", "audio", "video")
_FOLDERS = {"photo": "photos", "document": "documents", "voice": "voice", "audio": "music",
            "video": "videos"}
# TDLib's names in "can't use file of type X as Y"
_TYPE_NAMES = {"photo": "Photo", "document": "Document", "voice": "VoiceNote",
               "audio": "Audio", "video": "Video"}
_VOICE_TYPES = {"mp3": "audio/mpeg", "m4a": "audio/mp4", "ogg": "audio/ogg", "oga": "audio/ogg"}


def file_from(world: World, source: Upload | str, kind: str) -> StoredFile:
    """Store a bot's upload (within the 50 MB limit), or find the file a file_id names."""
    if isinstance(source, str):
        return stored_file(world, source, kind)
    if len(source.data) > MAX_UPLOAD:
        raise ApiError(413, "Request Entity Too Large")
    return store_upload(world, kind, source.data, source.filename, source.content_type)


def stored_file(world: World, source: str, kind: str) -> StoredFile:
    """The file a file_id names, if it may be sent as ``kind``; URLs cannot be fetched."""
    if source.startswith(("http://", "https://")):
        raise bad_request("failed to get HTTP URL content")
    known = world.files.get(source)
    if known is None:
        raise bad_request("wrong file identifier/HTTP URL specified")
    if known.kind != kind:
        raise bad_request(f"can't use file of type {_TYPE_NAMES[known.kind]} as "
                          f"{_TYPE_NAMES[kind]}")
    return known


def store_upload(world: World, kind: str, data: bytes, file_name: str,
                 content_type: str = "") -> StoredFile:
    """Keep an uploaded file of ``kind``, typed as Telegram types it (by its name)."""
    if not data:
        raise bad_request("file must be non-empty")
    guessed = mimetypes.guess_type(file_name)[0] or ""
    if kind == "photo":
        if len(data) > MAX_PHOTO:
            raise bad_request(f"file of size {len(data)} bytes is too big for a photo; the "
                              f"maximum size is {MAX_PHOTO} bytes")
        if image_size(data) is None:
            raise bad_request("IMAGE_PROCESS_FAILED")
        # Telegram re-encodes photos as JPEG; the emulator keeps the bytes as sent
        return world.store_file(data, "photo.jpg", image_mime(data), "photos", "photo")
    if kind == "voice":
        extension = file_name.rsplit(".", 1)[-1].lower() if "." in file_name else ""
        mime = _VOICE_TYPES.get(extension, "audio/ogg")
        suffix = {"audio/mpeg": "mp3", "audio/mp4": "m4a"}.get(mime, "oga")
        return world.store_file(data, "", mime, "voice", "voice", suffix)
    if kind == "audio":
        mime = guessed if guessed.startswith("audio/") else "audio/mpeg"
        return world.store_file(data, file_name, mime, "music", "audio")
    if kind == "video":
        mime = guessed if guessed.startswith("video/") else "video/mp4"
        return world.store_file(data, file_name, mime, "videos", "video")
    return world.store_file(data, file_name, guessed or content_type or
                            "application/octet-stream", _FOLDERS["document"], "document")


def image_mime(data: bytes) -> str:
    if data.startswith(b"\x89PNG"):
        return "image/png"
    return "image/gif" if data.startswith(b"GIF8") else "image/jpeg"


def media_json(stored: StoredFile, kind: str, attrs: Json | None = None) -> Json:
    """The message field a file shows as: ``photo`` (sizes), ``document``, ``voice`` …
    ``attrs`` are what the sender declared: duration, width, height, performer, title."""
    attrs = attrs or {}
    ids: Json = {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id}
    size = len(stored.data)
    if kind == "photo":
        width, height = image_size(stored.data) or (0, 0)
        return {"photo": [{**ids, "file_size": size, "width": width, "height": height}]}
    if kind == "voice":
        return {"voice": {**ids, "duration": _clamp(attrs.get("duration"), 86_400),
                          "mime_type": stored.mime_type, "file_size": size}}
    named: Json = {"file_name": stored.file_name} if stored.file_name else {}
    if kind == "audio":
        extra = {k: str(attrs[k]) for k in ("performer", "title") if attrs.get(k)}
        return {"audio": {**ids, "duration": _clamp(attrs.get("duration"), 86_400), **extra,
                          **named, "mime_type": stored.mime_type, "file_size": size}}
    if kind == "video":
        return {"video": {**ids, "width": _clamp(attrs.get("width"), 10_000),
                          "height": _clamp(attrs.get("height"), 10_000),
                          "duration": _clamp(attrs.get("duration"), 86_400), **named,
                          "mime_type": stored.mime_type, "file_size": size}}
    return {"document": {**named, "mime_type": stored.mime_type, **ids, "file_size": size}}


def _clamp(value: object, top: int) -> int:
    """Telegram clamps declared durations and sizes into range rather than refusing them."""
    try:
        number = int(str(value)) if value not in (None, "") else 0
    except ValueError:
        return 0
    return min(max(number, 0), top)


def image_size(data: bytes) -> tuple[int, int] | None:
    """Width and height of a PNG, GIF or JPEG, read from its header."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        width, height = struct.unpack("<HH", data[6:10])
        return int(width), int(height)
    if data[:2] != b"\xff\xd8":
        return None
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        size = struct.unpack(">H", data[i + 2 : i + 4])[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[i + 5 : i + 9])
            return int(width), int(height)
        i += 2 + int(size)
    return None
