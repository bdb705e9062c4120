"""Moderation: blocking a conversation's patron, lifting blocks, listing them.

A block names the ways a patron reached us (and, when asked, their address or range);
intake (``PatronIntake.is_blocked``) checks a new message against the same keys.
"""

from __future__ import annotations

from routing.blocks import block_targets
from routing.conversation_log import ConversationLog
from routing.model import Block, BlockKind, Conversation, Patron, new_id

__all__ = ["Moderation"]

_EVERY_NETWORK = frozenset({BlockKind.IP, BlockKind.RANGE})


class Moderation:
    """``/block``, ``/unblock``, ``/blocks``, and whether a conversation's patron is blocked."""

    def __init__(self, log: ConversationLog) -> None:
        self._log = log
        self._store = log.store

    async def block(
        self, conversation_id: str, seconds: float | None, by: str,
        networks: frozenset[BlockKind] = frozenset(),
    ) -> list[Block]:
        """Block this conversation's patron (the ways they reached us) for ``seconds``
        (None: forever), and its IP address or range only when ``networks`` asks."""
        found = await self._with_patron(conversation_id)
        if found is None:
            return []
        conversation, patron = found
        now = self._log.clock.now()
        until = None if seconds is None else now + seconds
        made = [Block(new_id(), kind, value, until, by, conversation_id, now)
                for kind, value in block_targets(patron, conversation, networks)]
        for block in made:
            await self._store.save_block(block)
        return made

    async def conversation_blocked(self, conversation_id: str) -> bool:
        """Whether this conversation's patron is blocked now (by any key a new message of
        theirs would be checked against): the desk is not reminded of them."""
        found = await self._with_patron(conversation_id)
        if found is None:
            return False
        keys = block_targets(found[1], found[0], _EVERY_NETWORK)
        return await self._store.find_block(keys, self._log.clock.now()) is not None

    async def unblock(self, conversation_id: str) -> list[Block]:
        """Lift every block on this conversation's patron, and on its address and range."""
        found = await self._with_patron(conversation_id)
        if found is None:
            return []
        targets = set(block_targets(found[1], found[0], _EVERY_NETWORK))
        lifted = [b for b in await self.blocks()
                  if (b.kind, b.value) in targets or b.conversation_id == conversation_id]
        for block in lifted:
            await self._store.remove_block(block.id)
        return lifted

    async def unblock_id(self, block_id: str) -> Block | None:
        """Lift one block from the ``/blocks`` list by its id (or the id's last 6 signs)."""
        for block in await self.blocks():
            if block_id and (block.id == block_id or block.id.endswith(block_id)):
                await self._store.remove_block(block.id)
                return block
        return None

    async def blocks(self) -> list[Block]:
        """The blocks in force now."""
        return await self._store.active_blocks(self._log.clock.now())

    async def _with_patron(self, conversation_id: str) -> tuple[Conversation, Patron] | None:
        conversation = await self._store.get_conversation(conversation_id)
        if conversation is None:
            return None
        patron = await self._store.get_patron(conversation.patron_id)
        return None if patron is None else (conversation, patron)
