"""The SIP2 member directory against a real SIP2 server (pysip2's) on a loopback port."""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import date, timedelta
from pathlib import Path

import pytest
from pysip2 import PatronInformationResponse, encode_message

from adapters.directory import DirectoryUnavailable, Member, open_directory
from adapters.directory.sip2 import Sip2Directory, Sip2Settings
from bridge.app import sip2_settings
from bridge.config import ConfigError, load_config
from tests.integration.sip2_server import (
    INSTITUTION,
    LOCATION,
    PASSWORD,
    USER,
    make_certificate,
    running_sip2_server,
)

TODAY = date.today()


def _directory(port: int, **settings: object) -> Sip2Directory:
    values: dict[str, object] = {"host": "127.0.0.1", "port": port,
                                 "institution": INSTITUTION, "timeout": 3.0}
    values.update(settings)
    return Sip2Directory(Sip2Settings(**values))  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def sip2_port() -> Iterator[int]:
    with running_sip2_server(TODAY) as port:
        yield port


@pytest.fixture(scope="module")
def sip2_login_port() -> Iterator[int]:
    with running_sip2_server(TODAY, login_required=True) as port:
        yield port


class TestPatronStatus:
    async def test_active_member(self, sip2_port: int) -> None:
        """A valid patron without blocks is active, with the expiry the server sent."""
        expires = (TODAY + timedelta(days=365)).isoformat()
        assert await _directory(sip2_port).lookup("1001") == Member(
            "1001", "Siti Rahayu", "active", expires)

    async def test_expired_member(self, sip2_port: int) -> None:
        """A card whose expiry date has passed is expired on that date, not active."""
        expires = (TODAY - timedelta(days=30)).isoformat()
        assert await _directory(sip2_port).lookup("1002") == Member(
            "1002", "Budi Santoso", "expired", expires)

    async def test_suspended_member_says_why(self, sip2_port: int) -> None:
        """Patron status flags make the member suspended, naming each flag."""
        member = await _directory(sip2_port).lookup("1003")
        assert member == Member("1003", "Dewi Lestari",
                                "suspended: charge privileges denied, card reported lost")

    async def test_fees_over_limit_suspend(self, sip2_port: int) -> None:
        """Fees above the fee limit (BV > CC) suspend even with no status flag set."""
        member = await _directory(sip2_port).lookup("1004")
        assert member is not None and member.status == "suspended: fees over the limit"

    async def test_unknown_number_is_not_a_member(self, sip2_port: int) -> None:
        """BL N (not a valid patron) is 'no such member', not an error."""
        assert await _directory(sip2_port).lookup("99999") is None

    async def test_code_page_850_name(self, sip2_port: int) -> None:
        """A server writing the spec's code page 850 still gives the name with accents."""
        member = await _directory(sip2_port).lookup("1005")
        assert member is not None and member.name == "José Ñúñez"

    async def test_lookups_at_once(self, sip2_port: int) -> None:
        """Twelve lookups at once each get their own patron's answer."""
        directory = _directory(sip2_port)
        numbers = ["1001", "1002", "1003", "99999"] * 3
        found = await asyncio.gather(*(directory.lookup(n) for n in numbers))
        assert [m.number if m else None for m in found] == [
            n if n != "99999" else None for n in numbers]


class TestLogin:
    async def test_login_then_patron_information(self, sip2_login_port: int) -> None:
        """With user, password and location the server's Login 93 accepts us, then 63 works."""
        directory = _directory(sip2_login_port, user=USER, password=PASSWORD,
                               location=LOCATION)
        member = await directory.lookup("1001")
        assert member is not None and member.status == "active"

    async def test_wrong_password_is_unavailable(self, sip2_login_port: int) -> None:
        """A refused login (94 ok=0) is 'directory unavailable' naming the login."""
        directory = _directory(sip2_login_port, user=USER, password="wrong",
                               location=LOCATION)
        with pytest.raises(DirectoryUnavailable, match="refused the login"):
            await directory.lookup("1001")

    async def test_no_login_where_required_is_unavailable(self, sip2_login_port: int) -> None:
        """A server that hangs up because we did not log in is unavailable, not 'no member'."""
        with pytest.raises(DirectoryUnavailable, match="closed the connection"):
            await _directory(sip2_login_port).lookup("1001")


class TestTls:
    async def test_lookup_over_tls(self, tmp_path: Path) -> None:
        """directory.sip2_tls talks TLS, checking the server's certificate."""
        cert, key = make_certificate(tmp_path)
        served = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        served.load_cert_chain(cert, key)
        trusted = ssl.create_default_context(cafile=str(cert))
        with running_sip2_server(TODAY, tls=served) as port:
            directory = Sip2Directory(Sip2Settings("127.0.0.1", port, tls=True,
                                                   institution=INSTITUTION), trusted)
            member = await directory.lookup("1002")
            assert member is not None and member.status == "expired"
            untrusting = Sip2Directory(Sip2Settings("127.0.0.1", port, tls=True))
            with pytest.raises(DirectoryUnavailable, match="unreachable"):
                await untrusting.lookup("1002")


@pytest.fixture
async def silent_port() -> AsyncIterator[int]:
    """A server that accepts connections and never answers."""
    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # until the client gives up
        writer.close()
    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    server.close()


@asynccontextmanager
async def answering(frame: bytes) -> AsyncIterator[int]:
    """A server that answers the first request with ``frame``, whatever was asked."""
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r")
        writer.write(frame)
        await writer.drain()
        writer.close()
    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()


def _patron_information(patron: str, institution: str) -> bytes:
    return encode_message(PatronInformationResponse(
        patron_status=" " * 14, language="000", transaction_date="20260101    120000",
        hold_items_count="0000", overdue_items_count="0000", charged_items_count="0000",
        fine_items_count="0000", recall_items_count="0000", unavailable_holds_count="0000",
        institution_id=institution, patron_identifier=patron, personal_name="Someone Else",
        valid_patron="Y"), sequence_number=1, checksum=True)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class TestUnavailable:
    async def test_server_down(self) -> None:
        """Nothing listening is 'directory unavailable', never 'no member'."""
        with pytest.raises(DirectoryUnavailable, match="unreachable"):
            await _directory(_free_port()).lookup("1001")

    async def test_server_hangs(self, silent_port: int) -> None:
        """A server that never answers is unavailable after the timeout, not later."""
        started = time.monotonic()
        with pytest.raises(DirectoryUnavailable, match=r"did not answer within 0\.5 s"):
            await _directory(silent_port, timeout=0.5).lookup("1001")
        assert time.monotonic() - started < 2.5

    @pytest.mark.parametrize("frame, why", [
        (b"64 this is not a patron information response\r", "not understood"),
        (_patron_information("1001", INSTITUTION)[:-6] + b"FFFF\r", "not understood"),
        (b"96AZFEF6\r", "instead of PatronInformationResponse"),
        (_patron_information("2002", INSTITUTION), "about patron '2002'"),
        (_patron_information("1001", "OTHER"), "for institution 'OTHER'"),
    ], ids=["garbled", "bad-checksum", "resend", "other-patron", "other-institution"])
    async def test_unclear_answer(self, frame: bytes, why: str) -> None:
        """An answer that is not a clear 64 about our patron is unavailable, never a status."""
        async with answering(frame) as port:
            with pytest.raises(DirectoryUnavailable, match=why):
                await _directory(port).lookup("1001")

    async def test_answer_too_long(self) -> None:
        """A server streaming an endless line is cut off, not read into memory."""
        async with answering(b"64" + b"x" * 200_000) as port:
            with pytest.raises(DirectoryUnavailable, match="too long"):
                await _directory(port).lookup("1001")


class TestOpenDirectory:
    async def test_factory_builds_sip2(self, sip2_port: int) -> None:
        """open_directory("sip2", sip2=...) gives a working SIP2 directory."""
        directory = open_directory("sip2", sip2=Sip2Settings(
            "127.0.0.1", sip2_port, institution=INSTITUTION))
        assert directory is not None
        assert (await directory.lookup("1001")) is not None
        await directory.close()

    def test_factory_needs_a_host(self) -> None:
        """kind sip2 without directory.sip2_host is refused at start, naming the key."""
        with pytest.raises(ValueError, match=r"directory\.sip2_host"):
            open_directory("sip2")


class TestConfig:
    async def test_config_to_lookup(self, sip2_login_port: int, tmp_path: Path) -> None:
        """directory.sip2_* from the file and PUSTAKA_SIP2_PASSWORD reach a working lookup."""
        path = tmp_path / "pustaka.toml"
        path.write_text(f'[directory]\nkind = "sip2"\nsip2_host = "127.0.0.1"\n'
                        f'sip2_port = {sip2_login_port}\nsip2_user = "{USER}"\n'
                        f'sip2_location = "{LOCATION}"\nsip2_institution = "{INSTITUTION}"\n')
        config = load_config(path, env={"PUSTAKA_SIP2_PASSWORD": PASSWORD})
        assert PASSWORD not in repr(config)
        directory = open_directory(config.directory.kind, sip2=sip2_settings(config))
        assert directory is not None
        member = await directory.lookup("1002")
        assert member is not None and member.status == "expired"

    @pytest.mark.parametrize("values, error", [
        ({"kind": "sip2"}, "directory.sip2_host is not set"),
        ({"kind": "sip2", "sip2_host": "x", "sip2_port": "70000"}, "must be a TCP port"),
        ({"kind": "sip2", "sip2_host": "x", "sip2_port": "0"}, "more than 0"),
        ({"kind": "sip2", "sip2_host": "x", "sip2_user": "a|b"}, "sip2_user must not contain"),
    ])
    def test_bad_settings_name_the_key(self, values: dict[str, str], error: str) -> None:
        """A SIP2 setting that cannot work is refused at load, naming the key."""
        with pytest.raises(ConfigError, match=error):
            load_config(env={}, directory=values)

    def test_password_only_from_environment(self, tmp_path: Path) -> None:
        """sip2_password in the file is refused: it is a secret."""
        path = tmp_path / "pustaka.toml"
        path.write_text('[directory]\nsip2_password = "x"\n')
        with pytest.raises(ConfigError):
            load_config(path, env={})
