"""Visitor identity: a server-signed token the widget keeps in localStorage, the
short-lived resume token an email link carries to bring a patron back to their chat, and
the signature on a file link.

The visitor token is the only thing that lets a browser read a conversation, so it is an
HMAC over a random visitor id; a guessed or edited token is refused. A resume token is
signed with a different key (one can never pass for the other) and carries its expiry.
A file link is signed with a third key over the visitor id and the file's digest: an
``<img src>`` cannot send a bearer token, so the link itself is the permission, and it
is good for that one visitor and that one file only.

A visitor token also carries its generation: opening a resume link moves the visitor to
a new generation (``identity.py``), and tokens of older generations stop working. A
generation-0 token is the original ``v1.<visitor>.<mac>``; later ones are
``v2.<visitor>.<generation>.<mac>``.
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
        # Keyed once: each signature copies the keyed state instead of keying it again
        # (every hello and every file link signs; copying costs half of keying).
        self._keyed = _keyed(b"pustaka-visitor\0", secret)
        self._resume_keyed = _keyed(b"pustaka-resume\0", secret)
        self._file_keyed = _keyed(b"pustaka-file\0", secret)

    def issue(self) -> tuple[str, str]:
        """A new visitor id and its token."""
        visitor = secrets.token_hex(12)
        return visitor, self.token_for(visitor)

    def token_for(self, visitor: str, generation: int = 0) -> str:
        """The visitor token of a known visitor id, of the given generation."""
        if generation <= 0:
            return f"v1.{visitor}.{self._sign(visitor)}"
        return f"v2.{visitor}.{generation}.{self._sign(f'{visitor}.{generation}')}"

    def verify(self, token: object) -> str | None:
        """The visitor id inside a genuinely signed token, else None. Says nothing of
        its generation: a visitor's access is ``VisitorIdentity.verify``'s to decide."""
        read = self.read(token)
        return None if read is None else read[0]

    def read(self, token: object) -> tuple[str, int] | None:
        """(visitor id, generation) of a genuinely signed token, else None."""
        if not isinstance(token, str) or len(token) > _MAX_TOKEN or not token.isascii():
            return None  # compare_digest refuses non-ASCII text
        parts = token.split(".")
        if len(parts) == 3 and parts[0] == "v1" and parts[1]:
            visitor, generation, signed = parts[1], 0, parts[1]
        elif len(parts) == 4 and parts[0] == "v2" and parts[1] and parts[2].isdigit():
            visitor, generation = parts[1], int(parts[2])
            signed = f"{visitor}.{generation}"
            if generation <= 0 or str(generation) != parts[2]:
                return None  # one generation, one spelling
        else:
            return None
        if not hmac.compare_digest(parts[-1], self._sign(signed)):
            return None
        return visitor, generation

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

    def file_signature(self, visitor: str, digest: str) -> str:
        """What a file link carries to show it was made for this visitor and this file."""
        return _signed(self._file_keyed, f"{visitor}\0{digest}")

    def verify_file(self, visitor: object, digest: object, signature: object) -> bool:
        """Whether ``signature`` is this visitor's signature on this digest."""
        if not (isinstance(visitor, str) and isinstance(digest, str)
                and isinstance(signature, str)):
            return False
        if not all(v.isascii() and 0 < len(v) <= _MAX_TOKEN for v in (visitor, digest, signature)):
            return False  # compare_digest refuses non-ASCII text
        return hmac.compare_digest(signature, self.file_signature(visitor, digest))

    def _sign(self, visitor: str) -> str:
        return _signed(self._keyed, visitor)

    def _sign_resume(self, body: str) -> str:
        return _signed(self._resume_keyed, body)


def _keyed(purpose: bytes, secret: str) -> hmac.HMAC:
    """An HMAC-SHA256 keyed for one purpose, with nothing signed yet."""
    key = hashlib.sha256(purpose + secret.encode()).digest()
    return hmac.new(key, digestmod=hashlib.sha256)


def _signed(keyed: hmac.HMAC, body: str) -> str:
    mac = keyed.copy()
    mac.update(body.encode())
    return mac.hexdigest()[:32]
