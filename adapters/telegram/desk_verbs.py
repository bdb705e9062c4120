"""The commands that act on one conversation, sent in its topic: /claim, /takeover,
/transfer, /close, /note, /history, /tag, /r, /verify, /block, /delete.

A mixin of ``DeskCommands`` (commands.py), which supplies the bot, store, router and
``say``; kept apart so each file stays small.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from telegram import Bot
from telegram.constants import ParseMode
from telegram.error import BadRequest

from adapters.directory.member import (
    DirectoryUnavailable,
    InvalidMemberNumber,
    Member,
    normalize_number,
)
from adapters.telegram import desk_reports as reports
from adapters.telegram import render
from adapters.telegram.card_lines import member_status
from adapters.telegram.desk_base import DeskStore, card_markup
from routing.blocks import DURATION_HELP, NETWORK_WORDS, BadDuration, parse_duration
from routing.model import Conversation, DeskReply
from routing.ports import Clock
from routing.report_roles import BadReference, parse_reference
from routing.router import Claimed, Router

if TYPE_CHECKING:
    from adapters.telegram.desk_asked import Asked, DeskHooks, DeskSettings
    from adapters.telegram.desk_base import DeskTarget

__all__ = ["ConversationVerbs"]

log = logging.getLogger(__name__)

Verb = Callable[["Asked", Conversation, str], Awaitable[None]]


class ConversationVerbs:
    bot: Bot
    store: DeskStore
    router: Router
    target: DeskTarget
    settings: DeskSettings
    hooks: DeskHooks
    clock: Clock

    async def say(self, asked: Asked, text: str) -> None:
        raise NotImplementedError

    @property
    def verbs(self) -> dict[str, Verb]:
        return {
            "claim": self.claim, "takeover": self.takeover, "transfer": self.transfer,
            "close": self.close, "note": self.note, "history": self.history,
            "tag": self.tag, "r": self.canned, "verify": self.verify, "block": self.block,
            "delete": self.delete,
        }

    async def claim(self, asked: Asked, conversation: Conversation, argument: str) -> None:
        result = await self.router.claims.claim(conversation.id, asked.librarian_id, asked.name)
        if result is not None and result.outcome != "claimed":
            await self.say(asked, {"yours": "It is already yours.",
                                   "held": f"{result.holder} has it; /takeover takes it over.",
                                   "closed": "This conversation is closed."}[result.outcome])

    async def takeover(self, asked: Asked, conversation: Conversation, argument: str) -> None:
        result = await self.router.claims.takeover(conversation.id, asked.librarian_id, asked.name)
        if result is not None and result.outcome == "yours":
            await self.say(asked, "It is already yours.")

    async def transfer(self, asked: Asked, conversation: Conversation, argument: str) -> None:
        to = asked.mention
        if to is None:
            librarian = await self.store.librarian_by_username(argument.split(" ")[0])
            to = (librarian.id, librarian.name) if librarian else None
        if to is None:
            await self.say(asked, "Whom to? Send /transfer @username of a librarian who has "
                           "written in this group.")
            return
        result = await self.router.claims.transfer(conversation.id, asked.librarian_id, asked.name,
                                            to[0], to[1])
        if result is None:
            return
        if result.outcome == "yours":
            await self.say(asked, f"{result.holder} already has this conversation.")
        elif result.outcome == "held":
            await self.say(asked, f"{result.holder} has this conversation; only they can "
                           "transfer it. Send /takeover to take it over first.")

    async def close(self, asked: Asked, conversation: Conversation, argument: str) -> None:
        """``/close``, or ``/close reference 3``: the question's kind and READ effort."""
        try:
            mark = parse_reference(argument, self.settings.question_kinds)
        except BadReference as exc:
            await self.say(asked, str(exc))
            return
        if await self.router.claims.close(conversation.id, asked.librarian_id, asked.name,
                                          mark) is None:
            await self.say(asked, "This conversation is already closed.")

    async def note(self, asked: Asked, conversation: Conversation, argument: str) -> None:
        """Kept silently: the note is already in the topic for everyone to read."""
        if not argument:
            await self.say(asked, "Send /note followed by the note.")
            return
        await self.router.records.note(conversation.id, asked.name, argument, str(asked.message_id))

    async def history(self, asked: Asked, conversation: Conversation, argument: str) -> None:
        earlier = await self.router.records.history(conversation.id)
        await self.say(asked, reports.history_text(earlier, self.settings.timezone))

    async def tag(self, asked: Asked, conversation: Conversation, argument: str) -> None:
        tagged = await self.router.records.tag(conversation.id, argument)
        await self.say(asked, f"Tags: #{' #'.join(tagged.tags)}" if tagged
                       else "Send /tag followed by a name, e.g. /tag interlibrary_loan")

    async def canned(self, asked: Asked, conversation: Conversation, argument: str) -> None:
        key = argument.split(" ")[0].lower() if argument else ""
        text = self.settings.canned.get(key) if key else None
        if text is None:
            prefix = f"No canned reply “{key}”. " if key else ""
            await self.say(asked, prefix + reports.canned_list(self.settings.canned))
            return
        try:
            await self.router.desk.reply(DeskReply(conversation.id, asked.librarian_id, asked.name,
                                              text, external_id=str(asked.message_id)))
        except Claimed as claimed:
            await self.say(asked, f"{claimed.holder_name} has this conversation; the canned "
                           "reply was not sent. Send /takeover to take it over.")
            return
        await self.say(asked, f"Sent “{key}”: {text}")

    async def delete(self, asked: Asked, conversation: Conversation, argument: str) -> None:
        """Sent as a reply to one's answer: take it back from the patron. Telegram tells a
        bot nothing when a message is deleted, so this is how a librarian withdraws one."""
        if asked.reply_to is None:
            await self.say(asked, "Reply to your answer with /delete to withdraw it from "
                           "the patron.")
            return
        withdrawn = await self.router.desk.withdraw(conversation.id, str(asked.reply_to),
                                                    asked.name)
        if withdrawn is None:
            await self.say(asked, "Only an answer sent to the patron can be withdrawn.")
            return
        where = {"email": "An email cannot be unsent: the patron may already have read it.",
                 "telegram": "It is deleted from the patron's chat.",
                 "widget": "The patron's chat window shows it as withdrawn."}
        await self.say(asked, f"Withdrawn. {where.get(conversation.origin.value, '')}".strip())

    async def block(self, asked: Asked, conversation: Conversation, argument: str) -> None:
        """``/block 1d`` blocks the patron; ``ip`` or ``range`` after the time also blocks
        the address they wrote from or its /24 (/64), only when asked: one address may
        be a whole school."""
        words = argument.lower().split()
        try:
            seconds = parse_duration(words[0]) if words else None
        except BadDuration as exc:
            await self.say(asked, str(exc))
            return
        unknown = [w for w in words[1:] if w not in NETWORK_WORDS]
        if not words or unknown:
            said = f"“{' '.join(unknown)}” is not ip or range. " if unknown else ""
            await self.say(asked, f"{said}Send /block with a time ({DURATION_HELP}), and "
                           "“ip” or “range” after it only to block their address too.")
            return
        networks = frozenset(NETWORK_WORDS[w] for w in words[1:])
        made = await self.router.moderation.block(conversation.id, seconds, asked.name, networks)
        if not made:
            await self.say(asked, "Nothing to block: this patron left no address.")
            return
        what = ", ".join(f"{b.kind.value} {b.value}" for b in made)
        missing = [w for w in sorted(networks) if w not in {b.kind for b in made}]
        note = (f" No {' or '.join(k.value for k in missing)} is known for this patron."
                if missing else "")
        await self.say(asked, f"Blocked {what} for {words[0]}.{note} /unblock lifts it.")

    async def verify(self, asked: Asked, conversation: Conversation, argument: str) -> None:
        """``/verify 12345``; ``/verify`` alone checks the number the patron typed."""
        if not argument:
            patron = await self.store.get_patron(conversation.patron_id)
            argument = patron.member_number if patron is not None else ""
        try:
            number = normalize_number(argument.split(" ")[0] if argument else "")
            member = await self.hooks.verify(number)
        except InvalidMemberNumber as exc:
            await self.say(asked, str(exc))
            return
        except DirectoryUnavailable as exc:
            await self.say(asked, f"The member directory cannot answer now: {exc}")
            return
        if member is None:
            await self.say(asked, f"No member {number} in the directory.")
            return
        today = dt.datetime.fromtimestamp(self.clock.now(),
                                          reports.zone(self.settings.timezone)).date()
        status = member_status(member, today)
        await self._show_member(conversation, member, status)
        await self.say(asked, status)

    async def _show_member(self, conversation: Conversation, member: Member, status: str
                           ) -> None:
        """Keep the number on the patron and show the standing on the info card
        (librarians only). The card is rewritten with what followed it in its post (the
        patron's first question); a card whose follower is not known is left as it is,
        the answer in the topic is enough, rather than risk erasing the question."""
        # Saved by the router under the patron's locks: an address the patron gives
        # meanwhile is kept, not overwritten by the patron as read before it.
        patron = await self.router.records.remember_member(conversation.id, member.number)
        if patron is None:
            return
        card = await self.store.desk_card(conversation.id)
        if card is None or card.tail is None:
            return
        text = render.info_card(patron, conversation, forum=self.target.forum,
                                origins=self.target.origins, member=status) + card.tail
        try:
            await self.bot.edit_message_text(
                text, self.target.chat_id, card.message_id, parse_mode=ParseMode.HTML,
                reply_markup=card_markup(conversation), disable_web_page_preview=True)
        except BadRequest as exc:  # the card is gone or too old: the topic line is enough
            log.info("could not update the card of %s: %s", conversation.id, exc.message)
