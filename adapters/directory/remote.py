"""The member directory as an HTTP JSON endpoint of the library system.

``GET <url>?number=12345`` with ``Authorization: Bearer <token>`` (when a token is set)
answers 200 with ``{"name": ..., "status": ..., "expires": ...}`` for a member and 404
for an unknown number. Anything else (another status, a body that is not a JSON object,
no answer within the timeout) is DirectoryUnavailable, never a "not a member".
"""

from __future__ import annotations

import json

import aiohttp

from adapters.directory.member import (
    DirectoryUnavailable,
    Member,
    clean_field,
    normalize_number,
)

__all__ = ["HttpDirectory"]

_MAX_BODY = 64 * 1024  # one member's record; more is not an answer to our question


class HttpDirectory:
    """One pooled session, opened on first use and closed by ``close()``."""

    def __init__(
        self,
        url: str,
        token: str = "",
        timeout: float = 5.0,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"directory.url must start with http:// or https://, got {url!r}")
        self.url = url
        self._token = token
        self.timeout = timeout
        self._session = session
        self._own_session = session is None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                headers={"Accept": "application/json", "User-Agent": "pustaka-bridge"},
            )
            self._own_session = True
        return self._session

    async def lookup(self, number: str) -> Member | None:
        number = normalize_number(number)
        headers = {"Authorization": f"Bearer {self._token}"} if self._token else {}
        try:
            async with self._client().get(
                self.url, params={"number": number}, headers=headers,
                timeout=aiohttp.ClientTimeout(total=self.timeout),
            ) as response:
                if response.status == 404:
                    return None
                if response.status != 200:
                    raise DirectoryUnavailable(
                        f"member directory answered HTTP {response.status}"
                    )
                body = await _read_limited(response)
        except TimeoutError:  # asyncio's timeout is the builtin one since 3.11
            raise DirectoryUnavailable(
                f"member directory did not answer within {self.timeout:g} s"
            ) from None
        except aiohttp.ClientError as exc:
            raise DirectoryUnavailable(f"member directory unreachable: {exc}") from None
        return _member(number, body)

    async def close(self) -> None:
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None


async def _read_limited(response: aiohttp.ClientResponse) -> bytes:
    """The whole body, refused as soon as it passes _MAX_BODY (read(n) may stop short)."""
    if (response.content_length or 0) > _MAX_BODY:
        raise DirectoryUnavailable("member directory answer is too large")
    body = bytearray()
    async for chunk in response.content.iter_chunked(16 * 1024):
        body += chunk
        if len(body) > _MAX_BODY:
            raise DirectoryUnavailable("member directory answer is too large")
    return bytes(body)


def _member(number: str, body: bytes) -> Member:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise DirectoryUnavailable("member directory answer is not JSON") from None
    if not isinstance(data, dict):
        raise DirectoryUnavailable("member directory answer is not a JSON object")
    return Member(number, clean_field(data.get("name")), clean_field(data.get("status")),
                  clean_field(data.get("expires")))

