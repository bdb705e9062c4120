"""The report pages over HTTP (aiohttp's client, the real SQLite store): the overview's
figures and charts, the reference table and its CSV, the librarians' table, and a bad
range answered with a clear error."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bridge.admin.context import AdminContext
from bridge.config import load_config
from bridge.store.sqlite import SqliteStore
from routing.model import Librarian
from tests.integration.report_app import Clock, report_app
from tests.integration.test_report_figures import NOW, TZ, hand_set


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[TestClient]:
    store = SqliteStore(tmp_path / "bridge.db", synchronous="NORMAL")
    await store.open()
    await hand_set(store)
    await store.save_librarian(Librarian("1001", "Ayu <Lestari>"))
    config = load_config(None, env={}, library={"timezone": TZ})
    ctx = AdminContext(config, store, None, None, Clock(NOW), None, None)
    async with TestClient(TestServer(report_app(ctx))) as c:
        yield c
    await store.close()


async def test_overview_figures_and_charts(client: TestClient) -> None:
    """The month's figures are the hand-counted ones, and the heat map is inline SVG."""
    response = await client.get("/admin/?range=month")
    page = await response.text()
    assert response.status == 200
    assert 'id="fig-conversations"><div class="muted">Conversations</div><div class="figure">6</div>' in page
    assert '<div class="figure">2 min 0 s</div>' in page  # median first response, 120 s
    assert 'data-day="0" data-hour="9" data-n="2"' in page
    assert "<script" not in page


async def test_reference_table_and_csv(client: TestClient) -> None:
    """The reference table counts March's marks; the CSV has the same rows."""
    page = await (await client.get("/admin/reference?from=2026-03-01&to=2026-03-10")).text()
    assert '<th scope="row">2026-03</th>' in page
    response = await client.get("/admin/reference.csv?from=2026-03-01&to=2026-03-10")
    assert response.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(await response.text())))
    assert rows[1] == ["2026-03", "0", "1", "1", "0", "0", "0", "0", "1", "0", "1", "0", "0"]
    assert rows[-1][0] == "total"


async def test_librarians_named_and_escaped(client: TestClient) -> None:
    """Librarians are named from the librarians table, escaped."""
    page = await (await client.get("/admin/librarians?range=month")).text()
    assert "Ayu &lt;Lestari&gt;" in page and "<Lestari>" not in page
    assert 'data-librarian="1001"' in page


@pytest.mark.parametrize("path", ["/admin/", "/admin/reference", "/admin/librarians"])
async def test_bad_range_is_a_clear_400(client: TestClient, path: str) -> None:
    """A range that ends before it starts is refused, saying so, on every report page."""
    response = await client.get(f"{path}?from=2026-03-09&to=2026-03-01")
    assert response.status == 400
    assert "the range ends before it starts" in await response.text()
