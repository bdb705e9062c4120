"""`pustaka check`: is the bot token good, is the group a forum, may the bot manage topics?"""

from __future__ import annotations

from dataclasses import dataclass

from telegram import Bot, ChatMemberAdministrator
from telegram.error import Forbidden, InvalidToken, NetworkError, TelegramError

__all__ = ["Finding", "check_desk"]


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
