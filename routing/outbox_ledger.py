"""What the outbox counts, and what it must remember across a crash.

A send to Telegram or by email cannot be taken back and carries no idempotency key the
other side honours. So before such a send the ledger durably notes "attempt started"
(one state row, rewritten before every send), and forgets it once the result is
recorded. A delivery found in that note after a restart may already have arrived: it is
sent again (never lost) and counted as a possible duplicate. The same holds in-process
after a failure that may have happened after the far side accepted the message (a
timeout, a cut connection, a lost response). Deliveries to the widget are exempt: the
widget shows each message id once, so a re-push is harmless.

The note also carries the rate-limit windows (``SendBudget.tally``), so a restarted
process does not spend a budget Telegram still counts.

Concurrent sends share writes: one note is written at a time, and every send noted
while it is under way waits for the next one, which names them all. So a burst of 500
sends costs a note per commit of the store, not 500, and each send still starts only
once a note naming it is durable. Each attempt's entry is written as JSON once, when it
is noted, and a note joins them: a note names every send under way (500 lanes waiting
for 64 send slots: 500 entries), and encoding them all again for every note cost about
a millisecond of the event loop each time, 15 µs a send.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import math
from collections import Counter
from collections.abc import Iterable
from json.encoder import encode_basestring_ascii

from routing.limits import SendBudget
from routing.ports import Cursors

__all__ = ["COUNTERS", "LEDGER_KEY", "DeliveryLedger"]

log = logging.getLogger(__name__)

LEDGER_KEY = "outbox.ledger"
COUNTERS = (
    "sent",  # sends that succeeded (a coalesced send counts once)
    "delivered",  # deliveries recorded done (each coalesced part counts)
    "coalesced",  # deliveries that rode along in another's send
    "retried",  # attempts that failed and were scheduled again
    "failed",  # deliveries given up and reported
    "rate_limited",  # 429s received (each paused only the chat it named)
    "budget_waits",  # sends that waited for a window to have room
    "possible_duplicates",  # messages sent again that may already have arrived
    "crash_resends",  # of those, the ones found unrecorded after a restart
)


class DeliveryLedger:
    """Counters for ``/metrics`` and the durable "attempt started" note."""

    def __init__(self, store: Cursors, budget: SendBudget, *, keep: float = 86_400.0) -> None:
        self._store = store
        self._budget = budget
        self._keep = keep  # forget an unsure delivery after this long (it was surely settled)
        self.counts: Counter[str] = Counter(dict.fromkeys(COUNTERS, 0))
        self._in_flight: dict[str, float] = {}  # delivery id -> when its send began
        self._in_flight_json: dict[str, str] = {}  # the same, each entry as the note has it
        self._unsure: dict[str, float] = {}  # may have arrived without being recorded
        self._from_crash: set[str] = set()
        self.recovered = False
        self._now = 0.0  # the latest moment an attempt was noted
        self._writing: asyncio.Future[None] | None = None  # the note write under way
        self._next: asyncio.Future[None] | None = None  # the note not yet begun
        self._listening: list[asyncio.Future[None]] = []  # the attempts waiting for it

    async def recover(self, now: float) -> None:
        """Read the note a previous process left (once, before the first send)."""
        self.recovered = True
        raw = await self._store.get_state(LEDGER_KEY)
        if not raw:
            return
        try:
            note = json.loads(raw)
            unsure = {str(k): float(v) for k, v in note.get("unsure", {}).items()}
            cut = {str(k): float(v) for k, v in note.get("in_flight", {}).items()}
            self._budget.restore(note.get("sent", {}))
        except (ValueError, TypeError, AttributeError):
            log.warning("outbox ledger note is unreadable; starting without it")
            return
        self._unsure.update({k: v for k, v in unsure.items() if now - v < self._keep})
        cut = {k: v for k, v in cut.items() if now - v < self._keep}
        self._unsure.update(cut)
        self._from_crash.update(cut)
        if cut:
            # The note is rewritten only before sends, so it may also name sends that
            # finished: only those still pending are sent again (and counted then).
            log.warning("the bridge stopped with up to %d sends under way; any of them "
                        "not recorded as done is sent again and counted as a possible "
                        "duplicate", len(cut))

    async def before_send(self, ids: Iterable[str], now: float) -> None:
        """Count the messages a re-send may deliver twice, then durably note the attempt.

        Per message, not per send: a re-send after a wait carries the unsure messages
        together with newer ones in one post, and each unsure one may then show twice."""
        ids = list(ids)
        unsure = sum(1 for i in ids if i in self._unsure) if self._unsure else 0
        if unsure:
            self.counts["possible_duplicates"] += unsure
            if any(i in self._from_crash for i in ids):
                self.counts["crash_resends"] += 1
        entry = _json_value(now)
        for i in ids:
            self._in_flight[i] = now
            self._in_flight_json[i] = f"{encode_basestring_ascii(i)}:{entry}"
        self._now = max(self._now, now)
        # Return once a note built after this attempt was noted is stored. A note already
        # under way was built before this attempt: the attempt waits for the next note,
        # which is built once that one is stored (so notes are stored in order, and all
        # attempts noted meanwhile share it).
        if self._next is None:
            self._next = asyncio.ensure_future(self._write_after(self._writing))
            self._listening = []
            self._next.add_done_callback(functools.partial(_tell, self._listening))
        # Its own future, as ``asyncio.shield`` would make (an attempt cancelled at drain
        # stops listening; the note goes on), told by one callback of the note's for all
        # (shield costs three a waiter: 500 lanes wait on one note).
        heard: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._listening.append(heard)
        await heard

    async def _write_after(self, before: asyncio.Future[None] | None) -> None:
        if before is not None:
            await asyncio.wait([before])  # its failure is its own waiters' to hear
        self._writing, self._next = self._next, None  # attempts from now: the next note
        try:
            await self._store.set_state(LEDGER_KEY, self._note(self._now))
        finally:
            if self._writing is asyncio.current_task():
                self._writing = None

    def is_unsure(self, delivery_id: str) -> bool:
        return delivery_id in self._unsure

    def settled(self, ids: Iterable[str]) -> None:
        """The outcome is recorded (done, failed for good): nothing is unsure any more."""
        for i in ids:
            self._in_flight.pop(i, None)
            self._in_flight_json.pop(i, None)
            self._unsure.pop(i, None)
            self._from_crash.discard(i)

    def failed_attempt(self, ids: Iterable[str], maybe_sent: bool) -> None:
        """A send failed; if the far side may have taken it anyway, a re-send is unsure."""
        for i in ids:
            began = self._in_flight.pop(i, None)
            self._in_flight_json.pop(i, None)
            if maybe_sent and began is not None:
                self._unsure[i] = began

    def _note(self, now: float) -> str:
        """``{"in_flight": …, "unsure": …, "sent": …}`` as ``json.dumps`` writes it (the
        entries under way joined, not encoded again)."""
        unsure = {k: v for k, v in self._unsure.items() if now - v < self._keep}
        return "".join(('{"in_flight":{', ",".join(self._in_flight_json.values()),
                        '},"unsure":', json.dumps(unsure, separators=(",", ":")),
                        ',"sent":', json.dumps(self._budget.tally(now), separators=(",", ":")),
                        "}"))


def _tell(listening: list[asyncio.Future[None]], note: asyncio.Future[None]) -> None:
    """Every attempt still waiting for ``note`` hears how its write ended."""
    failure = None if note.cancelled() else note.exception()  # heard, whoever listens
    for heard in listening:
        if heard.done():  # cancelled: nobody listens
            continue
        if note.cancelled():
            heard.cancel()
        elif failure is not None:
            heard.set_exception(failure)
        else:
            heard.set_result(None)


def _json_value(value: float) -> str:
    """A moment as ``json.dumps`` writes it (``repr`` for a finite float)."""
    if type(value) is float and math.isfinite(value):
        return repr(value)
    return json.dumps(value)
