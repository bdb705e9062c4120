"""Which conversation a log line is about, without the core importing a logging library.

The router binds the conversation, its channel and its patron where it learns them (a
patron's message taken in, a librarian's reply, an outbox attempt); every log line
written afterwards in the same task, by any logger, is about them. The bridge's log
formatter (bridge/logs.py) merges ``current()`` into each line. Only ids go here, never
a message's text or an address.

A task started with ``asyncio.create_task`` copies the context, so a binding in one
outbox lane never labels another lane's lines. A loop that handles one item after
another in one task (a mailbox, the desk's updates) wraps each in ``scope()`` so one
item's ids do not label the next one's lines.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["KEYS", "bind", "current", "scope"]

KEYS = ("conversation_id", "channel", "patron_id")

_CONTEXT: ContextVar[tuple[tuple[str, str], ...]] = ContextVar("pustaka_log_context",
                                                               default=())


def bind(**ids: str) -> None:
    """Label this task's following log lines with these ids (empty values are left out)."""
    # Every patron message binds: one pass over the few ids, no sets, no second dict.
    merged = dict(_CONTEXT.get())
    for key, value in ids.items():
        if key not in KEYS:
            unknown = sorted(set(ids) - set(KEYS))
            raise ValueError(f"log context takes only {KEYS}, not {unknown}")
        if value:
            merged[key] = value
    _CONTEXT.set(tuple(merged.items()))


def current() -> dict[str, str]:
    """The ids bound in this task now."""
    return dict(_CONTEXT.get())


@contextmanager
def scope(**ids: str) -> Iterator[None]:
    """Bindings made inside (and ``ids``) end when the block ends."""
    token = _CONTEXT.set(())
    try:
        bind(**ids)
        yield
    finally:
        _CONTEXT.reset(token)
