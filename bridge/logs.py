"""Structured logs: key-value lines in a terminal, one JSON object a line in production.

Every logger goes through one stdlib handler: ours, routing's (plain ``logging``, the
core imports no logging library), aiohttp's and python-telegram-bot's. Its structlog
``ProcessorFormatter`` adds the time, the level, the logger's name and the ids of the
conversation the line is about (``routing.logctx``, plus anything bound with
``structlog.contextvars``), then renders. So an operator filters by conversation, channel
or patron whichever part of the bridge wrote the line.

Secrets are masked twice: bridge/redact.py cleans each record's text when it is made,
and the last step here cleans every value and the rendered line, since a traceback is
formatted again from the exception here and JSON may escape a secret's characters.
"""

from __future__ import annotations

import logging
import re
import sys
from typing import IO, Any

import structlog
from structlog.stdlib import ProcessorFormatter
from structlog.typing import EventDict, Processor, WrappedLogger

from bridge import redact
from routing import logctx

__all__ = ["FORMATS", "configure", "formatter"]

FORMATS = ("console", "json")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_MULTILINE = {"exception", "stack"}
_LEAD = ("timestamp", "level", "logger", "event")
_QUIET = {"httpx": logging.WARNING, "aiohttp.access": logging.WARNING}


def configure(fmt: str = "console", *, verbose: bool = False,
              stream: IO[str] | None = None) -> logging.Handler:
    """Send every log line to ``stream`` (stderr) in ``fmt``; replaces the handler an
    earlier call installed, so the CLI may configure before and after reading the config."""
    redact.install()  # before any library logs a URL holding the bot token
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter(fmt))
    handler.set_name("pustaka")
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "pustaka"]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for name, level in _QUIET.items():
        logging.getLogger(name).setLevel(level)
    structlog.configure(
        processors=[*_shared(), ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    return handler


def formatter(fmt: str) -> logging.Formatter:
    """The formatter for ``fmt`` ("console" or "json"), for any stdlib handler."""
    if fmt not in FORMATS:
        raise ValueError(f"log format must be one of {FORMATS}, got {fmt!r}")
    renderer: Processor
    if fmt == "json":
        renderer = structlog.processors.JSONRenderer(ensure_ascii=False)
    else:
        renderer = structlog.dev.ConsoleRenderer(
            colors=False, exception_formatter=structlog.dev.plain_traceback)
    steps: list[Processor] = [ProcessorFormatter.remove_processors_meta,
                              structlog.processors.format_exc_info, _redact_values]
    # JSON escapes line breaks itself; its lines start with when, how bad, who and what.
    steps.append(_one_line if fmt == "console" else _lead)
    return ProcessorFormatter(foreign_pre_chain=_shared(),
                              processors=[*steps, _clean_output(renderer)])


def _shared() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        _merge_conversation,
        structlog.stdlib.add_logger_name,
        _add_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]


def _merge_conversation(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    for key, value in logctx.current().items():
        event.setdefault(key, value)
    return event


def _add_level(logger: WrappedLogger, method: str, event: EventDict) -> EventDict:
    # Upper case, as stdlib logging and every log shipper's default parser spell it.
    event = structlog.stdlib.add_log_level(logger, method, event)
    event["level"] = str(event["level"]).upper()
    return event


def _redact_values(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    mask = redact.install()
    return {key: mask.redact(value) if isinstance(value, str) else value
            for key, value in event.items()}


def _one_line(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    """A line break in a value (an address, a subject someone crafted) cannot forge a
    line of its own: control characters are written as escapes; tracebacks stay whole."""
    return {key: _CONTROL.sub(_escape, value)
            if isinstance(value, str) and key not in _MULTILINE else value
            for key, value in event.items()}


def _lead(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    first = {key: event[key] for key in _LEAD if key in event}
    return first | {key: value for key, value in event.items() if key not in first}


def _escape(match: re.Match[str]) -> str:
    return match.group().encode("unicode_escape").decode("ascii")


def _clean_output(renderer: Processor) -> Processor:
    def render(logger: WrappedLogger, method: str, event: EventDict) -> Any:
        line = renderer(logger, method, event)
        return redact.install().redact(line) if isinstance(line, str) else line
    return render
