"""The widget's ``transcript`` frame: "Email me this chat" after a conversation ends.

The visitor may ask only for their own current conversation, once it is closed; the
bridge's hook queues the copy (``adapters.email.transcript_mail.queue_transcript``),
which goes only to an address the patron confirmed and at most once a conversation a
day, and refuses otherwise with a sentence the widget shows. A patron with no confirmed
address is told so by ``"reason": "no_email"`` as well, so the widget can offer the way
to confirm one instead of reading the sentence.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from adapters.widget.frames import FrameError, refusal
from adapters.widget.steps import PatronSteps, Session
from routing.model import Status
from routing.router import Router
from routing.transcript_mail import TranscriptRefused

__all__ = ["TranscriptHook", "TranscriptStep"]

# conversation id -> the address it goes to; ValueError with a sentence when refused
TranscriptHook = Callable[[str], Awaitable[str]]
_NO_HISTORY = "~"  # sorts after every message id: patron_view then reads no messages


def masked(address: str) -> str:
    """"an…@example.org": enough for the patron to know which of their addresses."""
    user, _, domain = address.partition("@")
    return f"{user[:2]}…@{domain}" if domain else ""


class TranscriptStep:
    def __init__(self, router: Router, steps: PatronSteps, hook: TranscriptHook) -> None:
        self._router = router
        self._steps = steps
        self._hook = hook

    async def __call__(self, session: Session, frame: dict[str, Any]) -> dict[str, Any]:
        self._steps.sessions.spend(session)  # superseded sessions refused, the budget spent
        wanted = frame.get("conversation", "")
        conversation, _ = await self._router.intake.patron_view(session.contact,
                                                                after=_NO_HISTORY)
        if conversation is None or (wanted and wanted != conversation.id):
            raise FrameError("not_yours", "You can only ask for your own conversation.")
        if conversation.status is not Status.CLOSED:
            raise FrameError("transcript_refused", "The conversation has not ended yet.")
        try:
            address = await self._hook(conversation.id)
        except ValueError as exc:
            refused = FrameError("transcript_refused", f"Not sent: {exc}.")
            if isinstance(exc, TranscriptRefused) and exc.reason:  # the widget acts on it
                return refusal(refused, frame.get("cid")) | {"reason": exc.reason}
            raise refused from None
        return {"type": "transcript_sent", "conversation": conversation.id,
                "email": masked(address)}
