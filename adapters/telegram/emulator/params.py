"""Bot API request parameters, read the way Telegram reads them.

Telegram accepts a query string, ``application/json``, form-urlencoded and multipart
bodies alike. In the form encodings every value is a string and objects arrive as JSON
text (python-telegram-bot sends exactly that), so each getter coerces by the type the
method expects rather than by how the value happened to travel.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from adapters.telegram.emulator.world import ApiError, Json, bad_request

__all__ = ["Params", "Upload", "read_params"]


@dataclass(frozen=True, slots=True)
class Upload:
    """A file part of a multipart request."""

    filename: str
    data: bytes
    content_type: str


class Params:
    def __init__(self, values: Mapping[str, Any], uploads: Mapping[str, Upload]) -> None:
        self._values = dict(values)
        self._uploads = dict(uploads)

    def has(self, name: str) -> bool:
        return self._values.get(name) not in (None, "")

    def logged(self) -> Json:
        """The parameters as recorded in the call log; uploads as their file names."""
        out = dict(self._values)
        out.update({name: f"<upload {up.filename}>" for name, up in self._uploads.items()})
        return out

    def text(self, name: str) -> str | None:
        value = self._values.get(name)
        if value is None:
            return None
        if isinstance(value, bool):
            return "true" if value else "false"
        return value if isinstance(value, str) else json.dumps(value)

    def integer(self, name: str) -> int | None:
        value = self._values.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, int):
            return value
        try:
            return int(str(value).strip())
        except ValueError:
            if name == "message_thread_id":  # the wording Telegram uses for this one
                raise bad_request("invalid message thread identifier specified") from None
            raise bad_request(f'field "{name}" must be a valid Number') from None

    def required_int(self, name: str, missing: str) -> int:
        value = self.integer(name)
        if value is None:
            raise bad_request(missing)
        return value

    def flag(self, name: str) -> bool:
        value = self._values.get(name)
        if isinstance(value, str):
            return value.strip().lower() in ("true", "1")
        return bool(value)

    def obj(self, name: str, what: str) -> Any:
        """A JSON-valued parameter; ``what`` names it in Telegram's parse error."""
        value = self._values.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                raise bad_request(f"can't parse {what} JSON object") from None
        return value

    def file(self, name: str) -> Upload | str | None:
        """An uploaded file, or the string (file_id or URL) that stands for one."""
        if name in self._uploads:
            return self._uploads[name]
        value = self.text(name)
        if value is not None and value.startswith("attach://"):
            attached = self._uploads.get(value[len("attach://") :])
            if attached is None:
                raise bad_request(f"wrong file identifier/HTTP URL specified for {name}")
            return attached
        return value or None

    def attached(self, media: str) -> Upload | str:
        """An InputMedia's ``media``: the part ``attach://<name>`` names, else a file_id."""
        if media.startswith("attach://"):
            found = self._uploads.get(media[len("attach://") :])
            if found is None:
                raise bad_request("can't parse InputMedia: media not found")
            return found
        return media

    def raw(self, name: str) -> Any:
        return self._values.get(name)


async def read_params(request: web.Request) -> Params:
    """Collect parameters from an aiohttp request's query string and body."""
    values: dict[str, Any] = dict(request.query)
    uploads: dict[str, Upload] = {}
    if request.method == "POST" and request.can_read_body:
        kind = request.content_type
        if kind == "application/json":
            try:
                body = await request.json()
            except ValueError:
                raise ApiError(400, "Bad Request: can't parse JSON encoded request") from None
            if not isinstance(body, dict):
                raise ApiError(400, "Bad Request: JSON object expected")
            values.update(body)
        elif kind in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, str):
                    values[key] = value
                elif isinstance(value, web.FileField):
                    uploads[key] = Upload(
                        filename=value.filename or key,
                        data=value.file.read(),
                        content_type=value.content_type or "application/octet-stream",
                    )
    return Params(values, uploads)
