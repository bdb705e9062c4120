"""Telling machine-sent mail from a patron's (RFC 3834, RFC 3464, RFC 2369/2919).

Anything classified here starts no conversation and gets no acknowledgement, which is
what breaks the loop "our after-hours ack -> their out-of-office -> our ack ...".
A bounce of one of our own replies is recognised by the Message-ID it carries back.
"""

from __future__ import annotations

import enum
import re
from email.message import Message

from adapters.email.headers import addresses, decode_bytes, raw_header

__all__ = ["AutoKind", "asks_no_auto_reply", "bounced_message_id", "classify"]


class AutoKind(enum.StrEnum):
    """Why a received mail is not a person writing to the library."""

    AUTO_REPLY = "auto_reply"  # out-of-office, vacation, another desk's acknowledgement
    BOUNCE = "bounce"  # a delivery failure report
    LIST = "list"  # a mailing list's copy
    BULK = "bulk"  # newsletters, notifications, anything sent to many


_DAEMONS = {"mailer-daemon", "postmaster", "mail-daemon", "mailerdaemon"}
_BOUNCE_REPORTS = {"delivery-status", "global-delivery-status"}  # RFC 3464, RFC 6533
_SUPPRESS_MARKS = {"all", "oof", "autoreply"}
_MSG_ID_LINE = re.compile(r"^\s*Message-ID:\s*(<[^<>\s]{1,500}>)", re.IGNORECASE | re.MULTILINE)
_MSG_ID = re.compile(r"<[^<>\s]{1,500}>")


def _value(msg: Message, name: str) -> str:
    return (raw_header(msg, name) or "").strip().lower()


def _report_type(msg: Message) -> str | None:
    """The report-type of a ``multipart/report`` (RFC 6522), or None for other mail."""
    try:
        if msg.get_content_type() != "multipart/report":
            return None
        return str(msg.get_param("report-type", "") or "").strip().lower()
    except Exception:  # a broken Content-Type field is not evidence either way
        return None


def classify(msg: Message) -> AutoKind | None:
    """The kind of automatic mail ``msg`` is, or None when a person sent it."""
    senders = addresses(msg, "From") + addresses(msg, "Sender")
    report = _report_type(msg)
    if report in _BOUNCE_REPORTS or any(
        addr.split("@", 1)[0].lower() in _DAEMONS for _, addr in senders
    ):
        return AutoKind.BOUNCE
    if report is not None:  # read receipts (RFC 8098) and other machine reports
        return AutoKind.AUTO_REPLY
    submitted = _value(msg, "Auto-Submitted").split(";", 1)[0].strip()
    if submitted and submitted != "no":
        return AutoKind.AUTO_REPLY
    if raw_header(msg, "X-Autoreply") is not None or raw_header(msg, "X-Autorespond") is not None:
        return AutoKind.AUTO_REPLY
    precedence = _value(msg, "Precedence")
    if precedence == "auto_reply":
        return AutoKind.AUTO_REPLY
    if precedence == "list" or raw_header(msg, "List-Id") is not None:
        return AutoKind.LIST
    if raw_header(msg, "List-Unsubscribe") is not None:
        return AutoKind.LIST
    if precedence in {"bulk", "junk"}:
        return AutoKind.BULK
    if _value(msg, "Return-Path") == "<>":
        # RFC 3834 section 3.3: automatic responses go out with a null envelope sender
        return AutoKind.AUTO_REPLY
    return None


def asks_no_auto_reply(msg: Message) -> bool:
    """The sender asks not to be auto-replied to (Exchange's X-Auto-Response-Suppress).

    A request, not a sign of machine mail: Exchange puts it on mail a person sent to a
    distribution list too, so it only stops our acknowledgement, never the conversation
    (osTicket, Redmine and sisimai each dropped real mail by reading it as an auto-reply).
    """
    suppress = {v.strip() for v in _value(msg, "X-Auto-Response-Suppress").split(",")}
    return bool(suppress & _SUPPRESS_MARKS)


def _id_in_headers_text(text: str) -> str | None:
    found = _MSG_ID_LINE.search(text)
    return found.group(1) if found else None


def bounced_message_id(msg: Message, body_text: str = "") -> str | None:
    """The Message-ID of the original mail a bounce returns, if it can be found.

    RFC 3464 reports attach the original as ``message/rfc822`` or just its headers as
    ``text/rfc822-headers``; older MTAs paste the headers into the text, searched last.
    """
    try:
        for part in msg.walk():
            ctype = part.get_content_type()
            if ctype in {"message/rfc822", "message/global"}:
                inner = part.get_payload()
                if isinstance(inner, list) and inner and isinstance(inner[0], Message):
                    found = _MSG_ID.search(raw_header(inner[0], "Message-ID") or "")
                    if found:
                        return found.group(0)
            elif ctype in {"text/rfc822-headers", "message/global-headers"}:
                data = part.get_payload(decode=True)
                if isinstance(data, bytes):
                    found_id = _id_in_headers_text(decode_bytes(data, "utf-8"))
                    if found_id:
                        return found_id
    except Exception:  # a broken report still counts as a bounce, just of nothing known
        pass
    return _id_in_headers_text(body_text)
