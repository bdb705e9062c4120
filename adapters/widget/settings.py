"""What the library sets for its widget: looks, texts and limits (from ``[widget]``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["WidgetSettings"]


@dataclass(frozen=True)
class WidgetSettings:
    library: str = "Our Library"
    colour: str = "#0b5394"
    position: str = "right"
    logo: str = ""
    greeting: dict[str, str] = field(default_factory=dict)
    max_text: int = 4000
    messages_per_minute: int = 30
    allowed_origins: tuple[str, ...] = ()
    trusted_proxies: tuple[str, ...] = ()
    email_answers: bool = True  # False: email is off, the desk answers in the chat only
    new_visitors_per_ip_hour: int = 60  # hellos without a token, per IPv4 address / IPv6 /64
    new_conversations_per_ip_hour: int = 30  # conversations opened or reopened, likewise

    def public(self) -> dict[str, Any]:
        return {
            "library": self.library,
            "colour": self.colour,
            "position": self.position,
            "logo": self.logo,
            "greeting": self.greeting,
            "max_text": self.max_text,
            "languages": sorted(self.greeting),
            "email": self.email_answers,
        }
