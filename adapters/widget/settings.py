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
    size: str = "normal"
    launcher_label: str = ""
    offset_x: int = 20
    offset_y: int = 20
    greeting: dict[str, str] = field(default_factory=dict)
    max_text: int = 4000
    messages_per_minute: int = 30
    allowed_origins: tuple[str, ...] = ()
    trusted_proxies: tuple[str, ...] = ()
    email_answers: bool = True  # False: email is off, the desk answers in the chat only
    languages: tuple[str, ...] = ()  # with a translation file; () -> the greeting's
    language: str = "en"  # the library's default
    new_visitors_per_ip_hour: int = 60  # hellos without a token, per IPv4 address / IPv6 /64
    new_conversations_per_ip_hour: int = 30  # conversations opened or reopened, likewise
    prechat: dict[str, Any] = field(default_factory=dict)  # [widget.prechat], as public
    greetings: tuple[dict[str, Any], ...] = ()  # [[widget.greetings]], as public

    def public(self) -> dict[str, Any]:
        return {
            "library": self.library,
            "colour": self.colour,
            "position": self.position,
            "logo": self.logo,
            "size": self.size,
            "launcher_label": self.launcher_label,
            "offset_x": self.offset_x,
            "offset_y": self.offset_y,
            "greeting": self.greeting,
            "max_text": self.max_text,
            "languages": list(self.languages) or sorted(self.greeting),
            "language": self.language,
            "email": self.email_answers,
            "prechat": self.prechat,
            "greetings": list(self.greetings),
        }
