"""Who is at the desk: librarians who said ``/onduty``, and whether the desk is staffed.

The desk is staffed when someone is on duty, or, with nobody listed, during opening
hours, unless a librarian emptied it with ``/offduty`` during those hours: then it stays
offline (the widget shows its offline form) until the library opens again, or until
somebody says ``/onduty``. Pure state, saved as a JSON string through ``Store.set_state``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from routing.hours import OpeningHours

__all__ = ["STATE_KEY", "DutyRoster", "OnDuty"]

STATE_KEY = "duty"  # the Store.set_state key the roster is kept under
_VERSION = 1


@dataclass(frozen=True, slots=True)
class OnDuty:
    librarian_id: str
    name: str
    since: float


class DutyRoster:
    """The on-duty list plus the moment the desk was explicitly emptied, if it was.

    ``shift`` (seconds, optional) ends a forgotten ``/onduty``: an entry older than that
    no longer staffs the desk, so a librarian who went home without ``/offduty`` does
    not keep the live chat open all night.
    """

    def __init__(self, hours: OpeningHours, shift: float | None = None) -> None:
        self.hours = hours
        self.shift = shift
        self._on_duty: dict[str, OnDuty] = {}
        self.emptied_at: float | None = None

    def on_duty(self, librarian_id: str, name: str, at: float) -> bool:
        """List a librarian; returns False when they were already listed (name refreshed)."""
        known = self._on_duty.get(librarian_id)
        fresh = known is None or not self._current(known, at)
        since = at if fresh or known is None else known.since
        self._on_duty[librarian_id] = OnDuty(librarian_id, name, since)
        self.emptied_at = None
        return fresh

    def off_duty(self, librarian_id: str, at: float) -> bool:
        """Take a librarian off the list; returns whether they were on it.

        When nobody is left during opening hours the desk counts as emptied. That holds
        even if the librarian had not said ``/onduty``: during opening hours everyone
        in the group is implicitly at the desk, and ``/offduty`` says nobody is.
        """
        was_listed = self._on_duty.pop(librarian_id, None) is not None
        if not self.present(at) and self.hours.is_open(at):
            self.emptied_at = at
        return was_listed

    def _current(self, entry: OnDuty, at: float) -> bool:
        return self.shift is None or at - entry.since < self.shift

    def present(self, at: float) -> list[OnDuty]:
        """Librarians on duty at ``at``, longest-serving first (the ``/who`` list)."""
        entries = [e for e in self._on_duty.values() if self._current(e, at)]
        return sorted(entries, key=lambda e: (e.since, e.librarian_id))

    def reopens_at(self) -> float | None:
        """When an emptied desk counts as staffed again: the next opening after closing."""
        if self.emptied_at is None:
            return None
        closing = self.hours.next_closing(self.emptied_at)
        return None if closing is None else self.hours.next_opening(closing)

    def staffed(self, at: float) -> bool:
        if self.present(at):
            return True
        if not self.hours.is_open(at):
            return False
        if self.emptied_at is None or at < self.emptied_at:
            return True
        reopens = self.reopens_at()
        return reopens is not None and at >= reopens

    def desk_size(self, at: float) -> int:
        """How many librarians answer now: those listed, or one when staffed by the hours."""
        listed = len(self.present(at))
        return listed or (1 if self.staffed(at) else 0)

    def next_staffed(self, at: float) -> float | None:
        """When patrons can expect an answer: now if staffed, else the next opening."""
        if self.staffed(at):
            return at
        opening = self.hours.next_opening(at)
        if self.emptied_at is not None and opening is not None:
            reopens = self.reopens_at()
            if reopens is None:  # emptied with the hours never closing: only /onduty helps
                return None
            opening = max(opening, reopens)
        return opening

    def opens_text(self, at: float, lang: str = "en") -> str:
        """The offline form's sentence, counting an emptied desk: "We answer again ..."."""
        return self.hours.sentence(at, self.next_staffed(at), lang)

    def to_json(self) -> str:
        return json.dumps({
            "version": _VERSION,
            "on_duty": [
                {"id": e.librarian_id, "name": e.name, "since": e.since}
                for e in self._on_duty.values()
            ],
            "emptied_at": self.emptied_at,
        }, sort_keys=True)

    @classmethod
    def from_json(
        cls, text: str | None, hours: OpeningHours, shift: float | None = None
    ) -> DutyRoster:
        """Restore a saved roster; ``None`` (nothing saved yet) gives an empty one."""
        roster = cls(hours, shift)
        if text is None:
            return roster
        try:
            data = json.loads(text)
            if data.get("version") != _VERSION:
                raise ValueError(f"version {data.get('version')!r}")
            for entry in data["on_duty"]:
                roster._on_duty[str(entry["id"])] = OnDuty(
                    str(entry["id"]), str(entry["name"]), float(entry["since"])
                )
            emptied = data.get("emptied_at")
            roster.emptied_at = None if emptied is None else float(emptied)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise ValueError(f"saved duty roster is unreadable: {exc}") from None
        return roster
