"""The desk's bookkeeping on a conversation: notes, tags, blocks, history, edits, figures.

None of it reaches the patron except an edit or a withdrawal of a librarian's own reply.
"""

from __future__ import annotations

import re
from dataclasses import replace

from routing.blocks import block_targets
from routing.model import (
    Block,
    BlockKind,
    Conversation,
    DeliveryKind,
    Direction,
    Message,
    new_id,
)
from routing.ports import Link
from routing.router_base import RouterBase
from routing.stats import DayStats, day_stats

__all__ = ["DESK_LINK", "DeskActions", "clean_tag"]

DESK_LINK = "desk"  # Link.channel of a desk message id (forwarded patron lines, replies)
_TAG = re.compile(r"[^\w-]+")
_EVERY_NETWORK = frozenset({BlockKind.IP, BlockKind.RANGE})


def clean_tag(text: str) -> str:
    """"#Inter-Library Loan" -> "inter-library_loan"; "" when nothing is left."""
    return _TAG.sub("_", text.strip().lstrip("#").lower()).strip("_")[:32]


class DeskActions(RouterBase):
    async def note(
        self, conversation_id: str, librarian_name: str, text: str, external_id: str = ""
    ) -> Message | None:
        """``/note``: kept in the log for librarians; never delivered anywhere."""
        text = text.strip()
        if not text or await self._store.get_conversation(conversation_id) is None:
            return None
        message = Message(
            id=new_id(), conversation_id=conversation_id, direction=Direction.NOTE,
            text=text, author=librarian_name, event="note",
            client_id=f"desk:{external_id}" if external_id else "",
            external_id=external_id, created_at=self._clock.now(),
        )
        stored, _ = await self._store.append(message, [])
        return stored

    async def tag(self, conversation_id: str, tag: str) -> Conversation | None:
        """Add a tag (for the reports); a tag already there is kept once."""
        name = clean_tag(tag)
        if not name:
            return None
        async with self._lock(conversation_id):
            conversation = await self._store.get_conversation(conversation_id)
            if conversation is None:
                return None
            if name in conversation.tags:
                return conversation
            tagged = replace(conversation, tags=(*conversation.tags, name),
                             updated_at=self._clock.now())
            await self._store.save_conversation(tagged)
            return tagged

    async def history(self, conversation_id: str, limit: int = 10) -> list[Conversation]:
        """The patron's other conversations, newest first."""
        conversation = await self._store.get_conversation(conversation_id)
        if conversation is None:
            return []
        earlier = await self._store.patron_conversations(conversation.patron_id, limit + 1)
        return [c for c in earlier if c.id != conversation_id][:limit]

    async def block(
        self, conversation_id: str, seconds: float | None, by: str,
        networks: frozenset[BlockKind] = frozenset(),
    ) -> list[Block]:
        """Block this conversation's patron (the ways they reached us) for ``seconds``
        (None: forever), and its IP address or range only when ``networks`` asks."""
        conversation = await self._store.get_conversation(conversation_id)
        if conversation is None:
            return []
        patron = await self._store.get_patron(conversation.patron_id)
        if patron is None:
            return []
        now = self._clock.now()
        until = None if seconds is None else now + seconds
        made = [Block(new_id(), kind, value, until, by, conversation_id, now)
                for kind, value in block_targets(patron, conversation, networks)]
        for block in made:
            await self._store.save_block(block)
        return made

    async def conversation_blocked(self, conversation_id: str) -> bool:
        """Whether this conversation's patron is blocked now (by any key a new message of
        theirs would be checked against): the desk is not reminded of them."""
        conversation = await self._store.get_conversation(conversation_id)
        patron = None if conversation is None else await self._store.get_patron(
            conversation.patron_id)
        if conversation is None or patron is None:
            return False
        keys = block_targets(patron, conversation, _EVERY_NETWORK)
        return await self._store.find_block(keys, self._clock.now()) is not None

    async def unblock(self, conversation_id: str) -> list[Block]:
        """Lift every block on this conversation's patron, and on its address and range."""
        conversation = await self._store.get_conversation(conversation_id)
        patron = None if conversation is None else await self._store.get_patron(
            conversation.patron_id)
        if conversation is None or patron is None:
            return []
        targets = set(block_targets(patron, conversation, _EVERY_NETWORK))
        lifted = [b for b in await self._store.active_blocks(self._clock.now())
                  if (b.kind, b.value) in targets or b.conversation_id == conversation_id]
        for block in lifted:
            await self._store.remove_block(block.id)
        return lifted

    async def unblock_id(self, block_id: str) -> Block | None:
        """Lift one block from the ``/blocks`` list by its id (or the id's last 6 signs)."""
        for block in await self._store.active_blocks(self._clock.now()):
            if block_id and (block.id == block_id or block.id.endswith(block_id)):
                await self._store.remove_block(block.id)
                return block
        return None

    async def blocks(self) -> list[Block]:
        return await self._store.active_blocks(self._clock.now())

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
        now = self._clock.now()
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
            external_id=original_external_id, created_at=self._clock.now(),
        ))

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
        queued = [self._delivery(message, DeliveryKind.TO_PATRON, conversation.origin)]
        stored, created = await self._store.append(message, queued)
        if created:
            self._on_enqueue(queued)
        return stored

    async def stats(self, start: float, end: float) -> DayStats:
        """``/stats`` for conversations opened in ``[start, end)``."""
        return day_stats(await self._store.conversations_since(start), start, end)

    async def _link_reply(self, message: Message) -> None:
        if message.external_id:
            await self._store.save_link(
                Link(DESK_LINK, message.external_id, message.conversation_id, message.id))
