"""The router's verbs for the directory: what the desk learns of a librarian (their name,
username, whether they are on duty).

Adapters change patrons and librarians only through these (``routing.ports.Directory``
is the router's), so every such write is found here by name.
"""

from __future__ import annotations

from routing.conversation_log import ConversationLog
from routing.model import Librarian

__all__ = ["Staff"]


class Staff:
    """What the desk learns of its librarians (a member number the directory confirmed is
    ``router.records.remember_member``, under the patron's locks)."""

    def __init__(self, log: ConversationLog) -> None:
        self._store = log.store
        self._clock = log.clock

    async def librarian_seen(self, librarian_id: str, name: str, username: str) -> None:
        """Remember a librarian's name and Telegram username (for /transfer @name, /who);
        whether they are on duty, and since when, stays as it was."""
        known = await self._store.get_librarian(librarian_id)
        if known is not None and (known.name, known.username) == (name, username.lower()):
            return
        await self._store.save_librarian(Librarian(
            librarian_id, name, username, known.on_duty if known else False,
            known.changed_at if known else self._clock.now()))

    async def librarian_duty(self, librarian_id: str, name: str, on: bool) -> Librarian:
        """The librarian said /onduty (``on``) or /offduty: from now on."""
        known = await self._store.get_librarian(librarian_id)
        librarian = Librarian(librarian_id, name, known.username if known else "", on,
                              self._clock.now())
        await self._store.save_librarian(librarian)
        return librarian
