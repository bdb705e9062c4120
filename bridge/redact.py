"""Secrets never reach a log line, whichever library writes it.

python-telegram-bot, httpx and aiohttp log request URLs, and a Bot API URL carries the
bot token (``/bot<TOKEN>/getUpdates``); an exception's text or traceback may carry it
too. A filter on the root logger would not see records of child loggers (``telegram``,
``httpx``), and one on a handler would miss handlers added later; so the filter runs in
the log record factory, on every record at its creation, before any handler formats it.
"""

from __future__ import annotations

import logging
import re
import threading
import traceback
from typing import Any

__all__ = ["MASK", "SecretFilter", "install", "redact_secrets"]

MASK = "[REDACTED]"
# A Telegram bot token however it was given to us: digits, a colon, 30+ URL-safe characters.
_TOKEN_SHAPE = re.compile(r"(?<!\d)\d{5,}:[A-Za-z0-9_-]{30,}")
_SHORTEST = 8  # a shorter "secret" (an empty password, "x") would blank ordinary words


class SecretFilter(logging.Filter):
    """Replaces each known secret, and anything shaped like a bot token, with ``MASK``."""

    def __init__(self) -> None:
        super().__init__()
        self._secrets: tuple[str, ...] = ()
        self._lock = threading.Lock()

    def add(self, *secrets: str | None) -> None:
        with self._lock:
            known = set(self._secrets) | {s for s in secrets if s and len(s) >= _SHORTEST}
            self._secrets = tuple(sorted(known, key=len, reverse=True))  # longest first

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return _TOKEN_SHAPE.sub(MASK, text)

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, dict):  # structlog's own event: keep its keys apart
            record.msg = {k: self.redact(v) if isinstance(v, str) else v
                          for k, v in record.msg.items()}
            return True
        try:
            message = record.getMessage()
        except Exception:  # a malformed call: the handler reports it, we must not raise
            return True
        clean = self.redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            # The formatters reuse exc_text when it is set: give them the clean one.
            record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


_FILTER = SecretFilter()
_installed = False


def install() -> SecretFilter:
    """Put the filter in front of every log record (once per process); returns it."""
    global _installed
    if not _installed:
        make = logging.getLogRecordFactory()

        def clean_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = make(*args, **kwargs)
            _FILTER.filter(record)
            return record

        logging.setLogRecordFactory(clean_record)
        _installed = True
    return _FILTER


def redact_secrets(*secrets: str | None) -> None:
    """Install the filter and add these values (a token, passwords) to what it hides."""
    install().add(*secrets)
