"""Pure rendering of desk messages into Telegram HTML. No I/O, tested with plain values.

Every piece of patron text is escaped for Telegram's HTML parse mode: a patron who types
``<b>`` sees it arrive as text, and a crafted name cannot break the card.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from adapters.telegram.browser import browser_summary
from adapters.telegram.card_lines import language_line, member_given_line, page_line, topic_line
from routing.model import SENDER_UNVERIFIED_TAG, Channel, Conversation, Message, Patron, Status
from routing.plain import plain_line

__all__ = [
    "BUTTONS",
    "block_buttons",
    "browser_summary",
    "card_buttons",
    "info_card",
    "notice_text",
    "parse_button",
    "patron_label",
    "patron_text",
    "topic_name",
]

TELEGRAM_TEXT_LIMIT = 4096
_CHANNEL_LABEL = {Channel.WIDGET: "Web chat", Channel.EMAIL: "Email", Channel.TELEGRAM: "Telegram"}


def patron_label(patron: Patron) -> str:
    """The patron's name as the desk shows it: one plain line (no bidi tricks, no
    invisible characters), or "Visitor 1a2b" when they gave none."""
    return plain_line(patron.name) or f"Visitor {patron.id[-4:]}"


def topic_name(patron: Patron, conversation: Conversation) -> str:
    """Topic titles are plain text (no parse mode), 1 to 128 characters."""
    name = patron_label(patron)
    label = _CHANNEL_LABEL.get(conversation.origin, conversation.origin.value)
    suffix = f" · {label}"
    return name[: 128 - len(suffix)] + suffix


def info_card(patron: Patron, conversation: Conversation, *, forum: bool = True,
              origins: Sequence[str] = (), member: str = "") -> str:
    """The first post of a conversation's topic, one line per fact. ``origins`` are the
    library's own sites (only their pages are linked); ``member`` is what the directory
    said at /verify (``card_lines.member_status``), shown in place of the bare number."""
    page = conversation.page
    lines = [f"💬 <b>New conversation</b> · {_CHANNEL_LABEL.get(conversation.origin, '')}"]
    if conversation.after_hours:
        lines.append("🌙 <i>Asked after hours: nobody was at the desk.</i>")
    if SENDER_UNVERIFIED_TAG in conversation.tags:
        lines.append("⚠️ <b>Sender not verified:</b> <i>the From may be forged.</i>")
    lines.append(f"<b>Patron:</b> {_e(patron_label(patron))}")
    if patron.email:
        # Anyone can type anyone's address: say when it was never proved.
        unproved = "" if patron.email_confirmed else " ⚠️ <i>unconfirmed: typed, not proved</i>"
        lines.append(f"<b>Email:</b> {_e(plain_line(patron.email))}{unproved}")
    if member:
        lines.append(f"<b>Member:</b> {_e(member)}")
    elif patron.member_number:
        lines.append(member_given_line(patron.member_number))
    if topic := topic_line(conversation.tags, hidden=(SENDER_UNVERIFIED_TAG,)):
        lines.append(topic)
    if conversation.subject:
        lines.append(f"<b>Subject:</b> {_e(plain_line(conversation.subject)[:200])}")
    if page.url:
        lines.append(page_line(page.url, page.title, origins))
    if page.user_agent:
        lines.append(f"<b>Browser:</b> {_e(browser_summary(page.user_agent))}")
    if language := language_line(patron.language or page.language):
        lines.append(language)
    local = _local_time(page.timezone, conversation.created_at)
    if local:
        lines.append(f"<b>Local time:</b> {_e(local)}")
    where = "in this topic" if forum else "to this message (or any of this patron's)"
    lines.append(f"<i>Reply {where} to answer; the first reply claims the chat.</i>")
    return "\n".join(lines)


BUTTONS = ("claim", "close", "verify", "block", "card", "b-1h", "b-1d", "b-7d", "b-forever")


def card_buttons(conversation: Conversation) -> list[list[tuple[str, str]]]:
    """The info card's inline keyboard as rows of (label, callback_data). The data is
    "<action>:<conversation id>", well inside Telegram's 64 bytes."""
    cid = conversation.id
    holder = conversation.claimed_by
    claim = f"✋ {holder}"[:40] if holder else "✋ Claim"
    close = "✔ Closed" if conversation.status is Status.CLOSED else "✔ Close"
    return [[(claim, f"claim:{cid}"), (close, f"close:{cid}")],
            [("🪪 Verify", f"verify:{cid}"), ("⛔ Block", f"block:{cid}")]]


def block_buttons(conversation: Conversation) -> list[list[tuple[str, str]]]:
    """The card's keyboard while choosing how long to block: a second tap, so a slip of
    the thumb never blocks anyone."""
    cid = conversation.id
    return [[("⛔ 1 hour", f"b-1h:{cid}"), ("⛔ 1 day", f"b-1d:{cid}"),
             ("⛔ 7 days", f"b-7d:{cid}"), ("⛔ Forever", f"b-forever:{cid}")],
            [("↩ Back", f"card:{cid}")]]


def parse_button(data: str | None) -> tuple[str, str] | None:
    """("claim", conversation id) from callback data, None for anything not ours."""
    action, _, cid = (data or "").partition(":")
    if action not in BUTTONS or not cid or len(cid) > 40:
        return None
    return action, cid


def patron_text(message: Message, patron: Patron, *, with_name: bool = False) -> str:
    """A patron's message as shown in the topic; the name line only where it is needed
    (groups without topics, where messages of several patrons mix)."""
    body = _e(_fit(message.text))
    if with_name:
        body = f"<b>{_e(patron_label(patron))}</b> [#{message.conversation_id[-6:]}]\n{body}"
    return body


def notice_text(message: Message) -> str:
    return f"<i>{_e(_fit(message.text))}</i>"


def _local_time(timezone: str, at: float) -> str:
    if not timezone or not at:
        return ""
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return ""
    return dt.datetime.fromtimestamp(at, zone).strftime(f"%H:%M, %a %d %b ({timezone})")


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _fit(text: str) -> str:
    """Telegram counts its 4,096 characters after parsing entities, so the raw text is
    what must fit; leave room for the name line."""
    limit = TELEGRAM_TEXT_LIMIT - 200
    return text if len(text) <= limit else text[: limit - 1] + "…"
