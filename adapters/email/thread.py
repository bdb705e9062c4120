"""An email conversation's thread: its subject and the Message-IDs replies must cite.

Kept per conversation through the ``Store`` port (``email.thread.<conversation id>``,
JSON), written by the intake when a patron's mail arrives and by the sender after each
reply, so In-Reply-To and References are right after a restart and Gmail, Outlook and
Thunderbird keep the whole exchange in one thread. ``ReplyTokens`` is the port for the
signed ``help+<token>@`` reply address.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Protocol, runtime_checkable

from routing.ports import Store

__all__ = ["MAX_REFERENCES", "RatingTokens", "ReplyTokens", "Thread", "load_thread",
           "reply_address", "save_thread"]

MAX_REFERENCES = 20


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

    def cite(self, *ids: str) -> Thread:
        """The thread with ``ids`` added to References (root and newest kept if long)."""
        refs = list(self.references)
        for found in ids:
            if found and found not in refs:
                refs.append(found)
        if len(refs) > MAX_REFERENCES:
            refs = refs[:1] + refs[-(MAX_REFERENCES - 1):]
        return replace(self, references=tuple(refs))


def _key(conversation_id: str) -> str:
    return f"email.thread.{conversation_id}"


async def load_thread(store: Store, conversation_id: str) -> Thread:
    raw = await store.get_state(_key(conversation_id))
    if not raw:
        return Thread()
    try:
        data = json.loads(raw)
        return Thread(str(data.get("subject", "")), str(data.get("last", "")),
                      tuple(str(r) for r in data.get("refs", [])))
    except (ValueError, AttributeError, TypeError):
        return Thread()


async def save_thread(store: Store, conversation_id: str, thread: Thread) -> None:
    await store.set_state(_key(conversation_id), json.dumps(
        {"subject": thread.subject, "last": thread.last_patron_id,
         "refs": list(thread.references)}))


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

