"""A librarian greets a visitor who has not written: a conversation the desk starts.

``/greet v-7f3a Hello!`` opens a conversation for the visitor with the librarian's
words as its first message, claimed by that librarian; its topic opens at the desk
through the outbox like every other. One greeting a visitor a day, unless they answered
it: a library should not chase a patron around its pages.
"""

from __future__ import annotations

from dataclasses import dataclass

from routing.blocks import inbound_keys
from routing.conversation_log import ConversationLog, Refused, delivery
from routing.model import (
    Channel,
    Contact,
    Conversation,
    DeliveryKind,
    Direction,
    Inbound,
    Message,
    PageInfo,
    Patron,
    Status,
    new_id,
)
from routing.plain import plain_line

__all__ = ["GREETED_TAG", "GREETING_EVENT", "Greeting", "Greetings"]

GREETING_EVENT = "greeting"  # the librarian's first message, pushed as a `greet` frame
GREETED_TAG = "greeted"  # on a conversation the desk started
DAY = 86400.0
_MAX_TEXT = 4000


@dataclass(frozen=True, slots=True)
class Greeting:
    contact: Contact  # the visitor's widget contact
    page: PageInfo  # where they are (the info card shows it)
    librarian_id: str
    librarian_name: str
    text: str
    label: str = ""  # the desk's name for the visitor ("v-7f3a"), for the topic's line
    external_id: str = ""  # the /greet command's desk message id: a redelivery is one greeting


class Greetings:
    def __init__(self, log: ConversationLog) -> None:
        self._log = log
        self._store = log.store

    async def greet(self, greeting: Greeting) -> tuple[Conversation, Message]:
        """Open (or, after a day unanswered, continue) the visitor's greeted
        conversation and queue the greeting to their widget and a line to its topic.
        Raises ``Refused`` (empty, too_long, blocked, in_conversation, greeted_today)."""
        text = _checked(greeting.text)
        now = self._log.clock.now()
        async with self._log.lock(greeting.contact):
            patron = await self._patron(greeting.contact)
            inbound = Inbound(Channel.WIDGET, greeting.contact.address, "", page=greeting.page)
            if await self._store.find_block(inbound_keys(inbound, patron), now) is not None:
                raise Refused("blocked", "This visitor is blocked; /blocks lists the blocks.")
            latest = await self._store.latest_conversation(patron.id)
            conversation = await self._conversation_for(patron, latest, greeting, now)
        message = Message(
            id=new_id(), conversation_id=conversation.id, direction=Direction.LIBRARIAN,
            text=text, author=greeting.librarian_name, event=GREETING_EVENT,
            client_id=f"greet:{greeting.external_id}" if greeting.external_id else "",
            external_id=greeting.external_id, created_at=now)
        stored, _ = await self._log.write(
            message, [delivery(message, DeliveryKind.TO_PATRON, Channel.WIDGET)])
        who = f" {greeting.label}" if greeting.label else ""
        await self._log.notice(conversation.id, f"{plain_line(greeting.librarian_name)} "
                               f"greeted visitor{who}: {text}", event=GREETING_EVENT)
        return conversation, stored

    async def _patron(self, contact: Contact) -> Patron:
        patron = await self._store.patron_by_contact(contact)
        if patron is None:
            patron = Patron(new_id(), contacts=(contact,), created_at=self._log.clock.now())
            await self._store.save_patron(patron)
        return patron

    async def _conversation_for(
        self, patron: Patron, latest: Conversation | None, greeting: Greeting, now: float,
    ) -> Conversation:
        """A new conversation, or the visitor's unanswered greeted one after a day."""
        unanswered = latest is not None and GREETED_TAG in latest.tags and \
            not await self._answered(latest)
        if latest is not None and unanswered and now - latest.created_at < DAY:
            raise Refused("greeted_today", "This visitor was greeted less than a day ago "
                          "and has not answered; one greeting a day.")
        if latest is not None and latest.status is Status.OPEN:
            if unanswered:
                return latest
            raise Refused("in_conversation", "This visitor already has an open "
                          "conversation; answer in its topic.")
        conversation = Conversation(
            id=new_id(), patron_id=patron.id, origin=Channel.WIDGET, page=greeting.page,
            claimed_by=greeting.librarian_name, claimed_by_id=greeting.librarian_id,
            first_response_at=now, created_at=now, updated_at=now, tags=(GREETED_TAG,))
        await self._store.save_conversation(conversation)
        return conversation

    async def _answered(self, conversation: Conversation) -> bool:
        after = ""
        while page := await self._store.history(conversation.id, after=after, limit=200):
            if any(m.direction is Direction.PATRON for m in page):
                return True
            after = page[-1].id
        return False


def _checked(text: str) -> str:
    text = text.replace("\r\n", "\n").strip()
    if not text:
        raise Refused("empty", "Write the greeting after the visitor: /greet v-7f3a Hello!")
    if len(text) > _MAX_TEXT:
        raise Refused("too_long", f"The greeting is {len(text)} characters; the limit is "
                      f"{_MAX_TEXT}.")
    return text
