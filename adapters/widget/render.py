"""How a stored message looks to one widget visitor: the `Msg` object of PROTOCOL.md.

A message's files become ``{kind, name, mime, size, url, note}``; ``url`` is a link
signed for this visitor and this file (``VisitorTokens.file_signature``), relative to the
bridge, so only the visitor the message was shown to can fetch the file. History hides
what a librarian withdrew: the original's text and files are never sent again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any
from urllib.parse import urlencode

from adapters.widget.tokens import VisitorTokens
from routing.model import Attachment, Direction, Message

__all__ = [
    "FILE_PATH",
    "attachment_json",
    "file_url",
    "history_json",
    "message_json",
    "withdrawn_ids",
]

FILE_PATH = "/widget/files/"


def file_url(tokens: VisitorTokens, visitor: str, digest: str) -> str:
    """The download link of one file for one visitor, relative to the bridge."""
    query = urlencode({"v": visitor, "s": tokens.file_signature(visitor, digest)})
    return f"{FILE_PATH}{digest}?{query}"


def attachment_json(
    attachment: Attachment, visitor: str = "", tokens: VisitorTokens | None = None
) -> dict[str, Any]:
    """A file as the widget shows it; ``url`` is "" for a file not kept (``note`` says
    why) or when no visitor or signing key is at hand."""
    url = ""
    if attachment.kept and visitor and tokens is not None:
        url = file_url(tokens, visitor, attachment.digest)
    return {"kind": attachment.kind.value, "name": attachment.name, "mime": attachment.mime,
            "size": attachment.size, "url": url, "note": attachment.note}


def message_json(
    message: Message, visitor: str = "", tokens: VisitorTokens | None = None
) -> dict[str, Any]:
    """The `Msg` object of PROTOCOL.md for ``visitor``; notes never leave the server."""
    if message.direction is Direction.NOTE:
        raise ValueError("internal notes are never sent to a patron")
    return {
        "id": message.id,
        "cid": message.client_id,
        "direction": message.direction.value,
        "author": message.author,
        "text": message.text,
        "event": message.event,
        "at": message.created_at,
        "conversation": message.conversation_id,
        "replaces": message.replaces,
        "attachments": [attachment_json(a, visitor, tokens) for a in message.attachments],
    }


def withdrawn_ids(messages: Iterable[Message]) -> set[str]:
    """Ids of the replies a librarian withdrew, among ``messages``."""
    return {m.replaces for m in messages
            if m.event == "withdrawn" and m.replaces and m.direction is Direction.LIBRARIAN}


def history_json(
    messages: Sequence[Message], visitor: str, tokens: VisitorTokens | None
) -> list[dict[str, Any]]:
    """History for the widget. A withdrawn reply (and any edit of it) keeps its place but
    loses its text and files, so what the library took back is not sent again."""
    gone = withdrawn_ids(messages)
    shown = []
    for message in messages:
        if message.id in gone or (message.event == "edited" and message.replaces in gone):
            message = replace(message, text="", attachments=())
        shown.append(message_json(message, visitor, tokens))
    return shown
