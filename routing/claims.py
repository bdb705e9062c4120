"""Who answers a conversation: claims, take-overs, transfers, answering, closing, ratings.

One librarian holds a conversation at a time, so a patron never gets two answers from
two librarians. The first reply (``answering``) or the Claim button takes it;
``/takeover`` and ``/transfer`` move it openly (the desk and the widget patron are
told); ``/close`` ends it and asks the patron for a rating, recorded against the
librarian who served.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from routing.conversation_log import Claimed, ConversationLog
from routing.model import Conversation, Status
from routing.report_roles import ReferenceMark

__all__ = ["ClaimResult", "Claims"]

_MAX_COMMENT = 1000


@dataclass(frozen=True, slots=True)
class ClaimResult:
    """``outcome``: "claimed" (now yours, or the named librarian's), "yours" (already
    was), "held" (someone else's, unchanged), "closed" (nothing to claim); ``holder``
    names who has it afterwards."""

    outcome: str
    conversation: Conversation
    holder: str = ""
    previous: str = ""  # for take-overs and transfers: who had it before


class Claims:
    """Every change of who holds a conversation, each under the conversation's lock."""

    def __init__(self, log: ConversationLog) -> None:
        self._log = log
        self._store = log.store

    async def claim(
        self, conversation_id: str, librarian_id: str, librarian_name: str
    ) -> ClaimResult | None:
        """Take an unclaimed conversation (the Claim button); never moves a claim."""
        async with self._log.lock(conversation_id):
            conversation = await self._store.get_conversation(conversation_id)
            if conversation is None:
                return None
            if conversation.claimed_by_id == librarian_id:
                return ClaimResult("yours", conversation, conversation.claimed_by)
            if conversation.claimed_by_id:
                return ClaimResult("held", conversation, conversation.claimed_by)
            if conversation.status is Status.CLOSED:
                return ClaimResult("closed", conversation)
            claimed = await self._hand_to(conversation, librarian_id, librarian_name,
                                          f"{librarian_name} is answering")
            return ClaimResult("claimed", claimed, librarian_name)

    async def answering(
        self, conversation_id: str, librarian_id: str, librarian_name: str
    ) -> Conversation | None:
        """A librarian is replying: the first to reply claims the conversation, and the
        first answer's time is noted. Raises ``Claimed`` when another librarian holds it
        (read under the lock: two librarians answering at once make one claim)."""
        async with self._log.lock(conversation_id):
            conversation = await self._store.get_conversation(conversation_id)
            if conversation is None:
                return None
            if conversation.claimed_by_id not in ("", librarian_id):
                raise Claimed(conversation.claimed_by_id, conversation.claimed_by)
            if conversation.claimed_by_id and conversation.first_response_at:
                return conversation
            now = self._log.clock.now()
            answered = replace(
                conversation, claimed_by=conversation.claimed_by or librarian_name,
                claimed_by_id=conversation.claimed_by_id or librarian_id,
                first_response_at=conversation.first_response_at or now, updated_at=now,
            )
            await self._store.save_conversation(answered)
            if not conversation.claimed_by_id:
                await self._log.system(answered, "claimed", f"{librarian_name} is answering",
                                       librarian_name, to_desk=True)
            return answered

    async def takeover(
        self, conversation_id: str, librarian_id: str, librarian_name: str
    ) -> ClaimResult | None:
        """``/takeover``: the conversation is yours whoever had it (announced openly)."""
        async with self._log.lock(conversation_id):
            conversation = await self._store.get_conversation(conversation_id)
            if conversation is None:
                return None
            return await self._take(conversation, librarian_id, librarian_name)

    async def transfer(
        self, conversation_id: str, by_id: str, by_name: str, to_id: str, to_name: str
    ) -> ClaimResult | None:
        """``/transfer``: hand the conversation to ``to_id``. Only its holder may hand a
        held conversation on (anyone may assign an unclaimed one); anyone else gets
        outcome "held" and the holder's name, and moves it openly with ``/takeover``.
        A transfer to oneself is a take-over and is worded as one."""
        async with self._log.lock(conversation_id):
            conversation = await self._store.get_conversation(conversation_id)
            if conversation is None:
                return None
            previous = conversation.claimed_by
            if conversation.claimed_by_id == to_id:
                return ClaimResult("yours", conversation, previous, previous)
            if by_id == to_id:
                return await self._take(conversation, to_id, to_name)
            if conversation.claimed_by_id not in ("", by_id):
                return ClaimResult("held", conversation, previous, previous)
            text = (f"{by_name} handed the conversation to {to_name}" if previous
                    else f"{by_name} gave the conversation to {to_name}")
            moved = await self._hand_to(conversation, to_id, to_name, text)
            return ClaimResult("claimed", moved, to_name, previous)

    async def _take(
        self, conversation: Conversation, librarian_id: str, librarian_name: str
    ) -> ClaimResult:
        previous = conversation.claimed_by
        if conversation.claimed_by_id == librarian_id:
            return ClaimResult("yours", conversation, previous, previous)
        text = (f"{librarian_name} took over from {previous}" if previous
                else f"{librarian_name} is answering")
        moved = await self._hand_to(conversation, librarian_id, librarian_name, text)
        return ClaimResult("claimed", moved, librarian_name, previous)

    async def _hand_to(
        self, conversation: Conversation, librarian_id: str, name: str, desk_text: str
    ) -> Conversation:
        moved = replace(conversation, claimed_by=name, claimed_by_id=librarian_id,
                        updated_at=self._log.clock.now())
        await self._store.save_conversation(moved)
        # The patron's side words "claimed" itself from the author: "<name> is answering".
        await self._log.system(moved, "claimed", desk_text, name, to_desk=True)
        return moved

    async def close(
        self, conversation_id: str, librarian_id: str, librarian_name: str,
        mark: ReferenceMark | None = None,
    ) -> Conversation | None:
        """Close and ask the patron for a rating on the channel they wrote from. An
        unclaimed conversation counts as served by whoever closes it; ``mark`` (the
        question's kind and READ effort) is kept for the reference statistics. None when
        it is unknown or already closed."""
        async with self._log.lock(conversation_id):
            conversation = await self._store.get_conversation(conversation_id)
            if conversation is None or conversation.status is Status.CLOSED:
                return None
            now = self._log.clock.now()
            closed = replace(
                conversation, status=Status.CLOSED, closed_at=now, updated_at=now,
                claimed_by=conversation.claimed_by or librarian_name,
                claimed_by_id=conversation.claimed_by_id or librarian_id,
            )
            await self._store.save_conversation(closed)
            if mark is not None and not mark.empty:
                await self._store.save_reference(conversation_id, mark, librarian_id, now)
            origin = (closed.origin,)
            await self._log.system(closed, "closed",
                                   f"{librarian_name} closed the conversation",
                                   librarian_name, to_desk=True, to_patron=origin)
            await self._log.system(closed, "rating_request",
                                   "How did we do? Rate this conversation from 1 to 5, and "
                                   "add a comment if you like.", "", to_desk=False,
                                   to_patron=origin)
            return closed

    async def rate(self, conversation_id: str, score: int, comment: str = "") -> bool:
        """Record a 1..5 rating of a closed conversation; a later rating replaces an
        earlier one (stars first, then a comment). False when refused."""
        if type(score) is not int or not 1 <= score <= 5:
            return False
        async with self._log.lock(conversation_id):
            conversation = await self._store.get_conversation(conversation_id)
            if conversation is None or conversation.status is not Status.CLOSED:
                return False
            rated = replace(
                conversation, rating=score, rating_comment=comment.strip()[:_MAX_COMMENT],
                rated_librarian_id=conversation.claimed_by_id,
                updated_at=self._log.clock.now(),
            )
            await self._store.save_conversation(rated)
        stars = "\u2605" * score + "\u2606" * (5 - score)
        said = f": {rated.rating_comment}" if rated.rating_comment else ""
        await self._log.notice(conversation_id, f"Patron rated {stars} ({score}/5){said}",
                               event="rated")
        return True
