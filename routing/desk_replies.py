"""Desk replies: what a librarian writes to the patron, and the edits and withdrawals of it.

A librarian's reply becomes a stored message plus an outbox row for the patron's
channel; the first reply claims the conversation (``Claims.answering``). Each reply's
desk message id is linked to it, so an edit or a ``/delete`` of it in the topic finds it.
"""

from __future__ import annotations

from routing import logctx
from routing.claims import Claims
from routing.conversation_log import ConversationLog, delivery
from routing.greeting import Greeting, Greetings
from routing.model import (
    Channel,
    Conversation,
    DeliveryKind,
    DeskReply,
    Direction,
    Message,
    new_id,
)
from routing.ports import Link

__all__ = ["DESK_LINK", "DeskReplies"]

DESK_LINK = "desk"  # Link.channel of a desk message id (forwarded patron lines, replies)


class DeskReplies:
    """``reply``, ``edit`` and ``withdraw`` a librarian's answer; ``greet`` a visitor;
    find the conversation a desk topic or desk message belongs to."""

    def __init__(self, log: ConversationLog, claims: Claims) -> None:
        self._log = log
        self._store = log.store
        self._claims = claims
        self._greetings = Greetings(log)

    async def greet(self, greeting: Greeting) -> tuple[Conversation, Message]:
        """``/greet``: a librarian opens a conversation with a visitor who has not
        written (routing/greeting.py). Raises ``Refused`` with a reason for the desk."""
        return await self._greetings.greet(greeting)

    async def reply(self, reply: DeskReply) -> Message | None:
        """A librarian wrote in a conversation's topic; the first to reply claims it.

        Raises ``Claimed`` when another librarian holds the conversation: nothing is
        stored or sent, so a patron never gets two librarians' answers.
        """
        text = reply.text.strip()
        if not text and not reply.attachments:
            return None
        conversation = await self._claims.answering(
            reply.conversation_id, reply.librarian_id, reply.librarian_name)
        if conversation is None:
            return None
        logctx.bind(conversation_id=conversation.id, channel=conversation.origin.value,
                    patron_id=conversation.patron_id)
        message = Message(
            id=new_id(),
            conversation_id=conversation.id,
            direction=Direction.LIBRARIAN,
            text=text,
            author=reply.librarian_name,
            # A desk message redelivered after a restart is the same message, not a new one.
            client_id=f"desk:{reply.external_id}" if reply.external_id else "",
            external_id=reply.external_id,
            created_at=self._log.clock.now(),
            attachments=reply.attachments,
        )
        queued = [delivery(message, DeliveryKind.TO_PATRON, conversation.origin)]
        stored, created = await self._store.append(message, queued)
        if created:
            if stored.external_id:  # so an edit of it in the topic finds it
                await self._store.save_link(
                    Link(DESK_LINK, stored.external_id, stored.conversation_id, stored.id))
            self._log.wake(queued)
        return stored

    async def edit(
        self, conversation_id: str, original_external_id: str, text: str,
        edit_key: str = "",
    ) -> Message | None:
        """A librarian edited a reply in the topic: a LIBRARIAN message with event
        "edited" and ``replaces`` = the original's id goes to the patron's channel.
        Edits of anything the patron never got (commands, notes) change nothing."""
        text = text.strip()
        found = await self._reply_named(conversation_id, original_external_id) if text else None
        if found is None:
            return None
        original, conversation = found
        now = self._log.clock.now()
        return await self._to_patron(conversation, Message(
            id=new_id(), conversation_id=conversation_id, direction=Direction.LIBRARIAN,
            text=text, author=original.author, event="edited", replaces=original.id,
            client_id=f"desk-edit:{original_external_id}:{edit_key or now}",
            external_id=original_external_id, created_at=now,
        ))

    async def withdraw(
        self, conversation_id: str, original_external_id: str, by: str,
    ) -> Message | None:
        """``/delete`` on a librarian's reply: take it back from the patron where the
        channel allows. A LIBRARIAN message with event "withdrawn", no text, and
        ``replaces`` = the original's id goes to the patron's channel; the widget removes
        the reply, Telegram deletes it, email (which cannot unsend) says nothing more.
        Only replies can be withdrawn; a second /delete of the same reply changes nothing."""
        found = await self._reply_named(conversation_id, original_external_id)
        if found is None:
            return None
        original, conversation = found
        return await self._to_patron(conversation, Message(
            id=new_id(), conversation_id=conversation_id, direction=Direction.LIBRARIAN,
            text="", author=by, event="withdrawn", replaces=original.id,
            client_id=f"desk-withdraw:{original_external_id}",
            external_id=original_external_id, created_at=self._log.clock.now(),
        ))

    async def conversation_for_thread(self, desk_thread: int) -> Conversation | None:
        return await self._store.conversation_by_thread(desk_thread)

    async def conversation_for_desk_message(self, external_id: str) -> Conversation | None:
        """For groups without topics: the conversation a forwarded desk message belongs to."""
        link = await self._store.find_link(Channel.DESK.value, external_id)
        if link is None:
            return None
        return await self._store.get_conversation(link.conversation_id)

    async def _reply_named(
        self, conversation_id: str, external_id: str
    ) -> tuple[Message, Conversation] | None:
        """The librarian reply a desk message id names in this conversation, and the
        conversation; None for anything the patron never got (commands, notes)."""
        link = await self._store.find_link(DESK_LINK, external_id)
        if link is None or link.conversation_id != conversation_id or not link.message_id:
            return None
        original = await self._store.get_message(link.message_id)
        conversation = await self._store.get_conversation(conversation_id)
        if (original is None or conversation is None
                or original.direction is not Direction.LIBRARIAN):
            return None
        return original, conversation

    async def _to_patron(self, conversation: Conversation, message: Message) -> Message:
        """Store ``message`` with one delivery to the patron's channel; queued once."""
        queued = [delivery(message, DeliveryKind.TO_PATRON, conversation.origin)]
        stored, _ = await self._log.write(message, queued)
        return stored
