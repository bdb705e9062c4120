"""The crash note the ledger writes before each send: joined from entries encoded once,
it is the very JSON the whole dict would encode to, and a restart reads it back."""

from __future__ import annotations

import asyncio
import json

from routing.limits import SendBudget, WindowRule
from routing.outbox_ledger import LEDGER_KEY, DeliveryLedger


class NoteStore:
    """Keeps every note written, as the store's state row would."""

    def __init__(self) -> None:
        self.notes: list[str] = []

    async def get_state(self, key: str) -> str | None:
        assert key == LEDGER_KEY
        return self.notes[-1] if self.notes else None

    async def set_state(self, key: str, value: str) -> None:
        assert key == LEDGER_KEY
        self.notes.append(value)


def _whole(ledger: DeliveryLedger, budget: SendBudget, now: float) -> str:
    """The note as the ledger wrote it before entries were encoded once."""
    unsure = {k: v for k, v in ledger._unsure.items() if now - v < 86_400.0}
    return json.dumps({"in_flight": ledger._in_flight, "unsure": unsure,
                       "sent": budget.tally(now)}, separators=(",", ":"))


class TestNote:
    async def test_the_joined_note_is_the_json_of_the_whole_dict(self) -> None:
        """Through notes, a re-noted id, settled and failed sends (unsure or not), moments
        of every kind (a float, an int, one with a long repr), each note is byte for
        byte what ``json.dumps`` made of the dict."""
        budget = SendBudget({"group": WindowRule(20, 60.0)})
        store = NoteStore()
        ledger = DeliveryLedger(store, budget)
        await ledger.recover(1_000.0)
        budget.reserve(("group:-1",), 1_000.0)
        steps = [
            lambda: ledger.before_send(["a", "b"], 1_000.25),
            lambda: ledger.before_send(["c"], 1_001),
            lambda: ledger.before_send(["a"], 1_002.1 + 1e-9),  # noted again: moved on
            lambda: ledger.before_send(['q"uote', "ünï"], 1_003.0),
        ]
        for step in steps:
            await step()
            assert store.notes[-1] == _whole(ledger, budget, ledger._now)
        ledger.settled(["b"])
        ledger.failed_attempt(["c"], maybe_sent=True)
        ledger.failed_attempt(['q"uote'], maybe_sent=False)
        await ledger.before_send(["d"], 1_004.5)
        assert store.notes[-1] == _whole(ledger, budget, 1_004.5)
        assert json.loads(store.notes[-1])["in_flight"] == {"a": 1_002.1 + 1e-9, "ünï": 1_003.0,
                                                            "d": 1_004.5}

    async def test_sends_noted_together_share_one_note_that_names_them_all(self) -> None:
        """Fifty attempts noted in one turn of the loop cost one note, naming them all."""
        store = NoteStore()
        ledger = DeliveryLedger(store, SendBudget({}))
        await ledger.recover(0.0)
        await asyncio.gather(*(ledger.before_send([f"d{n}"], float(n)) for n in range(50)))
        assert len(store.notes) == 1
        assert set(json.loads(store.notes[-1])["in_flight"]) == {f"d{n}" for n in range(50)}

    async def test_a_restart_finds_the_sends_under_way_unsure(self) -> None:
        """What the last note names as under way is, after a restart, a possible
        duplicate when sent again."""
        store = NoteStore()
        before = DeliveryLedger(store, SendBudget({}))
        await before.recover(10.0)
        await before.before_send(["x", "y"], 10.0)
        before.settled(["y"])
        await before.before_send(["z"], 11.0)
        after = DeliveryLedger(store, SendBudget({}))
        await after.recover(12.0)
        assert [after.is_unsure(i) for i in ("x", "y", "z")] == [True, False, True]
        await after.before_send(["x", "z"], 12.0)
        assert after.counts["possible_duplicates"] == 2 and after.counts["crash_resends"] == 1


class FlakyNoteStore(NoteStore):
    """Fails the first write it is asked for; holds each write until ``go`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.go = asyncio.Event()
        self.failed = False

    async def set_state(self, key: str, value: str) -> None:
        await self.go.wait()
        if not self.failed:
            self.failed = True
            raise OSError("disk full")
        await super().set_state(key, value)


class TestWaiting:
    async def test_every_attempt_waiting_for_a_failed_note_hears_the_failure(self) -> None:
        """A note that could not be stored fails every attempt it named (none is sent
        unnoted), and the next attempt writes a note of its own."""
        store = FlakyNoteStore()
        ledger = DeliveryLedger(store, SendBudget({}))
        await ledger.recover(0.0)
        waiting = [asyncio.ensure_future(ledger.before_send([f"d{n}"], 1.0)) for n in range(3)]
        await asyncio.sleep(0)
        store.go.set()
        outcomes = await asyncio.gather(*waiting, return_exceptions=True)
        assert all(isinstance(o, OSError) for o in outcomes)
        await ledger.before_send(["e"], 2.0)
        assert len(store.notes) == 1 and "e" in json.loads(store.notes[0])["in_flight"]

    async def test_an_attempt_cancelled_while_waiting_leaves_the_note_to_the_others(
            self) -> None:
        """Cancelling one waiting attempt (a lane stopped at drain) neither cancels the
        note nor the attempts that share it."""
        store = FlakyNoteStore()
        store.failed = True  # this one stores its notes
        ledger = DeliveryLedger(store, SendBudget({}))
        await ledger.recover(0.0)
        waiting = [asyncio.ensure_future(ledger.before_send([f"d{n}"], 1.0)) for n in range(3)]
        await asyncio.sleep(0)
        waiting[1].cancel()
        await asyncio.sleep(0)
        store.go.set()
        await asyncio.gather(waiting[0], waiting[2])
        assert waiting[1].cancelled() and len(store.notes) == 1
