"""A real SIP2 server for the directory tests: pysip2's ACS on a free loopback port.

It runs in its own thread and event loop (an anyio blocking portal), so the bridge's
client talks to it over a real socket exactly as to a library system. Patrons:

- ``1001`` Siti Rahayu, active, card valid for a year
- ``1002`` Budi Santoso, card expired 30 days ago (sent as the ``PA`` extension field)
- ``1003`` Dewi Lestari, charge privileges denied and card reported lost
- ``1004`` Rina Wulandari, fees 25.00 over a limit of 10.00
- ``1005`` José Ñúñez, active; the server writes code page 850 (the spec's default)
- any other number: not a patron (``BL N``)

pysip2 encodes only SIP2 2.00's fields, so ``ExpiryServer`` adds the expiry extension
the way Evergreen and Envisionware send it (``PA`` + YYYYMMDD), checksum recomputed.
"""

from __future__ import annotations

import ssl
import subprocess
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import anyio
from anyio.abc import SocketAttribute
from anyio.from_thread import start_blocking_portal
from anyio.streams.tls import TLSListener
from pysip2 import (
    LOGIN,
    PATRON_INFORMATION,
    LoginRequest,
    LoginResponse,
    PatronInformationRequest,
    PatronInformationResponse,
    RequestContext,
    SIP2Server,
    calculate_checksum,
)

__all__ = ["INSTITUTION", "LOCATION", "PASSWORD", "USER", "Sip2Patron", "make_certificate",
           "running_sip2_server"]

INSTITUTION, USER, PASSWORD, LOCATION = "PUSTAKA", "bridge", "s3cret-sip", "MAIN"


@dataclass(frozen=True)
class Sip2Patron:
    name: str
    status: str = " " * 14  # the 14 patron status flags
    expires: date | None = None
    fee_amount: str | None = None
    fee_limit: str | None = None


def patrons(today: date) -> dict[str, Sip2Patron]:
    return {
        "1001": Sip2Patron("Siti Rahayu", expires=today + timedelta(days=365)),
        "1002": Sip2Patron("Budi Santoso", expires=today - timedelta(days=30)),
        "1003": Sip2Patron("Dewi Lestari", status="Y   Y" + " " * 9),
        "1004": Sip2Patron("Rina Wulandari", fee_amount="25.00", fee_limit="10.00"),
        "1005": Sip2Patron("José Ñúñez"),
    }


class ExpiryServer(SIP2Server):
    """pysip2's server, adding the ``PA`` expiry extension to Patron Information answers."""

    expiry: dict[str, date]

    async def _write_response(self, stream: Any, state: Any, decoded: Any,
                              response: Any) -> None:
        if not isinstance(response, PatronInformationResponse) or \
                response.patron_identifier not in self.expiry:
            await super()._write_response(stream, state, decoded, response)
            return
        sender = _Capture()
        await super()._write_response(sender, state, decoded, response)
        extension = f"PA{self.expiry[response.patron_identifier]:%Y%m%d}    000000|"
        frame = _with_field(sender.frame, extension.encode("ascii"))
        await stream.send(frame)


class _Capture:
    frame = b""

    async def send(self, frame: bytes) -> None:
        self.frame = frame


def _with_field(frame: bytes, field: bytes) -> bytes:
    """The frame with one more field before its AY/AZ trailer, checksum recomputed."""
    body = frame.rstrip(b"\r")
    if body[-6:-4] != b"AZ":
        return body + field + b"\r"
    trailer_at = body.rfind(b"AY") if body[-9:-7] == b"AY" else len(body) - 6
    prefix = body[:trailer_at] + field + body[trailer_at:-4]
    return prefix + calculate_checksum(prefix).encode("ascii") + b"\r"


def build_server(today: date, login_required: bool = False) -> ExpiryServer:
    app = ExpiryServer(institution_id=INSTITUTION, login_required=login_required)
    known = patrons(today)
    app.expiry = {n: p.expires for n, p in known.items() if p.expires}

    @app.route(LOGIN)
    def login(req: LoginRequest, ctx: RequestContext[Any, Any]) -> LoginResponse:
        ok = (req.login_user_id, req.login_password, req.location_code) == \
            (USER, PASSWORD, LOCATION)
        return LoginResponse(ok="1" if ok else "0")

    @app.route(PATRON_INFORMATION)
    def patron_information(req: PatronInformationRequest,
                           ctx: RequestContext[Any, Any]) -> PatronInformationResponse:
        patron = known.get(req.patron_identifier)
        return PatronInformationResponse(
            patron_status=patron.status if patron else " " * 14, language=req.language,
            transaction_date=ctx.now_18(), hold_items_count="0000",
            overdue_items_count="0000", charged_items_count="0000",
            fine_items_count="0000", recall_items_count="0000",
            unavailable_holds_count="0000", institution_id=req.institution_id,
            patron_identifier=req.patron_identifier,
            personal_name=patron.name if patron else "",
            valid_patron="Y" if patron else "N",
            fee_amount=patron.fee_amount if patron else None,
            fee_limit=patron.fee_limit if patron else None)

    return app


@asynccontextmanager
async def _serving(app: SIP2Server, tls: ssl.SSLContext | None) -> AsyncIterator[int]:
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    port = listener.extra(SocketAttribute.local_port)
    served: Any = TLSListener(listener, tls, standard_compatible=False) if tls else listener
    async with anyio.create_task_group() as group:
        group.start_soon(served.serve, app._handle_connection)
        try:
            yield port
        finally:
            group.cancel_scope.cancel()


@contextmanager
def running_sip2_server(today: date, *, login_required: bool = False,
                        tls: ssl.SSLContext | None = None) -> Iterator[int]:
    """Serve in a thread of its own until the block ends; yields the port."""
    app = build_server(today, login_required)
    with start_blocking_portal() as portal, \
            portal.wrap_async_context_manager(_serving(app, tls)) as port:
        yield port


def make_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 made by the openssl tool: (cert, key)."""
    cert, key = folder / "sip2.pem", folder / "sip2.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True)
    return cert, key
