"""The report pages over HTTP, signed in to the running bridge's dashboard (aiohttp's
client, the real SQLite store): the overview's figures and charts, the reference table
and its CSV (in the audit log), the librarians' table, and a bad range answered with a
clear error."""

from __future__ import annotations

import csv
import io

import pytest

from routing.model import Librarian
from tests.integration.admin_client import AdminClient, StaffBridge
from tests.integration.test_report_figures import hand_set

pytest_plugins = ["tests.integration.admin_client"]  # admin_bridge, admin_client
MARCH = {"from": "2026-03-01", "to": "2026-03-10"}


async def seeded(bridge: StaffBridge) -> None:
    await hand_set(bridge.store)
    await bridge.store.save_librarian(Librarian("1001", "Ayu <Lestari>"))


async def test_overview_figures_and_charts(admin_bridge: StaffBridge,
                                           admin_client: AdminClient) -> None:
    """The hand-counted set's figures, and the heat map as inline SVG without script."""
    await seeded(admin_bridge)
    status, page = await admin_client.get("/admin/", **MARCH)
    assert status == 200
    assert ('id="fig-conversations"><div class="muted">Conversations</div>'
            '<div class="figure">6</div>') in page
    assert '<div class="figure">2 min 0 s</div>' in page  # median first response, 120 s
    assert 'data-day="0" data-hour="9" data-n="2"' in page
    assert "<script" not in page


async def test_reference_table_and_csv(admin_bridge: StaffBridge,
                                       admin_client: AdminClient) -> None:
    """The reference table counts March's marks; the CSV has the same rows, and its
    download is in the audit log."""
    await seeded(admin_bridge)
    _, page = await admin_client.get("/admin/reference", **MARCH)
    assert '<th scope="row">2026-03</th>' in page
    status, headers, body = await admin_client.get_bytes("/admin/reference.csv", **MARCH)
    assert status == 200 and headers["Content-Type"].startswith("text/csv")
    assert "attachment" in headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(body.decode())))
    assert rows[1] == ["2026-03", "0", "1", "1", "0", "0", "0", "0", "1", "0", "1", "0", "0"]
    assert rows[-1][0] == "total"
    _, audit = await admin_client.get("/admin/audit")
    assert "reference statistics 2026-03-01..2026-03-10 (CSV)" in audit


async def test_librarians_named_and_escaped(admin_bridge: StaffBridge,
                                            admin_client: AdminClient) -> None:
    """Librarians are named from the librarians table, escaped."""
    await seeded(admin_bridge)
    _, page = await admin_client.get("/admin/librarians", **MARCH)
    assert "Ayu &lt;Lestari&gt;" in page and "<Lestari>" not in page
    assert 'data-librarian="1001"' in page


@pytest.mark.parametrize("path", ["/admin/", "/admin/reference", "/admin/librarians"])
async def test_bad_range_is_a_clear_400(admin_client: AdminClient, path: str) -> None:
    """A range that ends before it starts is refused, saying so, on every report page."""
    status, page = await admin_client.get(path, **{"from": "2026-03-09", "to": "2026-03-01"})
    assert status == 400
    assert "the range ends before it starts" in page
