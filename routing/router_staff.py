"""The router's verbs for the directory: what the desk learns of a patron (a verified
member number) and of a librarian (their name, username, whether they are on duty).

Adapters change patrons and librarians only through these (``routing.ports.Directory``
is the router's), so every such write is found here by name.
"""

from __future__ import annotations

from dataclasses import replace

from routing.model import Librarian, Patron
from routing.router_base import RouterBase

__all__ = ["Staff"]


class Staff(RouterBase):
    async def member_verified(self, patron_id: str, number: str) -> Patron | None:
        """Keep the member number the library's directory confirmed on the patron; None
        when the patron is unknown."""
        patron = await self._store.get_patron(patron_id)
        if patron is None:
            return None
        if patron.member_number != number:
            patron = replace(patron, member_number=number)
            await self._store.save_patron(patron)
        return patron

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
