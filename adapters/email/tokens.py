"""Signed reply tokens: the ``<token>`` in ``help+<token>@library.example``.

Our mail's Reply-To carries the conversation it belongs to, so the patron's answer finds
it even when their client drops In-Reply-To and References. The token is the
conversation id plus a truncated HMAC-SHA256 under the server secret: a guessed or
edited token is refused, so a stranger cannot write into someone else's conversation.

Everything is lowercase base32 (``a-z2-7``): some mail servers lowercase the local part,
and a token must still match after that. Ids made of lowercase hex (``routing.model``'s
ids) are packed as bytes, which keeps ``help+<token>`` within the 64 octets RFC 5321
allows a local part: a 20-character id gives a 33-character token.

A rating request's Reply-To carries a *rating token*: the same, with an "r" in front
(signed too, so it cannot be added to another token). It names the conversation like any
token, and also says the answer is a reply to the rating request, even when the patron's
client keeps no In-Reply-To (a ``mailto:`` link from the rating mail's buttons).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

__all__ = ["ReplyTokens"]

_MAC_BYTES = 10  # 80 bits: far beyond guessing by mail, 16 base32 characters
_MAC_CHARS = 16
_MAX_ID_BYTES = 24  # a longer id would push the address past RFC 5321's 64 octets
_HEX_ID = re.compile(r"(?:[0-9a-f]{2})+")
_TOKEN = re.compile(r"r?[hs][a-z2-7]{1,64}")
_RATING = "r"


def _b32(data: bytes) -> str:
    return base64.b32encode(data).decode("ascii").rstrip("=").lower()


def _unb32(text: str) -> bytes | None:
    try:
        return base64.b32decode(text.upper() + "=" * (-len(text) % 8))
    except (ValueError, TypeError):  # binascii.Error is a ValueError
        return None


class ReplyTokens:
    """Makes and checks the reply tokens of one server secret."""

    def __init__(self, secret: str) -> None:
        if len(secret) < 16:
            raise ValueError("the signing secret must be at least 16 characters")
        # A key of its own: a reply token can never pass for a visitor or resume token.
        self._key = hashlib.sha256(b"pustaka-reply-token\0" + secret.encode()).digest()

    def _mac(self, body: str) -> str:
        digest = hmac.new(self._key, body.encode("ascii"), hashlib.sha256).digest()
        return _b32(digest[:_MAC_BYTES])

    def token_for(self, conversation_id: str) -> str:
        """The token for ``conversation_id``; ValueError if the id is empty or too long."""
        if _HEX_ID.fullmatch(conversation_id):
            packed, kind = bytes.fromhex(conversation_id), "h"
        else:
            packed, kind = conversation_id.encode("utf-8"), "s"
        if not packed or len(packed) > _MAX_ID_BYTES:
            raise ValueError(f"no reply token for a conversation id like {conversation_id!r}")
        body = kind + _b32(packed)
        return body + self._mac(body)

    def rating_token_for(self, conversation_id: str) -> str:
        """The token for the Reply-To of ``conversation_id``'s rating request."""
        body = _RATING + self.token_for(conversation_id)[:-_MAC_CHARS]
        return body + self._mac(body)

    def conversation_of(self, token: str) -> str | None:
        """The conversation id inside a genuine token (any letter case), else None."""
        opened = self._open(token)
        return None if opened is None else opened[0]

    def rating_conversation_of(self, token: str) -> str | None:
        """The conversation id inside a genuine rating token, else None."""
        opened = self._open(token)
        return opened[0] if opened is not None and opened[1] else None

    def _open(self, token: str) -> tuple[str, bool] | None:
        """(conversation id, whether it is a rating token) of a genuine token."""
        if not isinstance(token, str) or not token.isascii():
            return None
        token = token.strip().lower()
        if not _TOKEN.fullmatch(token) or len(token) <= _MAC_CHARS + 1:
            return None
        body, mac = token[:-_MAC_CHARS], token[-_MAC_CHARS:]
        if not hmac.compare_digest(mac, self._mac(body)):
            return None
        rating = body.startswith(_RATING)
        kind, packed = body[int(rating)], _unb32(body[int(rating) + 1 :])
        if packed is None:
            return None
        if kind == "h":
            return packed.hex(), rating
        try:
            return packed.decode("utf-8"), rating
        except UnicodeDecodeError:
            return None

    # The name ``adapters.email.thread.ReplyTokens`` (the port the intake uses) asks for.
    conversation_for = conversation_of
