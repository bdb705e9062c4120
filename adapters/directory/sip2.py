"""The member directory as the library system's SIP2 server (3M SIP2 2.00).

One ``/verify`` is one short SIP2 session: connect (TCP or TLS), Login 93/94 when a user
is configured, Patron Information 63/64, close. We connect per request rather than keep
a connection: ``/verify`` is rare (a few a day), ILS SIP servers drop idle sessions on
their own timers (Koha, Evergreen), and a fresh session can never answer with a reply
meant for an earlier, timed-out request. The frames are built and read by ``pysip2``'s
typed codec; only the expiry date (not in SIP2 2.00's 64, sent by most systems as an
extension field) is read from the raw frame here.

Anything but a clear answer (refused, hung, closed, garbled, a 96 or a reply about
another patron) is DirectoryUnavailable: the card never shows a guessed status.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import TypeVar

from pysip2 import (
    LoginRequest,
    LoginResponse,
    PatronInformationRequest,
    PatronInformationResponse,
    SIP2Error,
    SIPMessage,
    decode_message,
    encode_message,
    verify_checksum,
)

from adapters.directory.member import (
    DirectoryUnavailable,
    Member,
    clean_field,
    normalize_number,
)

__all__ = ["Sip2Directory", "Sip2Settings", "member_from_sip2", "read_frame"]

_MAX_FRAME = 64 * 1024  # a 64 with long item lists; more is not an answer to our question
_CONCURRENT = 4  # sessions at once: a burst of /verify must not flood the library system
# Positions of SIP2's 14 patron status flags, as a librarian would say them.
_FLAGS = ("charge privileges denied", "renewal privileges denied",
          "recall privileges denied", "hold privileges denied", "card reported lost",
          "too many items charged", "too many items overdue", "too many renewals",
          "too many claims of items returned", "too many items lost",
          "excessive outstanding fines", "excessive outstanding fees",
          "recall overdue", "too many items billed")
# Expiry extensions: Evergreen/Envisionware PA, Sierra PE, and BW where a system reuses it.
_EXPIRY_FIELDS = ("PA", "PE", "BW")
_Message = TypeVar("_Message", bound=SIPMessage)
_FIXED_64 = 2 + 14 + 3 + 18 + 6 * 4  # command id and fixed fields before the AO field


@dataclass(frozen=True, slots=True)
class Sip2Settings:
    host: str
    port: int = 6001
    tls: bool = False
    user: str = ""  # empty: no Login 93 (the server trusts the connection)
    password: str = ""  # from PUSTAKA_SIP2_PASSWORD only
    location: str = ""
    institution: str = ""
    timeout: float = 5.0


class Sip2Directory:
    """``lookup`` opens one SIP2 session per number; at most four run at once."""

    def __init__(self, settings: Sip2Settings, ssl_context: ssl.SSLContext | None = None,
                 today: Callable[[], date] = date.today) -> None:
        if not settings.host:
            raise ValueError("directory.sip2_host is not set (the library system's SIP2 server)")
        for key in ("user", "password", "location", "institution"):
            value = getattr(settings, key)
            if any(c in value for c in "|\r\n\0"):
                raise ValueError(f"directory.sip2_{key} must not contain |, line breaks or NUL")
        self.settings = settings
        self._ssl = (ssl_context or ssl.create_default_context()) if settings.tls else None
        self._today = today
        self._gate = asyncio.Semaphore(_CONCURRENT)

    @property
    def where(self) -> str:
        return f"SIP2 server {self.settings.host}:{self.settings.port}"

    async def lookup(self, number: str) -> Member | None:
        number = normalize_number(number)
        async with self._gate:
            try:
                async with asyncio.timeout(self.settings.timeout):
                    answer = await self._ask(number)
            except TimeoutError:
                raise DirectoryUnavailable(
                    f"{self.where} did not answer within {self.settings.timeout:g} s") from None
            except asyncio.IncompleteReadError:
                raise DirectoryUnavailable(f"{self.where} closed the connection") from None
            except asyncio.LimitOverrunError:  # no CR within _MAX_FRAME
                raise DirectoryUnavailable(f"{self.where} sent an answer too long") from None
            except SIP2Error as exc:  # a value the codec will not send
                raise DirectoryUnavailable(f"{self.where}: cannot ask: {exc}") from None
            except OSError as exc:  # refused, reset, DNS, TLS (ssl.SSLError is an OSError)
                reason = exc.strerror or str(exc) or type(exc).__name__
                raise DirectoryUnavailable(f"{self.where} unreachable: {reason}") from None
        return member_from_sip2(number, answer, self.settings.institution, self._today())

    async def _ask(self, number: str) -> tuple[PatronInformationResponse, dict[str, str]]:
        s = self.settings
        reader, writer = await asyncio.open_connection(
            s.host, s.port, ssl=self._ssl, limit=_MAX_FRAME,
            server_hostname=s.host if self._ssl else None)
        try:
            if s.user:
                writer.write(_encode(LoginRequest(
                    uid_algorithm="0", pwd_algorithm="0", login_user_id=s.user,
                    login_password=s.password, location_code=s.location or None), 0))
                login, _ = await _receive(reader, LoginResponse, self.where)
                if login.ok != "1":
                    raise DirectoryUnavailable(
                        f"{self.where} refused the login of {s.user!r} "
                        "(check directory.sip2_user and PUSTAKA_SIP2_PASSWORD)")
            writer.write(_encode(_patron_request(number, s), 1))
            return await _receive(reader, PatronInformationResponse, self.where)
        finally:
            writer.close()
            with contextlib.suppress(OSError, TimeoutError):
                await writer.wait_closed()

    async def close(self) -> None:
        return None  # nothing is kept open between lookups


def _patron_request(number: str, s: Sip2Settings) -> PatronInformationRequest:
    now = datetime.now()
    return PatronInformationRequest(
        language="000", transaction_date=now.strftime("%Y%m%d    %H%M%S"),
        summary=" " * 10, institution_id=s.institution, patron_identifier=number,
        terminal_password=s.password if s.user else None)


def _encode(message: SIPMessage, sequence: int) -> bytes:
    # UTF-8 is ASCII for every value we send (member numbers are letters and digits);
    # error detection (AY/AZ) on, as self-check machines send it and servers expect.
    return encode_message(message, sequence_number=sequence, checksum=True, encoding="utf-8")


async def _receive(reader: asyncio.StreamReader, kind: type[_Message],
                   where: str) -> tuple[_Message, dict[str, str]]:
    frame = await reader.readuntil(b"\r")
    try:
        message, extras = read_frame(frame)
    except SIP2Error as exc:
        raise DirectoryUnavailable(f"{where} sent an answer not understood: {exc}") from None
    if not isinstance(message, kind):
        raise DirectoryUnavailable(
            f"{where} answered {type(message).__name__} instead of {kind.__name__}")
    return message, extras


def read_frame(frame: bytes) -> tuple[SIPMessage, dict[str, str]]:
    """One SIP2 frame: the typed message and every identified field as raw text.

    The checksum is checked on the bytes as sent; the text is then read as UTF-8, or
    as the spec's code page 850 when it is not UTF-8 (older systems), so a name with
    accents is read either way. Raises a pysip2 ``SIP2Error`` for anything malformed.
    """
    body = frame.strip(b"\r\n")  # a CRLF server leaves the LF before the next frame
    if len(body) >= 6 and body[-6:-4] == b"AZ":
        if not verify_checksum(body):
            raise _CodecError("checksum mismatch")
        body = body[:-6]
        if len(body) >= 3 and body[-3:-1] == b"AY" and body[-1:].isdigit():
            body = body[:-3]
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        text = body.decode("cp850")
    message = decode_message((text + "\r").encode("utf-8"), encoding="utf-8").message
    extras: dict[str, str] = {}
    if text.startswith("64"):
        for part in text[_FIXED_64:].split("|"):
            extras.setdefault(part[:2], part[2:])
    return message, extras


def member_from_sip2(number: str, answer: tuple[PatronInformationResponse, dict[str, str]],
                     institution: str, today: date) -> Member | None:
    """What the card shows: None (not found), active, expired, or suspended with why."""
    info, extras = answer
    if info.patron_identifier.strip().upper() != number.upper():
        raise DirectoryUnavailable(
            f"the SIP2 server answered about patron {info.patron_identifier!r}, not {number}")
    if institution and info.institution_id and info.institution_id != institution:
        raise DirectoryUnavailable(
            f"the SIP2 server answered for institution {info.institution_id!r}")
    name = clean_field(info.personal_name)
    if info.valid_patron == "N" or (info.valid_patron is None and not name):
        return None
    expiry = _expiry(extras)
    expires = expiry.isoformat() if expiry else clean_field(_raw_expiry(extras))
    if expiry is not None and expiry < today:
        return Member(number, name, "expired", expires)
    reasons = [flag for flag, on in zip(_FLAGS, info.patron_status, strict=True) if on == "Y"]
    if _over_fee_limit(info):
        reasons.append("fees over the limit")
    if reasons:
        return Member(number, name, clean_field("suspended: " + ", ".join(reasons)), expires)
    return Member(number, name, "active", expires)


def _raw_expiry(extras: dict[str, str]) -> str:
    return next((extras[f] for f in _EXPIRY_FIELDS if extras.get(f, "").strip()), "")


def _expiry(extras: dict[str, str]) -> date | None:
    """YYYYMMDD (SIP2's date form, maybe followed by zone and time) or YYYY-MM-DD."""
    raw = _raw_expiry(extras).strip()
    for text, form in ((raw[:8], "%Y%m%d"), (raw[:10], "%Y-%m-%d")):
        with contextlib.suppress(ValueError):
            return datetime.strptime(text, form).date()
    return None  # an unknown form is shown as sent, and decides nothing


def _over_fee_limit(info: PatronInformationResponse) -> bool:
    try:
        return float(info.fee_amount or 0) > float(info.fee_limit) if info.fee_limit else False
    except ValueError:
        return False


class _CodecError(SIP2Error):
    """A frame whose checksum does not add up."""
