"""Visitor identity: a server-signed token the widget keeps in localStorage.

The token is the only thing that lets a browser read a conversation, so it is an HMAC
over a random visitor id; a guessed or edited token is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

__all__ = ["VisitorTokens"]


class VisitorTokens:
    def __init__(self, secret: str) -> None:
        if len(secret) < 16:
            raise ValueError("the signing secret must be at least 16 characters")
        self._key = hashlib.sha256(b"pustaka-visitor\0" + secret.encode()).digest()

    def issue(self) -> tuple[str, str]:
        """A new visitor id and its token."""
        visitor = secrets.token_hex(12)
        return visitor, f"v1.{visitor}.{self._sign(visitor)}"

    def verify(self, token: object) -> str | None:
        """The visitor id inside a valid token, else None."""
        if not isinstance(token, str) or len(token) > 200:
            return None
        version, _, rest = token.partition(".")
        visitor, _, signature = rest.partition(".")
        if version != "v1" or not visitor or not signature:
            return None
        if not hmac.compare_digest(signature, self._sign(visitor)):
            return None
        return visitor

    def _sign(self, visitor: str) -> str:
        return hmac.new(self._key, visitor.encode(), hashlib.sha256).hexdigest()[:32]
