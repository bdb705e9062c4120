"""Staff passwords: argon2id hashes (argon2-cffi), checked in a thread off the event loop."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

__all__ = ["MIN_LENGTH", "check_password", "hash_password", "password_problem"]

MIN_LENGTH = 10
_HASHER = PasswordHasher()  # argon2id with the library's current recommended costs
# Checked when no account has the name, so a wrong name costs as long as a wrong password.
_DUMMY = _HASHER.hash("no account has this name")


def password_problem(password: str) -> str:
    """Why a new password is refused, or "" when it is fine."""
    if len(password) < MIN_LENGTH:
        return f"a password needs at least {MIN_LENGTH} characters"
    if password.strip() != password:
        return "a password must not begin or end with spaces"
    return ""


def hash_password(password: str) -> str:
    if problem := password_problem(password):
        raise ValueError(problem)
    return _HASHER.hash(password)


async def check_password(stored_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches; ``None`` (no such account) takes as long and fails."""
    def verify() -> bool:
        try:
            return _HASHER.verify(stored_hash or _DUMMY, password) and stored_hash is not None
        except (VerificationError, InvalidHashError):
            return False
    return await asyncio.to_thread(verify)
