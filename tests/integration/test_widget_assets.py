"""The widget's scripts as the real bridge serves them: compressed, versioned, cached."""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import brotli
import pytest
import pytest_asyncio

from bridge.app import Bridge
from bridge.demo import demo_bridge

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def bridge(tmp_path: Path) -> AsyncIterator[Bridge]:
    running, emulator, _ = await demo_bridge(
        "127.0.0.1", 0, tmp_path, rate_limits=False, desk_port=0,
        overrides={"widget": {"size": "compact", "launcher_label": "Ask us"}})
    yield running
    await running.stop()
    await emulator.stop()


async def get(url: str, **headers: str) -> tuple[aiohttp.ClientResponse, bytes]:
    """One GET with exactly these headers, the body as it came over the wire."""
    async with aiohttp.ClientSession(auto_decompress=False) as session:
        async with session.get(url, headers={"Accept-Encoding": "", **headers}) as response:
            return response, await response.read()


def chat_path(loader: bytes) -> str:
    found = re.search(r"const CHAT = (.*);\n", loader.decode())
    assert found
    path: str = json.loads(found.group(1))["path"]
    return path


async def test_the_loader_comes_in_the_best_encoding_the_browser_takes(bridge: Bridge) -> None:
    """br when offered, gzip when only that is, plain otherwise: all the same script,
    carrying the library's branding."""
    _, plain = await get(bridge.url + "/widget.js")
    response, body = await get(bridge.url + "/widget.js", **{"Accept-Encoding": "gzip, br"})
    assert response.headers["Content-Encoding"] == "br"
    assert brotli.decompress(body) == plain
    assert len(body) <= 10_000
    response, body = await get(bridge.url + "/widget.js", **{"Accept-Encoding": "gzip"})
    assert response.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(body) == plain
    assert response.headers["Vary"] == "Accept-Encoding"
    assert b'"size":"compact"' in plain and b'"launcher_label":"Ask us"' in plain


async def test_an_unchanged_loader_is_a_bodiless_304(bridge: Bridge) -> None:
    """The loader's address never changes, so it is kept briefly and revalidated by ETag."""
    response, _ = await get(bridge.url + "/widget.js", **{"Accept-Encoding": "br"})
    assert response.headers["Cache-Control"] == "public, max-age=300"
    etag = response.headers["ETag"]
    again, body = await get(bridge.url + "/widget.js",
                            **{"Accept-Encoding": "br", "If-None-Match": etag})
    assert (again.status, body) == (304, b"")
    other, body = await get(bridge.url + "/widget.js", **{"If-None-Match": etag})
    assert other.status == 200 and body  # the plain file is another representation


async def test_the_chat_is_versioned_and_kept_for_a_year(bridge: Bridge) -> None:
    """The chat's name carries its hash; it is immutable, and an unknown version is a 404
    that says what to do."""
    _, loader = await get(bridge.url + "/widget.js")
    path = chat_path(loader)
    response, body = await get(bridge.url + path, **{"Accept-Encoding": "br"})
    assert response.status == 200
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert response.headers["Access-Control-Allow-Origin"] == "*"  # for the SRI check
    assert response.headers["Content-Type"].startswith("application/javascript")
    assert b"Pustaka Bridge chat widget" in brotli.decompress(body)
    missing, text = await get(bridge.url + "/widget/static/chat.0123456789abcdef.js")
    assert missing.status == 404 and b"reload the page" in text
