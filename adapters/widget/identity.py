"""Who a browser is: a visitor token checked against the visitor's current generation.

A resume link in an email brings a patron back to their chat. Whoever opens it becomes
the only browser that can read or write that conversation: the visitor moves to a new
generation, the token handed to that browser carries it, and every token of an older
generation (a stranger who filled in the offline form with someone else's address, or
the patron's own old device) is refused from then on, by the WebSocket hello, the HTTP
calls and a long-poll already waiting.

The generation is kept in the store's contact state (it must survive a restart) and
cached here: ``hello`` and every HTTP call ask for it, and most visitors never resumed,
so after the first read a visitor costs a dictionary lookup.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import replace

from adapters.widget.tokens import VisitorTokens
from routing.model import Channel, Contact
from routing.ports import ContactState, ContactStates

__all__ = ["VisitorEpochs", "VisitorIdentity"]

_CACHED = 100_000  # visitors whose generation is remembered between reads


class _MemoryStates:
    """For a widget built without a store (tests of other parts): lost on restart."""

    def __init__(self) -> None:
        self._values: dict[Contact, ContactState] = {}

    async def contact_state(self, contact: Contact) -> ContactState | None:
        return self._values.get(contact)

    async def save_contact_state(self, contact: Contact, state: ContactState) -> None:
        self._values[contact] = state


class VisitorEpochs:
    """Each visitor's current token generation, persisted, with a bounded cache."""

    def __init__(self, state: ContactStates | None = None, *, cached: int = _CACHED) -> None:
        self._state = state if state is not None else _MemoryStates()
        self._cache: OrderedDict[str, int] = OrderedDict()
        self._size = cached

    async def current(self, visitor: str) -> int:
        known = self.cached(visitor)
        if known is not None:
            return known
        kept = await self._state.contact_state(Contact(Channel.WIDGET, visitor))
        generation = 0 if kept is None else kept.token_generation
        self._remember(visitor, generation)
        return generation

    def cached(self, visitor: str) -> int | None:
        """The generation as last read or written here, without a read (None: unknown)."""
        generation = self._cache.get(visitor)
        if generation is not None:
            self._cache.move_to_end(visitor)
        return generation

    def fresh(self, visitor: str) -> None:
        """A visitor id made just now has generation 0 and nothing to read."""
        self._remember(visitor, 0)

    async def advance(self, visitor: str) -> int:
        """Move the visitor to a new generation (written before it is used)."""
        contact = Contact(Channel.WIDGET, visitor)
        kept = await self._state.contact_state(contact) or ContactState()
        generation = max(kept.token_generation, self.cached(visitor) or 0) + 1
        await self._state.save_contact_state(contact, replace(kept, token_generation=generation))
        self._remember(visitor, generation)
        return generation

    def _remember(self, visitor: str, generation: int) -> None:
        self._cache[visitor] = generation
        self._cache.move_to_end(visitor)
        while len(self._cache) > self._size:
            self._cache.popitem(last=False)


class VisitorIdentity:
    """Tokens and generations together: what every widget endpoint asks."""

    def __init__(self, tokens: VisitorTokens, epochs: VisitorEpochs | None = None) -> None:
        self.tokens = tokens
        self.epochs = epochs or VisitorEpochs()

    def issue(self) -> tuple[str, str]:
        """A new visitor id and its token."""
        visitor, token = self.tokens.issue()
        self.epochs.fresh(visitor)
        return visitor, token

    async def verify(self, token: object) -> tuple[str, int] | None:
        """(visitor id, generation) of a genuine token of the visitor's current
        generation, else None."""
        read = self.tokens.read(token)
        if read is None or await self.epochs.current(read[0]) != read[1]:
            return None
        return read

    def superseded(self, visitor: str, generation: int) -> bool:
        """Whether a resume moved the visitor past ``generation`` since it was checked
        (cheap: asked before every frame of an open socket)."""
        current = self.epochs.cached(visitor)
        return current is not None and current != generation

    async def resume(self, resume_token: object) -> tuple[str, str] | None:
        """The visitor a genuine resume token names, moved to a new generation, and the
        one token that now stands for it; None for a bad or expired resume token."""
        visitor = self.tokens.verify_resume(resume_token)
        if visitor is None:
            return None
        generation = await self.epochs.advance(visitor)
        return visitor, self.tokens.token_for(visitor, generation)
