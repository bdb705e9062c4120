"""Visitor identity: a server-signed token the widget keeps in localStorage, and the
short-lived resume token an email link carries to bring a patron back to their chat.

The visitor token is the only thing that lets a browser read a conversation, so it is an
HMAC over a random visitor id; a guessed or edited token is refused. A resume token is
signed with a different key (one can never pass for the other) and carries its expiry.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

__all__ = ["VisitorTokens"]

_MAX_TOKEN = 200


class VisitorTokens:
    def __init__(self, secret: str) -> None:
        if len(secret) < 16:
            raise ValueError("the signing secret must be at least 16 characters")
        self._key = hashlib.sha256(b"pustaka-visitor\0" + secret.encode()).digest()
        self._resume_key = hashlib.sha256(b"pustaka-resume\0" + secret.encode()).digest()

    def issue(self) -> tuple[str, str]:
        """A new visitor id and its token."""
        visitor = secrets.token_hex(12)
        return visitor, self.token_for(visitor)

    def token_for(self, visitor: str) -> str:
        """The visitor token of a known visitor id."""
        return f"v1.{visitor}.{self._sign(visitor)}"

    def verify(self, token: object) -> str | None:
        """The visitor id inside a valid token, else None."""
        if not isinstance(token, str) or len(token) > _MAX_TOKEN or not token.isascii():
            return None  # compare_digest refuses non-ASCII text
        version, _, rest = token.partition(".")
        visitor, _, signature = rest.partition(".")
        if version != "v1" or not visitor or not signature:
            return None
        if not hmac.compare_digest(signature, self._sign(visitor)):
            return None
        return visitor

    def resume_token(self, visitor: str, ttl: float, *, now: float | None = None) -> str:
        """A token for an email link (``#pustaka=<token>``) valid for ``ttl`` seconds."""
        if not visitor or "." in visitor:
            raise ValueError("not a visitor id")
        expires = int((time.time() if now is None else now) + ttl)
        body = f"{visitor}.{expires}"
        return f"r1.{body}.{self._sign_resume(body)}"

    def verify_resume(self, token: object, *, now: float | None = None) -> str | None:
        """The visitor id inside a genuine, unexpired resume token, else None."""
        if not isinstance(token, str) or len(token) > _MAX_TOKEN or not token.isascii():
            return None
        parts = token.split(".")
        if len(parts) != 4 or parts[0] != "r1" or not parts[1] or not parts[2].isdigit():
            return None
        _, visitor, expires, signature = parts
        if not hmac.compare_digest(signature, self._sign_resume(f"{visitor}.{expires}")):
            return None
        if int(expires) < (time.time() if now is None else now):
            return None
        return visitor

    def _sign(self, visitor: str) -> str:
        return hmac.new(self._key, visitor.encode(), hashlib.sha256).hexdigest()[:32]

    def _sign_resume(self, body: str) -> str:
        return hmac.new(self._resume_key, body.encode(), hashlib.sha256).hexdigest()[:32]
