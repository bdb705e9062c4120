"""Reaching a widget patron: live in the widget while they are there, by email once they
have been away longer than the library allows and gave an address."""

from __future__ import annotations

from dataclasses import dataclass

from adapters.email.smtp import EmailSender, patron_email
from adapters.widget.hub import WidgetHub
from routing.model import Channel, Conversation, Delivery, Message, Patron
from routing.ports import Clock, Sender, Sent

__all__ = ["PatronReach", "visitor_of"]


def visitor_of(patron: Patron) -> str | None:
    return next((c.address for c in patron.contacts if c.channel is Channel.WIDGET), None)


@dataclass
class PatronReach:
    """The sender for widget patrons: live in the widget while they are there; by email
    once they have been away longer than ``email.fallback_after_minutes`` and gave an
    address. The widget shows the reply from history when they come back either way."""

    widget: Sender
    email: EmailSender | None
    hub: WidgetHub
    clock: Clock
    away_after: float

    def budget_keys(
        self, delivery: Delivery, conversation: Conversation, patron: Patron, message: Message
    ) -> tuple[str, ...]:
        """The widget and email spend no Telegram budget."""
        return ()

    async def send(
        self, delivery: Delivery, message: Message, conversation: Conversation, patron: Patron
    ) -> Sent:
        visitor = visitor_of(patron)
        if (self.email is not None and visitor is not None and patron_email(patron)
                and self.hub.away_for(visitor, self.clock.now()) > self.away_after):
            return await self.email.send(delivery, message, conversation, patron)
        return await self.widget.send(delivery, message, conversation, patron)
