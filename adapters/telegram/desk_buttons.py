"""The info card's buttons: Claim, Close, Verify, Block (callback queries).

Every press is answered (answerCallbackQuery), or the librarian's app shows a spinner.
A press from outside the desk group, or by someone who is not a member of it (a public
group can be read, and its buttons pressed, by anyone), changes nothing.
"""

from __future__ import annotations

import logging

from telegram import CallbackQuery, ChatMemberRestricted
from telegram.error import BadRequest

from adapters.telegram import render
from adapters.telegram.commands import DeskCommands
from adapters.telegram.desk_base import card_markup
from routing.blocks import parse_duration
from routing.model import Conversation
from routing.ports import DeskCard

__all__ = ["DeskButtons"]

log = logging.getLogger(__name__)

_NOT_MEMBERS = ("left", "kicked")


class DeskButtons:
    def __init__(self, commands: DeskCommands) -> None:
        self._c = commands

    async def handle(self, query: CallbackQuery) -> None:
        answer = ""
        try:
            answer = await self._handle(query)
        finally:
            try:
                await self._c.bot.answer_callback_query(query.id, text=answer[:200] or None,
                                                        show_alert=len(answer) > 60 or None)
            except BadRequest as exc:  # too old: the app has given up waiting
                log.info("callback %s could not be answered: %s", query.id, exc.message)

    async def _handle(self, query: CallbackQuery) -> str:
        message = query.message
        target = self._c.target
        if message is None or message.chat.id != target.chat_id:
            log.info("ignored a button press from chat %s: not the desk group",
                     message.chat.id if message else None)
            return ""
        parsed = render.parse_button(query.data)
        if parsed is None:
            return ""
        if not await self._is_member(query.from_user.id):
            log.info("ignored a button press by %s: not a member of the desk group",
                     query.from_user.id)
            return "Only librarians of this desk can use these buttons."
        action, cid = parsed
        conversation = await self._c.store.get_conversation(cid)
        if conversation is None:
            return "This conversation is gone."
        card = await self._c.store.desk_card(cid)  # the card may have moved: keep its tail
        await self._c.store.save_desk_card(
            cid, DeskCard(message.message_id, card.tail if card is not None else None))
        await self._c.seen(query.from_user)
        return await self._act(action, conversation, query)

    async def _is_member(self, user_id: int) -> bool:
        member = await self._c.bot.get_chat_member(self._c.target.chat_id, user_id)
        if isinstance(member, ChatMemberRestricted):
            return member.is_member
        return member.status not in _NOT_MEMBERS

    async def _act(self, action: str, conversation: Conversation, query: CallbackQuery) -> str:
        who_id, who = str(query.from_user.id), query.from_user.full_name
        router = self._c.router
        if action == "claim":
            result = await router.claims.claim(conversation.id, who_id, who)
            await self._refresh(query, conversation.id)
            if result is None:
                return ""
            return {"claimed": "It is yours now.", "yours": "It is already yours.",
                    "held": f"{result.holder} has it; send /takeover to take it over.",
                    "closed": "This conversation is closed."}[result.outcome]
        if action == "close":
            closed = await router.claims.close(conversation.id, who_id, who)
            await self._refresh(query, conversation.id)
            return "Closed; the patron is asked for a rating." if closed else "Already closed."
        if action == "verify":
            return "Send /verify followed by the member number in this topic."
        if action in ("block", "card"):
            await self._refresh(query, conversation.id, choosing_block=action == "block")
            return "How long? Tap again to block." if action == "block" else ""
        seconds = parse_duration(action.removeprefix("b-"))
        made = await router.moderation.block(conversation.id, seconds, who)
        await self._refresh(query, conversation.id)
        if made:
            await router.records.notify_desk(
                conversation.id, f"{who} blocked this patron ({action.removeprefix('b-')}). "
                "/unblock lifts it.", event="desk_answer")
        return "Blocked." if made else "Nothing to block: this patron left no address."

    async def _refresh(self, query: CallbackQuery, cid: str, choosing_block: bool = False
                       ) -> None:
        """Show the card's buttons as things stand now (who has it, closed)."""
        conversation = await self._c.store.get_conversation(cid)
        if conversation is None or query.message is None:
            return
        try:
            await self._c.bot.edit_message_reply_markup(
                self._c.target.chat_id, query.message.message_id,
                reply_markup=card_markup(conversation, choosing_block=choosing_block))
        except BadRequest as exc:
            if "not modified" not in exc.message.lower():
                log.info("could not update the card of %s: %s", cid, exc.message)
