"""An email conversation's thread: its subject and the Message-IDs replies must cite.

Kept per conversation through the ``DeskState`` port (a ``MailThread``, owned by the
conversation), written by the intake when a patron's mail arrives and by the sender after each
reply, so In-Reply-To and References are right after a restart and Gmail, Outlook and
Thunderbird keep the whole exchange in one thread. ``ReplyTokens`` is the port for the
signed ``help+<token>@`` reply address.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Protocol, runtime_checkable

from routing.ports import ConversationLog, DeskState, Directory, Links, MailThread

__all__ = ["MAX_REFERENCES", "MailStore", "RatingTokens", "ReplyTokens", "Thread",
           "load_thread", "reply_address", "save_thread"]

MAX_REFERENCES = 20


class MailStore(ConversationLog, Directory, Links, DeskState, Protocol):
    """The roles of the store the email intake reads (which conversation a mail names,
    its thread); it writes records only through the router and ``Trail``."""


class ReplyTokens(Protocol):
    """Signs a conversation id into a token for the Reply-To address, and checks one."""

    def token_for(self, conversation_id: str) -> str: ...
    def conversation_for(self, token: str) -> str | None: ...


@runtime_checkable
class RatingTokens(ReplyTokens, Protocol):
    """A signer that also marks the Reply-To of a rating request (``tokens.ReplyTokens``)."""

    def rating_token_for(self, conversation_id: str) -> str: ...
    def rating_conversation_of(self, token: str) -> str | None: ...


@dataclass(frozen=True, slots=True)
class Thread:
    subject: str = ""
    last_patron_id: str = ""  # the patron's latest Message-ID: our reply's In-Reply-To
    references: tuple[str, ...] = ()  # oldest first, ours and theirs
    acknowledged: bool = False  # the after-hours acknowledgement went (once a conversation)

    def cite(self, *ids: str) -> Thread:
        """The thread with ``ids`` added to References (root and newest kept if long)."""
        refs = list(self.references)
        for found in ids:
            if found and found not in refs:
                refs.append(found)
        if len(refs) > MAX_REFERENCES:
            refs = refs[:1] + refs[-(MAX_REFERENCES - 1):]
        return replace(self, references=tuple(refs))


async def load_thread(store: DeskState, conversation_id: str) -> Thread:
    kept = await store.mail_thread(conversation_id)
    if kept is None:
        return Thread()
    return Thread(kept.subject, kept.last_patron_id, kept.references, kept.acknowledged)


async def save_thread(store: DeskState, conversation_id: str, thread: Thread) -> None:
    await store.save_mail_thread(conversation_id, MailThread(
        thread.subject, thread.last_patron_id, thread.references, thread.acknowledged))


def reply_address(help_address: str, tokens: ReplyTokens | None, conversation_id: str,
                  *, rating: bool = False) -> str:
    """``help+<token>@domain``, or the plain help address without a token signer.

    ``rating``: the address for the answer to a rating request, with a rating token
    when the signer makes them (else the conversation's usual token).
    """
    if tokens is None or "@" not in help_address:
        return help_address
    local, domain = help_address.rsplit("@", 1)
    if rating and isinstance(tokens, RatingTokens):
        return f"{local}+{tokens.rating_token_for(conversation_id)}@{domain}"
    return f"{local}+{tokens.token_for(conversation_id)}@{domain}"

