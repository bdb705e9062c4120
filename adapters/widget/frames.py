"""Reading what a widget sends: the error type, and the checks for the offline form and
the rating, shared by the WebSocket and the HTTP fallback.

Pure functions over a decoded JSON object; every refusal is a ``FrameError`` whose code
is listed in PROTOCOL.md and whose text a patron can read.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

__all__ = [
    "MAX_COMMENT",
    "MAX_NAME",
    "FrameError",
    "OfflineQuestion",
    "Rating",
    "cid_in",
    "client_id",
    "error_frame",
    "internal_error",
    "json_value",
    "offline_question",
    "profile_fields",
    "rating",
    "refusal",
    "valid_email",
]

MAX_NAME = 200
MAX_EMAIL = 200
MAX_COMMENT = 1000

# One "@", no spaces, quotes, brackets or separators a mail header would read as syntax;
# a domain of at least two dot-separated labels. Non-ASCII (IDN, EAI) is let through.
_ATOM = r"""[^\s@<>()\[\],;:"\\]"""
_LABEL = r"""[^\s@<>()\[\],;:"\\.]+"""
_EMAIL = re.compile(rf"{_ATOM}+@{_LABEL}(?:\.{_LABEL})+")
# A "cid" string anywhere in a frame's text: the fallback for a frame too deep to parse.
_CID = re.compile(r'"cid"\s*:\s*("(?:[^"\\]|\\.){1,400}")')


class FrameError(Exception):
    """``retry_after``: whole seconds until the same frame would be taken (rate limits)."""

    def __init__(self, code: str, message: str, *, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.retry_after = retry_after


def error_frame(code: str, message: str, cid: Any = None) -> dict[str, Any]:
    frame = {"type": "error", "code": code, "message": message}
    if isinstance(cid, str):
        frame["cid"] = cid[:64]
    return frame


def internal_error() -> dict[str, Any]:
    """The answer to a frame whose handling failed on our side."""
    return error_frame("internal", "Something went wrong; try again.")


def refusal(exc: FrameError, cid: Any = None) -> dict[str, Any]:
    """The error frame for a refusal, with ``retry_after`` when it has one."""
    frame = error_frame(exc.code, str(exc), cid)
    if exc.retry_after is not None:
        frame["retry_after"] = exc.retry_after
    return frame


def json_value(data: str | bytes) -> Any:
    """``data`` read as JSON; a ``bad_frame`` refusal for what is not JSON, and for
    arrays or objects nested deeper than the reader's recursion limit (``[`` * 8000)."""
    try:
        return json.loads(data)
    except RecursionError:
        raise FrameError("bad_frame", "The frame nests too deeply to read.") from None
    except ValueError:  # UnicodeDecodeError too
        raise FrameError("bad_frame", "The frame is not valid JSON.") from None


def cid_in(data: str | bytes) -> Any:
    """The ``cid`` of a frame, for the error frame that refuses it; None if it has none.
    A frame too deep to parse is searched as text for its first ``"cid": "..."``."""
    try:
        frame = json_value(data)
    except FrameError:
        text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
        match = _CID.search(text)
        try:
            return json.loads(match.group(1)) if match else None
        except ValueError:
            return None
    return frame.get("cid") if isinstance(frame, dict) else None


def _has_control(text: str) -> bool:
    # Cf holds the bidi overrides and zero-width characters; Cs a lone surrogate, which
    # JSON can carry and no database or mail header can store.
    return any(unicodedata.category(c) in ("Cc", "Cf", "Cs", "Zl", "Zp") for c in text)


def valid_email(email: str) -> bool:
    """A plausible address that is safe to put in a mail header (no CR/LF, no syntax)."""
    return (0 < len(email) <= MAX_EMAIL and not _has_control(email)
            and _EMAIL.fullmatch(email) is not None)


def client_id(frame: dict[str, Any]) -> str:
    cid = frame.get("cid")
    if not isinstance(cid, str) or not 0 < len(cid) <= 64:
        raise FrameError("bad_frame", "'cid' must be a string of 1 to 64 characters.")
    return cid


@dataclass(frozen=True, slots=True)
class OfflineQuestion:
    """The offline form: who asks, where the answer goes, and the question."""

    cid: str
    name: str
    email: str
    text: str


def offline_question(frame: dict[str, Any], *, email_required: bool = True,
                     name_required: bool = True) -> OfflineQuestion:
    """Check the offline form. The name is required (unless the library's pre-chat form
    leaves it out), and the email unless the library answers in the chat only; neither
    may hold a line break or other control character (they end up in email headers)."""
    cid = client_id(frame)
    name, email, text = frame.get("name"), frame.get("email", ""), frame.get("text")
    if not isinstance(name, str) or not isinstance(email, str) or not isinstance(text, str):
        raise FrameError("bad_frame", "'name', 'email' and 'text' must be strings.")
    name, email = _checked_name(name), _checked_email(email)
    if not name and name_required:
        raise FrameError("missing_name", "Please tell us your name.")
    if not email and email_required:
        raise FrameError("missing_email", "Please give an email address for the answer.")
    if not text.strip():
        raise FrameError("empty", "Write your question before sending.")
    return OfflineQuestion(cid, name, email, text)


def profile_fields(frame: dict[str, Any]) -> tuple[str, str]:
    """(name, email) of a ``profile`` frame, checked exactly like the offline form's;
    both may be empty (the patron gives only what they like)."""
    name, email = frame.get("name", ""), frame.get("email", "")
    if not isinstance(name, str) or not isinstance(email, str):
        raise FrameError("bad_frame", "'name' and 'email' must be strings.")
    return _checked_name(name), _checked_email(email)


def _checked_name(name: str) -> str:
    if _has_control(name):
        raise FrameError("bad_name", "The name may not contain line breaks or control characters.")
    name = " ".join(name.split())
    if len(name) > MAX_NAME:
        raise FrameError("too_long_profile", f"The name can be at most {MAX_NAME} characters.")
    return name


def _checked_email(email: str) -> str:
    email = email.strip()
    if email and not valid_email(email):
        raise FrameError("bad_email", "That email address does not look right.")
    return email


@dataclass(frozen=True, slots=True)
class Rating:
    conversation_id: str  # "" means the visitor's current conversation
    score: int
    comment: str


def rating(frame: dict[str, Any]) -> Rating:
    """Check a rating: a whole score from 1 to 5 and an optional short comment."""
    score, comment = frame.get("score"), frame.get("comment", "")
    conversation = frame.get("conversation", "")
    if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
        raise FrameError("bad_rating", "A rating is a whole number of stars from 1 to 5.")
    if comment is None:
        comment = ""
    if not isinstance(comment, str) or not isinstance(conversation, str | None):
        raise FrameError("bad_frame", "'comment' and 'conversation' must be strings.")
    comment = comment.replace("\r\n", "\n").strip()
    if len(comment) > MAX_COMMENT:
        raise FrameError("too_long", f"The comment can be at most {MAX_COMMENT} characters.")
    return Rating((conversation or "")[:40], score, comment)
