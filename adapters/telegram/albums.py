"""Albums from Telegram, gathered into one message before anything is passed on.

Telegram delivers an album as one ``Update`` per item, sharing a ``media_group_id``, and
never says how many items are coming. The gatherer holds the items until none has
come for a short quiet window (about a second), then releases them together. What the
same person sends in the same chat meanwhile waits behind the album, so a librarian's
album and the line typed after it reach the patron in that order.

Held updates are saved in the store before the poller confirms them to Telegram, so a
restart in the middle of an album loses nothing; an update delivered again is
recognised by its id and held once. A release that was processed but not yet
forgotten when the bridge stopped is processed again after the restart: the router
recognises the message by its client id (the first item's message id).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from telegram import Bot, Update

from routing.ports import Cursors

__all__ = ["ALBUMS_KEY", "AlbumGatherer", "Held"]

log = logging.getLogger(__name__)

ALBUMS_KEY = "telegram.albums"
_MAX_HELD = 200  # past this, updates are passed on at once rather than held


@dataclass(slots=True, eq=False)  # each held entry is itself, whatever it holds
class Held:
    """An album being gathered, or one update waiting behind an album of its sender."""

    key: tuple[int, int]  # (chat id, sender id)
    group: str  # the media_group_id; "" for a single update
    updates: list[Update] = field(default_factory=list)
    last: float = 0.0  # when its latest item came (the gatherer's clock)

    @property
    def album(self) -> bool:
        return bool(self.group)


class AlbumGatherer:
    def __init__(self, store: Cursors, bot: Bot, *, quiet: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._store = store
        self._bot = bot
        self._quiet = quiet
        self._clock = clock
        self._held: list[Held] = []

    async def load(self) -> None:
        """Take up what a stopped bridge held; each album gets a fresh quiet window."""
        raw = await self._store.get_state(ALBUMS_KEY)
        self._held = []
        if not raw:
            return
        now = self._clock()
        try:
            for entry in json.loads(raw):
                updates = [Update.de_json(u, self._bot) for u in entry["updates"]]
                key = (int(entry["key"][0]), int(entry["key"][1]))
                self._held.append(Held(key, str(entry["group"]), updates, now))
        except (ValueError, KeyError, TypeError, IndexError):
            log.exception("held albums could not be read back; they are dropped")
            self._held = []

    async def hold(self, update: Update) -> bool:
        """True when the update is held (an album's item, or waits behind one)."""
        msg = update.message or update.edited_message
        if msg is None or any(u.update_id == update.update_id
                              for held in self._held for u in held.updates):
            return msg is not None  # an update delivered again is held once
        user = msg.from_user
        key = (msg.chat.id, user.id if user is not None else 0)
        group = msg.media_group_id if update.message is not None else None
        mine = [held for held in self._held if held.key == key]
        if (not group and not mine) or sum(len(h.updates) for h in self._held) >= _MAX_HELD:
            return False
        same = next((held for held in mine if group and held.group == group), None)
        if same is None:
            self._held.append(Held(key, group or "", [update], self._clock()))
        else:
            same.updates.append(update)
            same.last = self._clock()
        await self._save()
        return True

    def wait(self) -> float | None:
        """Seconds until something is due; None while nothing is held."""
        due = [self._due_in(held) for held in self._heads()]
        return max(0.0, min(due)) if due else None

    def due(self) -> list[Held]:
        """What may go now, in the order it came: per sender, an album whose quiet
        window has passed and the single updates behind it."""
        out: list[Held] = []
        blocked: set[tuple[int, int]] = set()
        for held in self._held:
            if held.key in blocked:
                continue
            if held.album and self._due_in(held) > 0:
                blocked.add(held.key)
                continue
            out.append(held)
        return out

    async def done(self, held: Held) -> None:
        """Forget what was passed on."""
        if held in self._held:
            self._held.remove(held)
            await self._save()

    def _heads(self) -> list[Held]:
        seen: set[tuple[int, int]] = set()
        heads = []
        for held in self._held:
            if held.key not in seen:
                seen.add(held.key)
                heads.append(held)
        return heads

    def _due_in(self, held: Held) -> float:
        return held.last + self._quiet - self._clock() if held.album else 0.0

    async def _save(self) -> None:
        entries = [{"key": list(h.key), "group": h.group,
                    "updates": [u.to_dict() for u in h.updates]} for h in self._held]
        await self._store.set_state(ALBUMS_KEY, json.dumps(entries) if entries else "")
