"""Upload quotas and the free-disk floor (issue 11 item 7), over the real widget server,
router, SQLite store and blob store: a visitor and an address may upload so many bytes
a day, parallel uploads from fresh identities cannot pass that together, the count
survives a restart, and below the disk floor uploads are refused and /healthz says why."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import aiohttp
from playwright.async_api import FilePayload, async_playwright, expect

from adapters.blobs import BlobStore, DiskFloor
from adapters.widget.quota import QuotaPolicy, UploadQuota
from adapters.widget.server import WidgetServer, WidgetSettings
from bridge.demo import demo_bridge
from tests.browser import CHROMIUM, require_chromium
from tests.integration.test_widget_files import PNG, FileRig, form, upload
from tests.integration.test_widget_offline import Tab

SIZE = len(PNG)


def png(n: int) -> bytes:
    """A different PNG of the same size for each ``n`` (a new blob each time)."""
    return PNG[:-4] + n.to_bytes(4, "big")


class QuotaRig(FileRig):
    """FileRig with a daily quota and a disk floor."""

    def __init__(self, data_dir: Path, policy: QuotaPolicy,
                 floor: DiskFloor | None = None) -> None:
        super().__init__(data_dir)
        self.blobs = BlobStore(data_dir / "blobs", floor=floor)
        self.server = WidgetServer(
            self.router, self.hub, self.tokens,
            WidgetSettings(greeting={"en": "Hi"}, messages_per_minute=600),
            blobs=self.blobs, files=self.policy, queue=self.queue,
            quota=UploadQuota(self.store, self.clock, policy))


async def _started(rig: QuotaRig) -> QuotaRig:
    await rig.start()
    return rig


async def _visitor(http: aiohttp.ClientSession) -> str:
    """A fresh identity: a new tab's token."""
    ws = await http.ws_connect("/widget/ws")
    tab = Tab(ws)
    await tab.hello()
    await ws.close()
    assert tab.token
    return tab.token


async def test_a_visitors_daily_quota_is_kept_and_said(tmp_path: Path) -> None:
    """Past files.visitor_bytes_per_day a file is refused (413 quota, naming the file,
    when it is larger than what is left; 429 with Retry-After when nothing is left), and
    the next day the visitor may send again."""
    rig = await _started(QuotaRig(tmp_path, QuotaPolicy(per_visitor=2 * SIZE + 10,
                                                        per_ip=0)))
    try:
        async with aiohttp.ClientSession(rig.url) as http:
            token = await _visitor(http)
            for n in (1, 2):
                assert (await upload(http, token, form(f"u{n}", "", (
                    "p.png", png(n), "image/png"))))[0] == 200
            status, error = await upload(http, token, form("u3", "", ("big.png", png(3),
                                                                      "image/png")))
            assert (status, error["code"], error["file"]) == (413, "quota", "big.png")
            assert "a day" in error["message"]
            assert await rig.blobs.get(hashlib.sha256(png(3)).hexdigest()) is None
            rig.clock.at += 86400
            assert (await upload(http, token, form("u4", "", ("p.png", png(4),
                                                              "image/png"))))[0] == 200
    finally:
        await rig.stop()


async def test_fresh_identities_share_their_addresses_quota_even_in_parallel(
    tmp_path: Path
) -> None:
    """Four parallel uploads from four fresh identities on one address store at most
    files.ip_bytes_per_day between them; the rest are refused, and once the day's bytes
    are used up the next upload is a 429 with Retry-After."""
    rig = await _started(QuotaRig(tmp_path, QuotaPolicy(per_visitor=0,
                                                        per_ip=2 * SIZE + SIZE // 2)))
    try:
        async with aiohttp.ClientSession(rig.url) as http:
            tokens = [await _visitor(http) for _ in range(5)]
            answers = await asyncio.gather(*(upload(http, token, form(
                "u1", "", ("p.png", png(n), "image/png"))) for n, token in enumerate(tokens[:4])))
            statuses = sorted(status for status, _ in answers)
            assert statuses == [200, 200, 413, 413], answers
            assert all(e["code"] == "quota" for s, e in answers if s != 200)
            stored = [p for p in (tmp_path / "blobs").rglob("*") if p.is_file()]
            assert sum(p.stat().st_size for p in stored) <= 2 * SIZE + SIZE // 2
            await upload(http, tokens[4], form("fill", "", ("s.png", PNG[:SIZE // 2],
                                                            "image/png")))
            async with http.post("/widget/api/upload", data=form("u2", "", (
                    "p.png", png(9), "image/png")),
                    headers={"Authorization": f"Bearer {tokens[4]}"}) as response:
                error = await response.json()
                assert (response.status, error["code"]) == (429, "quota")
                assert int(response.headers["Retry-After"]) > 0
                assert "Your network" in error["message"]
    finally:
        await rig.stop()


async def test_the_quota_survives_a_restart(tmp_path: Path) -> None:
    """What a visitor sent today is still counted after the bridge restarts."""
    policy = QuotaPolicy(per_visitor=SIZE, per_ip=0)
    rig = await _started(QuotaRig(tmp_path, policy))
    try:
        async with aiohttp.ClientSession(rig.url) as http:
            token = await _visitor(http)
            assert (await upload(http, token, form("u1", "", ("p.png", PNG,
                                                              "image/png"))))[0] == 200
    finally:
        await rig.stop()
    rig = await _started(QuotaRig(tmp_path, policy))
    try:
        async with aiohttp.ClientSession(rig.url) as http:
            status, error = await upload(http, token, form("u2", "", ("q.png", png(2),
                                                                      "image/png")))
            assert (status, error["code"]) == (429, "quota")
    finally:
        await rig.stop()


async def test_below_the_disk_floor_uploads_are_refused(tmp_path: Path) -> None:
    """With less free disk than files.min_free_disk, an upload is refused (507
    disk_full) before anything is written."""
    rig = await _started(QuotaRig(tmp_path, QuotaPolicy(), floor=DiskFloor(
        min_percent=99.999)))
    try:
        async with aiohttp.ClientSession(rig.url) as http:
            token = await _visitor(http)
            status, error = await upload(http, token, form("u1", "", ("p.png", PNG,
                                                                      "image/png")))
            assert (status, error["code"]) == (507, "disk_full")
            assert "cannot take files" in error["message"]
            assert not [p for p in (tmp_path / "blobs").rglob("*") if p.is_file()]
    finally:
        await rig.stop()


async def test_healthz_and_the_bridge_honour_the_configured_floor_and_quota(
    tmp_path: Path
) -> None:
    """Through the bridge as `pustaka demo` wires it: files.min_free_disk above the free
    space makes /healthz 'degraded' with the reason and refuses uploads; lowered again,
    files.visitor_bytes_per_day is what refuses them."""
    bridge, emulator, _ = await demo_bridge(
        "127.0.0.1", 0, tmp_path / "full", rate_limits=False, desk_port=0,
        overrides={"files": {"min_free_disk": "99.99%"}})
    try:
        async with aiohttp.ClientSession(bridge.url) as http:
            async with http.get("/healthz") as response:
                health = await response.json()
            assert health["status"] == "degraded"
            assert "files.min_free_disk" in health["reasons"][0]
            token = await _visitor(http)
            assert (await upload(http, token, form("u1", "", ("p.png", PNG, "image/png"))))[
                0] == 507
    finally:
        await bridge.stop()
        await emulator.stop()
    bridge, emulator, _ = await demo_bridge(
        "127.0.0.1", 0, tmp_path / "ok", rate_limits=False, desk_port=0,
        overrides={"files": {"min_free_disk": "1 MB", "visitor_bytes_per_day": SIZE}})
    try:
        async with aiohttp.ClientSession(bridge.url) as http:
            async with http.get("/healthz") as response:
                assert (await response.json())["status"] == "ok"
            token = await _visitor(http)
            assert (await upload(http, token, form("u1", "", ("p.png", PNG, "image/png"))))[
                0] == 200
            status, error = await upload(http, token, form("u2", "", ("q.png", png(2),
                                                                      "image/png")))
            assert (status, error["code"]) == (429, "quota")
    finally:
        await bridge.stop()
        await emulator.stop()


async def test_the_widget_shows_the_quota_refusal(tmp_path: Path) -> None:
    """In a real browser, a file past the day's quota gives the server's message, with
    its figures, in the error line, and the file goes back to the tray."""
    require_chromium()
    rig = await _started(QuotaRig(tmp_path, QuotaPolicy(per_visitor=SIZE // 2, per_ip=0)))
    try:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=str(CHROMIUM),
                                                       headless=True, args=["--no-sandbox"])
            try:
                page = await browser.new_page()
                await page.goto(rig.url + "/widget/config")
                await page.set_content('<script src="/widget.js"></script>')
                await page.wait_for_function(
                    "() => window.PustakaChat && window.PustakaChat.state().ready")
                await page.locator('[part="launcher"]').click()
                await page.wait_for_function("() => window.PustakaChat.state().connected")
                await page.locator('input[part="file-input"]').set_input_files([
                    FilePayload(name="card.png", mimeType="image/png", buffer=PNG)])
                await page.locator('textarea[part="input"]').press("Enter")
                await expect(page.locator('[part="error"]')).to_contain_text("still send today")
                await expect(page.locator('[part="chip"]')).to_have_count(0)
            finally:
                await browser.close()
    finally:
        await rig.stop()


async def test_the_widget_shows_a_used_up_address_quota(tmp_path: Path) -> None:
    """In a real browser, a fresh visitor on an address whose day's bytes are used up
    gets the 429 refusal's words (not a network failure), though the upload was refused
    before its bytes were read."""
    require_chromium()
    rig = await _started(QuotaRig(tmp_path, QuotaPolicy(per_visitor=0, per_ip=SIZE)))
    try:
        async with aiohttp.ClientSession(rig.url) as http:
            token = await _visitor(http)
            assert (await upload(http, token, form("u1", "", ("p.png", PNG,
                                                              "image/png"))))[0] == 200
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=str(CHROMIUM),
                                                       headless=True, args=["--no-sandbox"])
            try:
                page = await browser.new_page()
                await page.goto(rig.url + "/widget/config")
                await page.set_content('<script src="/widget.js"></script>')
                await page.wait_for_function(
                    "() => window.PustakaChat && window.PustakaChat.state().ready")
                await page.locator('[part="launcher"]').click()
                await page.wait_for_function("() => window.PustakaChat.state().connected")
                await page.locator('input[part="file-input"]').set_input_files([
                    FilePayload(name="big.png", mimeType="image/png",
                                buffer=PNG + bytes(60 * 1024 - SIZE))])
                await page.locator('textarea[part="input"]').press("Enter")
                await expect(page.locator('[part="error"]')).to_contain_text("Your network")
                await expect(page.locator('[part="error"]')).to_contain_text("tomorrow")
            finally:
                await browser.close()
    finally:
        await rig.stop()
