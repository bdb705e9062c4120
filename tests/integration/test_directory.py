"""The member directory for /verify: a real CSV file on disk and a real aiohttp server."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web

from adapters.directory import (
    CsvDirectory,
    DirectoryUnavailable,
    HttpDirectory,
    InvalidMemberNumber,
    Member,
    open_directory,
)

MEMBERS = Path(__file__).parent.parent / "data" / "members.csv"


class TestCsvDirectory:
    async def test_excel_export_with_bom_and_semicolons(self) -> None:
        """Excel's BOM, semicolons, CRLF, quotes and Indonesian headers are read right."""
        directory = CsvDirectory(MEMBERS)
        assert await directory.lookup("12345") == Member(
            "12345", "Siti Nurhaliza", "active", "2026-06-30")
        assert await directory.lookup("67890") == Member(
            "67890", 'Dewi "Dee" Lestari', "active", "2027-01-15")
        assert (await directory.count()) == 5  # the blank and the "12 34" rows are skipped

    async def test_letters_match_any_case_and_zeros_are_kept(self) -> None:
        """A0042 is found as a0042; 000123 is not the same member as 123."""
        directory = CsvDirectory(MEMBERS)
        found = await directory.lookup(" a0042 ")
        assert found is not None and found.number == "A0042"
        assert (await directory.lookup("000123")) is not None
        assert await directory.lookup("123") is None

    async def test_plain_comma_file_without_optional_columns(self, tmp_path: Path) -> None:
        """A UTF-8 comma file with only number and name gives empty status and expiry."""
        path = tmp_path / "members.csv"
        path.write_text("number,name\n777,Rina Wulandari\n", encoding="utf-8")
        assert await CsvDirectory(path).lookup("777") == Member("777", "Rina Wulandari", "", "")

    async def test_sep_line_and_windows_1252(self, tmp_path: Path) -> None:
        """Excel's "sep=;" first line and Windows-1252 text (no UTF-8) are understood."""
        path = tmp_path / "members.csv"
        path.write_bytes("sep=;\r\nnumber;name;status;expires\r\n9;José Müller;active;2026\r\n"
                         .encode("cp1252"))
        assert await CsvDirectory(path).lookup("9") == Member("9", "José Müller", "active",
                                                             "2026")

    async def test_reloaded_when_the_file_changes(self, tmp_path: Path) -> None:
        """An edited file and a file replaced by rename are both read again on lookup."""
        path = tmp_path / "members.csv"
        path.write_text("number,name,status\n1,Ani,active\n")
        directory = CsvDirectory(path)
        assert (await directory.lookup("1")) == Member("1", "Ani", "active")
        path.write_text("number,name,status\n1,Ani,blocked\n")  # same size: time must tell
        stat = path.stat()
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
        assert (await directory.lookup("1")) == Member("1", "Ani", "blocked")
        fresh = tmp_path / "new.csv"
        fresh.write_text("number,name,status\n2,Budi,active\n")
        fresh.replace(path)
        assert await directory.lookup("1") is None
        assert (await directory.lookup("2")) == Member("2", "Budi", "active")

    async def test_broken_replacement_keeps_last_good_list(self, tmp_path: Path) -> None:
        """A half-written or wrong file after a good one keeps answering from the good one."""
        path = tmp_path / "members.csv"
        path.write_text("number,name\n1,Ani\n")
        directory = CsvDirectory(path)
        assert await directory.lookup("1") is not None
        path.write_text("nomor_salah,nama\n1,Ani\n2,Budi\n")
        assert (await directory.lookup("1")) == Member("1", "Ani")
        path.unlink()
        assert (await directory.lookup("1")) == Member("1", "Ani")

    async def test_missing_file_or_column_is_unavailable(self, tmp_path: Path) -> None:
        """No file, or no number column, is 'directory unavailable', never 'not a member'."""
        with pytest.raises(DirectoryUnavailable, match="cannot be read"):
            await CsvDirectory(tmp_path / "absent.csv").lookup("1")
        path = tmp_path / "members.csv"
        path.write_text("id_card,full name\n1,Ani\n")
        with pytest.raises(DirectoryUnavailable, match="no 'number' column"):
            await CsvDirectory(path).lookup("1")

    @pytest.mark.parametrize("number", ["", "   ", "12-34", "1 2", "١٢٣", "x" * 33,
                                        "../etc/passwd", "1;DROP"])
    async def test_invalid_numbers_refused_before_lookup(self, number: str,
                                                         tmp_path: Path) -> None:
        """A malformed member number is refused by name before the file is even looked at."""
        with pytest.raises(InvalidMemberNumber):
            await CsvDirectory(tmp_path / "absent.csv").lookup(number)


@dataclass
class Library:
    """A member lookup endpoint as a library system would run it; records what it saw."""

    url: str = ""
    seen: list[dict[str, str]] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.seen.append({"number": request.query.get("number", ""),
                          "key": request.query.get("key", ""),
                          "auth": request.headers.get("Authorization", "")})
        number = request.query.get("number", "")
        if number == "12345":
            return web.json_response({"name": "Siti <b>N</b>", "status": "active",
                                      "expires": "2026-06-30", "extra": [1, 2]})
        if number == "LONG":
            return web.json_response({"name": "x" * 5000, "status": None, "expires": 20261231})
        if number == "BROKEN":
            return web.Response(text="<html>oops</html>", content_type="text/html")
        if number == "LIST":
            return web.json_response([1, 2])
        if number == "HUGE":
            return web.Response(body=b"{" + b" " * 200_000 + b"}", content_type="text/json")
        if number == "STREAM":  # no Content-Length: the size is only known while reading
            response = web.StreamResponse()
            await response.prepare(request)
            for _ in range(20):
                await response.write(b" " * 8192)
            await response.write_eof()
            return response
        if number == "BIGOK":  # 40 KiB of valid JSON, written in pieces with pauses
            response = web.StreamResponse(headers={"Content-Type": "application/json"})
            await response.prepare(request)
            await response.write(b'{"name": "Ani", "status": "active", "note": "')
            for _ in range(4):
                await asyncio.sleep(0.01)  # lets the client see a partial body
                await response.write(b"z" * 10_000)
            await response.write(b'"}')
            await response.write_eof()
            return response
        if number == "FAIL":
            return web.Response(status=500)
        if number == "SLOW":
            await self.release.wait()
            return web.json_response({"name": "late"})
        return web.json_response({"error": "not found"}, status=404)


@pytest.fixture
async def library() -> AsyncIterator[Library]:
    lib = Library()
    app = web.Application()
    app.router.add_get("/members", lib.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    lib.url = f"http://127.0.0.1:{port}/members"
    try:
        yield lib
    finally:
        lib.release.set()
        await runner.cleanup()


@pytest.fixture
async def directory(library: Library) -> AsyncIterator[HttpDirectory]:
    remote = HttpDirectory(library.url, token="s3cret", timeout=0.5)
    try:
        yield remote
    finally:
        await remote.close()


class TestHttpDirectory:
    async def test_member_found_with_bearer_token(self, directory: HttpDirectory,
                                                  library: Library) -> None:
        """A 200 JSON answer becomes a Member; the token goes as a bearer header."""
        assert await directory.lookup("12345") == Member(
            "12345", "Siti <b>N</b>", "active", "2026-06-30")
        assert library.seen == [{"number": "12345", "key": "", "auth": "Bearer s3cret"}]

    async def test_large_valid_answer_is_read_whole(self, directory: HttpDirectory) -> None:
        """A 40 KiB answer arriving in several chunks is read whole, not cut at the first."""
        assert await directory.lookup("BIGOK") == Member("BIGOK", "Ani", "active", "")

    async def test_unknown_number_is_none(self, directory: HttpDirectory) -> None:
        """A 404 means the directory does not know the number."""
        assert await directory.lookup("99999") is None

    async def test_no_token_no_header_and_query_kept(self, library: Library) -> None:
        """Without a token no Authorization is sent; a query already in the URL is kept."""
        remote = HttpDirectory(library.url + "?key=abc")
        try:
            assert await remote.lookup("99999") is None
        finally:
            await remote.close()
        assert library.seen == [{"number": "99999", "key": "abc", "auth": ""}]

    async def test_fields_are_card_text(self, directory: HttpDirectory) -> None:
        """Long values are cut, numbers become text and null becomes empty."""
        member = await directory.lookup("LONG")
        assert member is not None
        assert len(member.name) == 200 and member.name.endswith("\u2026")
        assert (member.status, member.expires) == ("", "20261231")

    @pytest.mark.parametrize(("number", "reason"), [
        ("FAIL", "HTTP 500"), ("BROKEN", "not JSON"), ("LIST", "not a JSON object"),
        ("HUGE", "too large"), ("STREAM", "too large"),
        ("SLOW", "did not answer within 0.5 s"),
    ])
    async def test_bad_answers_are_unavailable(self, directory: HttpDirectory, number: str,
                                               reason: str) -> None:
        """Errors, junk, oversize and silence are 'unavailable', never 'not a member'."""
        with pytest.raises(DirectoryUnavailable, match=reason):
            await directory.lookup(number)

    async def test_server_down_is_unavailable(self) -> None:
        """A directory that refuses connections is reported as unreachable."""
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        remote = HttpDirectory(f"http://127.0.0.1:{port}/members", timeout=2.0)
        try:
            with pytest.raises(DirectoryUnavailable, match="unreachable"):
                await remote.lookup("12345")
        finally:
            await remote.close()

    async def test_invalid_number_never_reaches_the_server(self, directory: HttpDirectory,
                                                           library: Library) -> None:
        """A malformed number is refused locally; the library system sees no request."""
        with pytest.raises(InvalidMemberNumber, match="letters and digits"):
            await directory.lookup("123&admin=1")
        assert library.seen == []


class TestOpenDirectory:
    def test_kinds(self, tmp_path: Path) -> None:
        """The config kind picks the directory; a missing path, url or bad kind is named."""
        assert open_directory("none") is None
        assert isinstance(open_directory("csv", path=str(tmp_path / "m.csv")), CsvDirectory)
        assert isinstance(open_directory("http", url="https://opac.example/api"), HttpDirectory)
        with pytest.raises(ValueError, match=r"directory\.path"):
            open_directory("csv")
        with pytest.raises(ValueError, match=r"directory\.url"):
            open_directory("http")
        with pytest.raises(ValueError, match=r"directory\.kind"):
            open_directory("ldap")
        with pytest.raises(ValueError, match=r"http:// or https://"):
            HttpDirectory("ftp://opac.example")
