"""`pustaka check`: is the bot token good, is the group a forum, may the bot manage topics?
Do patrons' own addresses reach the bridge, or only a proxy's?"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from telegram import Bot, ChatMemberAdministrator
from telegram.error import Forbidden, InvalidToken, NetworkError, TelegramError

from bridge.store.sqlite import SqliteStore
from routing.blocks import shared_address
from routing.model import Conversation

__all__ = ["RECENT", "Finding", "check_addresses", "check_desk", "recent_conversations"]

RECENT = 200  # the latest conversations looked at for patrons' addresses


@dataclass(frozen=True)
class Finding:
    ok: bool
    sentence: str


async def check_desk(bot: Bot, group_id: int) -> list[Finding]:
    """One sentence per check, in the order a librarian would fix them.

    The bot is initialized here (which asks getMe) and shut down again, so a refused
    token becomes a sentence and not a traceback.
    """
    try:
        await bot.initialize()
        return await _check(bot, group_id)
    except InvalidToken:
        return [Finding(False, "Telegram refused the bot token: check PUSTAKA_TELEGRAM_TOKEN "
                               "(copy it again from @BotFather).")]
    except NetworkError as exc:
        return [Finding(False, f"Could not reach Telegram at all ({exc.message}); check the "
                               "server's internet access or telegram.api_url.")]
    finally:
        await bot.shutdown()


async def _check(bot: Bot, group_id: int) -> list[Finding]:
    me = bot.bot  # fetched by initialize()
    findings = [Finding(True, f"The token works: the bot is @{me.username}.")]
    if not group_id:
        return [*findings, Finding(False, "telegram.group_id is not set in the config.")]
    try:
        chat = await bot.get_chat(group_id)
    except (Forbidden, TelegramError) as exc:
        return [*findings, Finding(False, f"The bot cannot see group {group_id} ({exc.message}): "
                                          "add the bot to the group, and check the id.")]
    findings.append(Finding(True, f"The bot is in the group “{chat.title}”."))
    if chat.is_forum:
        findings.append(Finding(True, "The group has topics turned on (one topic per chat)."))
    else:
        findings.append(Finding(False, "The group does not have topics turned on; chats still "
                                       "work by replying to messages, but turn on Topics in the "
                                       "group settings for one topic per conversation."))
    member = await bot.get_chat_member(group_id, me.id)
    if not isinstance(member, ChatMemberAdministrator):
        findings.append(Finding(False, "The bot is not an administrator of the group: make it "
                                       "an admin with the 'Manage topics' right."))
    elif chat.is_forum and not member.can_manage_topics:
        findings.append(Finding(False, "The bot is an admin but lacks the 'Manage topics' right: "
                                       "turn it on in the group's administrator settings."))
    else:
        findings.append(Finding(True, "The bot is an administrator with the rights it needs."))
    return findings


def check_addresses(public_url: str, trusted_proxies: Sequence[str],
                    recent: Iterable[Conversation]) -> list[Finding]:
    """Whether the bridge sees each patron's own address. Behind a proxy it does not
    trust (``server.trusted_proxies``) every patron seems to come from the proxy, so the
    per-address limits and an ``ip`` block would hit everyone at once."""
    findings = []
    if public_url.lower().startswith("https://") and not trusted_proxies:
        findings.append(Finding(False, (
            "server.public_url is https://, so a proxy terminates TLS in front of the "
            "bridge, but server.trusted_proxies is empty: every patron will seem to come "
            "from the proxy. Add the proxy's address to server.trusted_proxies.")))
    shared = shared_address(recent)
    if shared is not None:
        address, patrons = shared
        fix = ("it is a trusted proxy that sends no X-Forwarded-For: set "
               "“proxy_set_header X-Forwarded-For $remote_addr;” in it"
               if address in trusted_proxies else
               f"if that is your proxy, add “{address}” to server.trusted_proxies")
        findings.append(Finding(False, (
            f"All of the last {patrons} web patrons came from {address}: {fix}, "
            "or per-address limits and IP blocks will hit every patron.")))
    if not findings:
        findings.append(Finding(True, "Patrons' own addresses reach the bridge."))
    return findings


async def recent_conversations(database: Path) -> list[Conversation]:
    """The latest conversations of an existing database; none when there is none yet
    (a check never creates one)."""
    if not await asyncio.to_thread(database.exists):
        return []
    store = SqliteStore(database)
    await store.open()
    try:
        return await store.conversations(limit=RECENT)
    finally:
        await store.close()
