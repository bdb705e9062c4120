"""The librarians' commands in the desk group: /claim, /close, /note, /block, /stats ...

``DeskPoller`` hands every command from the configured group here (anything from another
chat never arrives: the poller drops and logs it). Answers about a conversation go into
its topic through the outbox (a DESK_NOTICE), so Telegram's flood limits apply to them
as to everything else; answers elsewhere (General, /stats) are one call made through the
outbox's ``spend`` (``BudgetedCalls``), in the same windows, so they never push the
group past its limit.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Awaitable, Callable

from telegram import Bot, User
from telegram.constants import ParseMode
from telegram.error import TelegramError

from adapters.telegram import desk_reports as reports
from adapters.telegram.desk_asked import Asked, DeskHooks, DeskSettings
from adapters.telegram.desk_base import DeskStore, DeskTarget
from adapters.telegram.desk_sender import desk_keys, telegram_failure
from adapters.telegram.desk_verbs import ConversationVerbs
from adapters.telegram.desk_visitors import VisitorsDesk
from routing.model import Conversation
from routing.ports import (
    BudgetedCalls,
    Clock,
    PermanentFailure,
    SystemClock,
    TemporaryFailure,
)
from routing.router import Claimed, Router

__all__ = ["Asked", "DeskCommands", "DeskHooks", "DeskSettings"]

log = logging.getLogger(__name__)


class DeskCommands(ConversationVerbs):
    def __init__(
        self, bot: Bot, store: DeskStore, router: Router, target: DeskTarget,
        settings: DeskSettings | None = None, hooks: DeskHooks | None = None,
        clock: Clock | None = None, calls: BudgetedCalls | None = None,
    ) -> None:
        self.bot, self.store, self.router, self.target = bot, store, router, target
        # The outbox: answers outside a topic wait in its windows (none: unbudgeted, tests).
        self.calls = calls
        self.settings = settings or DeskSettings()
        self.hooks = hooks or DeskHooks()
        self.clock = clock or SystemClock()
        self._seen: dict[str, tuple[str, str]] = {}
        self._anywhere: dict[str, Callable[[Asked, str], Awaitable[None]]] = {
            "blocks": self.blocks, "who": self.who, "stats": self.stats,
            "onduty": self.onduty, "offduty": self.offduty, "help": self.help,
            "start": self.help, "unblock": self.unblock,
            "visitors": self.visitors, "greet": self.greet,
        }
        self._visitors = VisitorsDesk(self.hooks.presence, store, router)

    async def command(self, asked: Asked, text: str) -> None:
        """Run one command; an unknown one or one out of place gets a short answer."""
        name, argument = _split(text, self._bot_username())
        if name is None:
            return  # addressed to another bot
        verb = self.verbs.get(name)
        if verb is not None and asked.conversation is not None:
            await verb(asked, asked.conversation, argument)
        elif name in self._anywhere:
            await self._anywhere[name](asked, argument)
        elif verb is not None:
            await self.say(asked, f"/{name} works in a conversation's topic.")
        else:
            await self.say(asked, f"Unknown command /{name}. Send /help for the list.")

    async def say(self, asked: Asked, text: str) -> None:
        """Answer a command: in a conversation's topic through the outbox, elsewhere (General,
        a topic that is no conversation's) by one call made within the outbox's budget."""
        if asked.conversation is not None:
            await self.router.records.notify_desk(asked.conversation.id, text, event="desk_answer")
            return

        async def post() -> None:
            try:
                await self.bot.send_message(
                    self.target.chat_id, html.escape(text), parse_mode=ParseMode.HTML,
                    message_thread_id=asked.thread if self.target.forum else None)
            except TelegramError as exc:
                raise telegram_failure(exc) from exc

        try:
            if self.calls is None:
                await post()
            else:
                await self.calls.spend(desk_keys(self.target.chat_id), post)
        except (TemporaryFailure, PermanentFailure) as failure:
            # The command itself is done; only its answer is lost, so say why in the log.
            log.warning("could not answer %s in the desk: %s", asked.librarian_id, failure)

    async def refuse_claimed(self, conversation: Conversation, claimed: Claimed) -> None:
        """A second librarian wrote in a claimed topic: nothing went to the patron."""
        await self.router.records.notify_desk(
            conversation.id,
            f"{claimed.holder_name} has this conversation; your message was not sent to "
            "the patron. Send /takeover to take it over.", event="claimed_refusal")

    async def seen(self, user: User) -> None:
        """Remember a librarian's name and username (for /transfer @name, /who)."""
        key, now = str(user.id), (user.full_name, (user.username or "").lower())
        if self._seen.get(key) == now:
            return
        await self.router.staff.librarian_seen(key, *now)
        self._seen[key] = now

    def _bot_username(self) -> str:
        try:
            return (self.bot.username or "").lower()
        except RuntimeError:  # not initialised: get_me has not run
            return ""

    # -- anywhere in the group ---------------------------------------------------------

    async def blocks(self, asked: Asked, argument: str) -> None:
        await self.say(asked, reports.blocks_text(await self.router.moderation.blocks(),
                                                  self.settings.timezone))

    async def unblock(self, asked: Asked, argument: str) -> None:
        if asked.conversation is not None and not argument:
            lifted = await self.router.moderation.unblock(asked.conversation.id)
            await self.say(asked, f"Lifted {len(lifted)} block(s) on this patron."
                           if lifted else "This patron is not blocked.")
            return
        block = await self.router.moderation.unblock_id(argument.strip())
        await self.say(asked, f"Lifted the block on {block.kind.value} {block.value}."
                       if block else "No such block; /blocks lists them with their ids.")

    async def who(self, asked: Asked, argument: str) -> None:
        on_duty = await self.store.librarians_on_duty()
        await self.say(asked, reports.who_text(asked.conversation, on_duty))

    async def stats(self, asked: Asked, argument: str) -> None:
        start, end = reports.day_bounds(self.clock.now(), self.settings.timezone)
        figures = await self.router.records.stats(start, end)
        day = f"{self.settings.timezone}"
        await self.say(asked, reports.stats_text(figures, day))

    async def visitors(self, asked: Asked, argument: str) -> None:
        await self._visitors.visitors(self.clock.now(), lambda text: self.say(asked, text))

    async def greet(self, asked: Asked, argument: str) -> None:
        await self._visitors.greet(argument, asked.librarian_id, asked.name, asked.message_id,
                                   lambda text: self.say(asked, text))

    async def onduty(self, asked: Asked, argument: str) -> None:
        await self._duty(asked, on=True)

    async def offduty(self, asked: Asked, argument: str) -> None:
        await self._duty(asked, on=False)

    async def _duty(self, asked: Asked, *, on: bool) -> None:
        await self.router.staff.librarian_duty(asked.librarian_id, asked.name, on)
        try:
            await self.hooks.on_duty(asked.librarian_id, asked.name, on)
        except Exception:  # the roster is the lead's; our record is already kept
            log.exception("on_duty hook failed for %s", asked.librarian_id)
        await self.say(asked, f"{asked.name} is {'on' if on else 'off'} duty.")

    async def help(self, asked: Asked, argument: str) -> None:
        await self.say(asked, reports.HELP)


def _split(text: str, bot_username: str) -> tuple[str | None, str]:
    """("close", "") from "/close@pustaka_bot"; None for a command to another bot."""
    head, _, rest = text.strip().partition(" ")
    if "\n" in head:
        head, _, more = head.partition("\n")
        rest = f"{more} {rest}".strip()
    name, _, addressee = head[1:].partition("@")
    if addressee and bot_username and addressee.lower() != bot_username:
        return None, ""
    return name.lower(), rest.strip()
