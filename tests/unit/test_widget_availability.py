"""What the widget is told of the desk: the roster's own answers, read once per hello."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from adapters.widget.availability import Availability
from bridge.channels import widget_availability
from routing.duty import DutyRoster
from routing.hours import OpeningHours
from tests.unit.fakes import FakeClock

ZONE = "Asia/Jakarta"
WEEKDAYS = {d: "08:00-16:00" for d in ("mon", "tue", "wed", "thu", "fri")}


def local(day: int, hour: int, minute: int = 0) -> float:
    """A moment in June 2025 in Jakarta (2 June is a Monday)."""
    return dt.datetime(2025, 6, day, hour, minute, tzinfo=ZoneInfo(ZONE)).timestamp()


def as_roster_says(roster: DutyRoster, at: float) -> Availability:
    return Availability(roster.staffed(at), roster.opens_text(at, "en"),
                        roster.opens_text(at, "id"))


class TestWidgetAvailability:
    def test_every_hour_of_a_week_reads_as_the_roster_says(self) -> None:
        """Open, closed, on duty outside hours, and a desk emptied in hours: at each hour
        of the week the widget's answer is the roster's staffed and opens_text."""
        roster = DutyRoster(OpeningHours.from_config(WEEKDAYS, ZONE), shift=4 * 3600)
        clock = FakeClock(local(2, 0))
        availability = widget_availability(roster, clock)
        roster.on_duty("42", "Sari", local(7, 10))  # a Saturday shift, ended by `shift`
        roster.on_duty("7", "Budi", local(3, 9))
        roster.off_duty("7", local(3, 14))  # emptied on Tuesday afternoon
        seen = set()
        for hour in range(7 * 24):
            at = local(2, 0) + hour * 3600
            clock.advance(at - clock.now())
            answer = availability()
            assert answer == as_roster_says(roster, at)
            seen.add((answer.staffed, answer.opens_text_en))
        assert {staffed for staffed, _ in seen} == {True, False}
        assert len(seen) >= 3
