"""The patron's place in the queue and the estimated wait."""

from __future__ import annotations

import pytest

from routing.queue import (
    DEFAULT_WAIT,
    QueueSpot,
    ResponseTimes,
    estimate_wait,
    queue_spot,
    spot_text,
    wait_text,
)
from routing.reminders import Waiting
from tests.unit.fakes import FakeClock

T0 = 1_700_000_000.0


@pytest.fixture
def line() -> list[Waiting]:
    return [Waiting("third", T0 + 30), Waiting("first", T0), Waiting("second", T0 + 10)]


class TestPlace:
    def test_ordered_by_first_unanswered_message(self, line: list[Waiting]) -> None:
        """Position follows when each patron's unanswered stretch began, not list order."""
        times = ResponseTimes()
        spots = {w.conversation_id: queue_spot(w.conversation_id, line, T0 + 60, times, 1)
                 for w in line}
        assert {k: (s.position, s.waiting) for k, s in spots.items() if s} == {
            "first": (1, 3), "second": (2, 3), "third": (3, 3)}

    def test_not_waiting_has_no_place(self, line: list[Waiting]) -> None:
        """An answered conversation is not in the queue."""
        assert queue_spot("answered", line, T0, ResponseTimes(), 1) is None

    def test_equal_times_break_ties_by_id(self) -> None:
        """Two patrons who wrote in the same second keep a stable order."""
        line = [Waiting("b", T0), Waiting("a", T0)]
        spot = queue_spot("b", line, T0, ResponseTimes(), 1)
        assert spot is not None and spot.position == 2


class TestEstimate:
    def test_median_of_recent_first_responses(self) -> None:
        """The median of the kept times is used, and only the most recent ones are kept."""
        times = ResponseTimes(keep=3, seen=[1000, 60, 120, 240])
        assert times.median() == 120
        assert len(times) == 3

    def test_default_without_history(self, clock: FakeClock) -> None:
        """With no first responses yet, the next patron waits the default estimate."""
        spot = queue_spot("c", [Waiting("c", clock.now())], clock.now(), ResponseTimes(), 1)
        assert spot == QueueSpot(1, 1, DEFAULT_WAIT)

    def test_unknown_with_nobody_at_the_desk(self) -> None:
        """With no librarian answering, the wait is unknown rather than a made-up number."""
        assert estimate_wait(1, 0.0, 120.0, librarians=0) is None

    def test_position_and_librarians_scale_the_wait(self) -> None:
        """Fourth in line with two librarians waits two median stretches, less time waited."""
        assert estimate_wait(4, 0.0, 120.0, librarians=2) == 240.0
        assert estimate_wait(4, 100.0, 120.0, librarians=2) == 140.0
        assert estimate_wait(1, 0.0, 120.0, librarians=3) == 120.0

    def test_never_promises_zero(self) -> None:
        """A patron who already waited longer than the estimate is told under a minute."""
        assert estimate_wait(1, 900.0, 120.0, librarians=1) == 30.0

    def test_bad_samples_are_ignored(self) -> None:
        """Negative or infinite response times (clock skew) never reach the median."""
        times = ResponseTimes(seen=[-5.0, float("inf"), float("nan"), 90.0])
        assert times.median() == 90.0

    def test_json_round_trip(self) -> None:
        """Saved response times restore the same median; garbage is a clear error."""
        times = ResponseTimes(seen=[30, 90, 300])
        assert ResponseTimes.from_json(times.to_json()).median() == 90
        assert ResponseTimes.from_json(None).median() is None
        with pytest.raises(ValueError, match="unreadable"):
            ResponseTimes.from_json('{"a": 1}')


class TestWording:
    @pytest.mark.parametrize(
        ("seconds", "en", "indonesian"),
        [
            (None, "we cannot estimate the wait right now",
             "perkiraan waktu tunggu belum tersedia"),
            (30.0, "less than a minute", "kurang dari satu menit"),
            (70.0, "about 1 minute", "sekitar 1 menit"),
            (290.0, "about 5 minutes", "sekitar 5 menit"),
            (4000.0, "more than an hour", "lebih dari satu jam"),
        ],
    )
    def test_wait_text(self, seconds: float | None, en: str, indonesian: str) -> None:
        """Waits are said in whole minutes in English and Indonesian."""
        assert wait_text(seconds, "en") == en
        assert wait_text(seconds, "id") == indonesian

    def test_spot_text(self) -> None:
        """The widget line gives the place and the wait, or says it cannot estimate."""
        assert spot_text(QueueSpot(1, 2, 45.0)) == (
            "You are next in line. Estimated wait: less than a minute.")
        assert spot_text(QueueSpot(3, 4, 360.0), "id") == (
            "Anda nomor 3 dalam antrean. Perkiraan waktu tunggu: sekitar 6 menit.")
        assert spot_text(QueueSpot(2, 2, None), "en-GB") == (
            "You are number 2 in line. We cannot estimate the wait right now.")
