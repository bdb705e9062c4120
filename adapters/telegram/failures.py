"""Telegram's errors as the outbox's failures: which are worth a retry, which may have
been sent anyway, and which say a forum topic is gone."""

from __future__ import annotations

from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError

from adapters.telegram.aiohttp_request import NotSent, NotSentTimeout
from routing.ports import PermanentFailure, TemporaryFailure, TopicFailure

__all__ = ["opened_failure", "telegram_failure", "thread_gone"]

_THREAD_GONE = ("message thread not found", "topic_deleted", "topic deleted", "topic_closed",
                "topic_id_invalid")  # the last: reopening a deleted topic


def telegram_failure(exc: TelegramError) -> Exception:
    """Map a Telegram error onto the outbox's two kinds of failure."""
    if isinstance(exc, RetryAfter):
        retry = exc.retry_after
        seconds = retry.total_seconds() if hasattr(retry, "total_seconds") else float(retry)
        return TemporaryFailure(f"Telegram rate limit: {exc.message}", seconds)
    if isinstance(exc, Forbidden):
        return PermanentFailure(f"Telegram refused: {exc.message}")
    if isinstance(exc, BadRequest):
        return PermanentFailure(f"Telegram rejected the message: {exc.message}")
    if isinstance(exc, NetworkError):  # includes TimedOut
        # No connection, no message: only then is a retry surely not a duplicate.
        surely_not = isinstance(exc, (NotSent, NotSentTimeout))
        return TemporaryFailure(f"Telegram unreachable: {exc.message}", maybe_sent=not surely_not)
    return TemporaryFailure(f"Telegram error: {exc}")


def opened_failure(exc: TelegramError, opened: int | None) -> Exception:
    """A post into a place just opened failed: a temporary failure names the place (kept
    already), so the outbox knows its retry goes there instead of opening another."""
    failure = telegram_failure(exc)
    if opened is None or not isinstance(failure, TemporaryFailure):
        return failure
    return TopicFailure(str(failure), failure.retry_after, maybe_sent=failure.maybe_sent,
                        opened_topic=opened)


def thread_gone(exc: BadRequest) -> bool:
    text = exc.message.lower()
    return any(marker in text for marker in _THREAD_GONE)
