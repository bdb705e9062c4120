"""What a widget can ask of the bridge, whatever transport carries it.

Each step takes a checked frame and a ``Session`` and returns the answer frame; the
WebSocket and the HTTP fallback in server.py only carry them. Refusals are
``FrameError``s with the codes of PROTOCOL.md.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from aiohttp import web

from adapters.i18n import Catalog, pick_language
from adapters.widget.availability import AvailabilitySource, always_staffed
from adapters.widget.frames import FrameError, client_id, offline_question, rating
from adapters.widget.hub import WidgetHub
from adapters.widget.identity import VisitorIdentity
from adapters.widget.newcomers import Newcomers
from adapters.widget.prechat import PrechatAnswers, PrechatRules, prechat_answers
from adapters.widget.profile import ProfileSteps
from adapters.widget.render import history_json, message_json
from adapters.widget.session import Session, Sessions
from adapters.widget.settings import WidgetSettings
from adapters.widget.system_lines import worded
from adapters.widget.tokens import VisitorTokens
from routing.model import (
    Attachment,
    Channel,
    Contact,
    Conversation,
    Inbound,
    PageInfo,
    Patron,
    Status,
)
from routing.router import Accepted, Refused, Router

if TYPE_CHECKING:
    from adapters.widget.queue_view import QueueWatch

__all__ = [
    "OfflineHook",
    "PatronSteps",
    "Session",
    "WidgetSettings",
    "conversation_json",
    "no_offline_hook",
]

log = logging.getLogger(__name__)

OfflineHook = Callable[[Patron, Conversation], Awaitable[None]]
_NO_HISTORY = "~"  # sorts after every message id: patron_view then reads no messages
_PICKED = 512  # distinct language tags whose pick is remembered (a flood cannot grow it)


async def no_offline_hook(patron: Patron, conversation: Conversation) -> None:
    return None


def conversation_json(conversation: Conversation | None) -> dict[str, Any] | None:
    if conversation is None:
        return None
    return {"id": conversation.id, "status": conversation.status.value,
            "claimed_by": conversation.claimed_by, "rating": conversation.rating,
            "after_hours": conversation.after_hours}


class PatronSteps:
    def __init__(
        self,
        router: Router,
        hub: WidgetHub,
        tokens: VisitorTokens,
        settings: WidgetSettings,
        *,
        availability: AvailabilitySource = always_staffed,
        on_offline_question: OfflineHook = no_offline_hook,
        queue: QueueWatch | None = None,
        identity: VisitorIdentity | None = None,
        profiles: ProfileSteps | None = None,
        texts: Catalog | None = None,
    ) -> None:
        self._router = router
        self._hub = hub
        self._tokens = tokens
        self.identity = identity or VisitorIdentity(tokens)
        self._profiles = profiles or ProfileSteps(router)
        self._settings = settings
        self._availability = availability
        self._on_offline_question = on_offline_question
        self._queue = queue
        self._texts = texts or Catalog.bundled()
        self._prechat_rules = PrechatRules.of(settings.prechat)
        self._picked: dict[str, str] = {}  # a page's language tag -> the library's language
        self._newcomers = Newcomers(settings.new_visitors_per_ip_hour,
                                    settings.new_conversations_per_ip_hour)
        # Each hello and HTTP call is a new Session; the visitor's budget outlives them.
        self.sessions = Sessions(self.identity, settings.messages_per_minute)

    def availability(self) -> dict[str, Any]:
        return self._availability().public()

    async def hello(self, frame: dict[str, Any], page: PageInfo) -> tuple[dict[str, Any], Session]:
        """``lang`` (the widget's chosen language, a BCP 47 tag) becomes one of the
        library's languages or "" on the session's page: the router keeps it on the
        patron and the conversation, and system lines in history are worded in it."""
        page = self._with_language(page)
        token = frame.get("token")
        fresh = token is None or token == ""
        if fresh:
            self._newcomers.admit_visitor(page.ip)
            visitor, token = self.identity.issue()
            generation = 0
            # Minted just now: the store need not read to learn that nobody has it.
            self._router.intake.new_contact(Contact(Channel.WIDGET, visitor))
        else:
            verified = await self.identity.verify(token)
            if verified is None:
                raise FrameError("bad_token", "This chat token is not valid; start a new chat.")
            visitor, generation = verified
        session = self.sessions.new(visitor, page, generation)
        if self._hub.presence is not None:
            self._hub.presence.arrive(visitor, page, frame.get("referrer"))
        welcome: dict[str, Any] = {"type": "welcome", "token": token, "visitor": visitor}
        if fresh:  # minted in this call: no patron, so no conversation and no history yet
            welcome.update(conversation=None, history=[], availability=self.availability(),
                           queue=None)
        else:
            welcome.update(await self._returning(session, frame.get("since")))
        return welcome, session

    async def _returning(self, session: Session, since: Any) -> dict[str, Any]:
        """A known visitor's part of the welcome: their conversation and what is new in it."""
        after = since[:40] if isinstance(since, str) else ""
        conversation, history = await self._router.intake.patron_view(session.contact,
                                                                      after=after)
        if conversation is not None and conversation.status is Status.OPEN:
            self._newcomers.talking(session.visitor)
        language = session.page.language
        return {"conversation": conversation_json(conversation),
                "history": [worded(m, language, self._texts)
                            for m in history_json(history, session.visitor, self._tokens)],
                "availability": self.availability(),
                "queue": self.queue_for(conversation, session.visitor)}

    def _with_language(self, page: PageInfo) -> PageInfo:
        """The page with its language one of the library's (or ""); the same page when it
        already is. The pick is remembered per tag: browsers send a handful of them."""
        picked = self._picked.get(page.language)
        if picked is None:
            picked = pick_language([page.language], self._texts.codes, "")
            if len(self._picked) < _PICKED:
                self._picked[page.language] = picked
        return page if picked == page.language else replace(page, language=picked)

    def page(self, session: Session, frame: dict[str, Any]) -> None:
        """A ``page`` frame: the visitor opened another page; nothing is answered."""
        raw = frame.get("page")
        page: dict[str, Any] = raw if isinstance(raw, dict) else {}
        url, title = page.get("url"), page.get("title")
        session.page = replace(session.page, url=url[:500] if isinstance(url, str) else "",
                               title=title[:200] if isinstance(title, str) else "")
        if self._hub.presence is not None:
            self._hub.presence.moved(session.visitor, session.page.url, session.page.title)

    async def send(
        self, session: Session, frame: dict[str, Any], ws: web.WebSocketResponse | None,
        attachments: Sequence[Attachment] = (), *, paid: bool = False,
    ) -> dict[str, Any]:
        """A patron message: text, or files (an upload) with an optional caption;
        ``paid`` when ``spend_rate`` already took its budget."""
        cid, text = client_id(frame), frame.get("text", "" if attachments or paid else None)
        if not isinstance(text, str):
            raise FrameError("bad_frame", "'text' must be a string.")
        answers = self._answers(frame.get("prechat"))
        self.sessions.check_current(session)
        if not paid:
            self.sessions.budgets.take(session)
        profile = None if answers is None else await self._profiles.prechat(
            session.contact, answers, session.page.language)
        inbound = Inbound(Channel.WIDGET, session.visitor, text, client_id=cid,
                          page=session.page, attachments=tuple(attachments),
                          topic=answers.topic if answers else "")
        accepted = await self._accept(inbound)
        stored = message_json(accepted.message, session.visitor, self._tokens)
        if not accepted.duplicate:  # the patron's other tabs show it too
            await self._hub.publish(session.visitor, {"type": "message", "message": stored},
                                    exclude=ws)
            self._poke_queue(accepted.conversation, session.visitor)
        ack = {"type": "ack", "cid": cid, "message": stored}
        return ack if profile is None else {**ack, "profile": profile}

    def _answers(self, raw: Any, **given: str) -> PrechatAnswers | None:
        """A frame's pre-chat answers (None when it carries none), with ``given`` (the
        offline form's own name and email), checked against the library's form."""
        if raw is None:
            return None
        if not isinstance(raw, dict):
            raise FrameError("bad_frame", "'prechat' must be an object.")
        return prechat_answers({**raw, **given}, self._prechat_rules,
                               email_required=self._settings.email_answers)

    async def profile(self, session: Session, frame: dict[str, Any]) -> dict[str, Any]:
        self.sessions.check_current(session)
        return await self._profiles.profile(session.contact, frame, session.page.language)

    async def confirm_email(self, session: Session, frame: dict[str, Any]) -> dict[str, Any]:
        self.sessions.check_current(session)
        self.sessions.budgets.take(session)
        return await self._profiles.confirm(session.contact, frame)

    async def offline(
        self, session: Session, frame: dict[str, Any], ws: web.WebSocketResponse | None
    ) -> dict[str, Any]:
        """The offline form: a conversation the desk answers later, by email (when the
        library sends mail) and here. Only while nobody is at the desk: otherwise the
        patron writes in the chat, and no form makes the library mail anyone."""
        self.sessions.check_current(session)
        if self._availability().staffed:
            raise FrameError("desk_open", "Someone is at the desk now: write in the chat.")
        rules = self._prechat_rules
        question = offline_question(
            frame, name_required=rules.needs("name"),
            email_required=self._settings.email_answers and rules.needs("email"))
        answers = self._answers(frame.get("prechat", {}), name=question.name,
                                email=question.email)
        self.sessions.budgets.take(session)
        await self._router.intake.identify(session.contact, name=question.name,
                                           email=question.email,
                                           member_number=answers.member_number if answers else "")
        accepted = await self._accept(Inbound(
            Channel.WIDGET, session.visitor, question.text, client_id=question.cid,
            name=question.name, email=question.email, page=session.page,
            topic=answers.topic if answers else ""))
        stored = message_json(accepted.message, session.visitor, self._tokens)
        if not accepted.duplicate:
            await self._hub.publish(session.visitor, {"type": "message", "message": stored},
                                    exclude=ws)
            self._poke_queue(accepted.conversation, session.visitor)
            try:
                await self._on_offline_question(accepted.patron, accepted.conversation)
            except Exception:  # the question is stored; a failed acknowledgement is not its loss
                log.exception("offline question hook failed for %s", accepted.conversation.id)
        return {"type": "offline_saved", "cid": question.cid, "message": stored,
                "conversation": conversation_json(accepted.conversation),
                "email": question.email}

    async def rate(self, session: Session, frame: dict[str, Any]) -> dict[str, Any]:
        """A rating for the visitor's own current conversation, and no one else's."""
        wanted = rating(frame)
        self.sessions.check_current(session)
        self.sessions.budgets.take(session)
        conversation, _ = await self._router.intake.patron_view(session.contact, after=_NO_HISTORY)
        if conversation is None or wanted.conversation_id not in ("", conversation.id):
            raise FrameError("not_yours", "You can only rate your own conversation.")
        if not await self._router.claims.rate(conversation.id, wanted.score, wanted.comment):
            raise FrameError("rating_refused", "This conversation cannot be rated now.")
        answer: dict[str, Any] = {"type": "rated", "conversation": conversation.id,
                                  "score": wanted.score}
        if isinstance(frame.get("cid"), str):
            answer["cid"] = frame["cid"][:64]
        return answer

    async def resume(self, body: dict[str, Any]) -> dict[str, Any]:
        """Exchange an email link's resume token for a new token of the visitor it names:
        from now on only this browser reads and writes that conversation, so every other
        socket and long-poll of the visitor is closed."""
        resumed = await self.identity.resume(body.get("resume"))
        if resumed is None:
            raise FrameError("bad_resume",
                             "This link has expired or is not valid. You can still write to us.")
        visitor, token = resumed
        await self._hub.disconnect(visitor)
        return {"type": "resumed", "token": token, "visitor": visitor}

    def queue_for(self, conversation: Conversation | None, visitor: str) -> dict[str, Any] | None:
        """The visitor's place in the queue as last read, or None (not waiting, no queue)."""
        return None if self._queue is None else self._queue.frame_for(conversation, visitor)

    def _poke_queue(self, conversation: Conversation, visitor: str) -> None:
        if self._queue is not None:  # the visitor's conversation joins the line's end
            self._queue.wrote(conversation, visitor)

    async def _accept(self, inbound: Inbound) -> Accepted:
        """The router's accept, once the visitor's network may open the conversation
        the message would open (see newcomers.py)."""
        contact = Contact(inbound.channel, inbound.address)
        ip = inbound.page.ip if inbound.page is not None else ""
        await self._newcomers.admit_message(contact, ip, self._current)
        try:
            return await self._router.intake.accept(inbound)
        except Refused as exc:
            raise FrameError(exc.code, exc.reason) from None

    async def _current(self, contact: Contact) -> Conversation | None:
        conversation, _ = await self._router.intake.patron_view(contact, after=_NO_HISTORY)
        return conversation
