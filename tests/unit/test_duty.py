"""The duty roster: /onduty, /offduty, staffed by hours, an emptied desk, and saving it."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from routing.duty import DutyRoster
from routing.hours import OpeningHours
from tests.unit.fakes import FakeClock

ZONE = "Asia/Jakarta"
WEEKDAYS = {d: "08:00-16:00" for d in ("mon", "tue", "wed", "thu", "fri")}


def local(day: int, hour: int, minute: int = 0) -> float:
    """A moment in June 2025 in Jakarta (2 June is a Monday)."""
    return dt.datetime(2025, 6, day, hour, minute, tzinfo=ZoneInfo(ZONE)).timestamp()


@pytest.fixture
def roster() -> DutyRoster:
    return DutyRoster(OpeningHours.from_config(WEEKDAYS, ZONE))


class TestStaffed:
    def test_hours_staff_the_desk_with_nobody_listed(self, roster: DutyRoster) -> None:
        """With no /onduty, the desk is staffed exactly during opening hours."""
        assert roster.staffed(local(2, 9))
        assert not roster.staffed(local(2, 17))
        assert not roster.staffed(local(7, 10))  # Saturday

    def test_on_duty_staffs_outside_hours(self, roster: DutyRoster) -> None:
        """A librarian on duty on Saturday staffs the desk until they go off duty."""
        assert roster.on_duty("42", "Sari", local(7, 10))
        assert roster.staffed(local(7, 11))
        assert roster.off_duty("42", local(7, 12))
        assert not roster.staffed(local(7, 12, 1))

    def test_offduty_in_hours_empties_desk_until_next_opening(self, roster: DutyRoster) -> None:
        """The last librarian leaving at 14:00 Monday leaves it offline until Tuesday 08:00."""
        fake = FakeClock(local(2, 9))
        roster.on_duty("42", "Sari", fake.now())
        fake.advance(5 * 3600)
        roster.off_duty("42", fake.now())
        assert not roster.staffed(fake.now())
        assert not roster.staffed(local(2, 15, 59))
        assert roster.reopens_at() == local(3, 8)
        assert roster.next_staffed(fake.now()) == local(3, 8)
        assert roster.staffed(local(3, 8))
        assert roster.opens_text(fake.now(), "en") == "We answer again tomorrow at 08:00 WIB"
        assert roster.opens_text(local(3, 9), "id") == "Kami sedang buka"

    def test_offduty_without_onduty_still_empties_desk(self, roster: DutyRoster) -> None:
        """/offduty from a librarian who never said /onduty also empties an hours-staffed desk."""
        assert not roster.off_duty("7", local(2, 10))
        assert not roster.staffed(local(2, 10, 1))

    def test_onduty_after_emptying_staffs_again(self, roster: DutyRoster) -> None:
        """Someone saying /onduty after the desk was emptied brings it back at once."""
        roster.off_duty("7", local(2, 10))
        roster.on_duty("8", "Budi", local(2, 11))
        assert roster.staffed(local(2, 11))
        roster.off_duty("8", local(2, 12))
        assert not roster.staffed(local(2, 12))

    def test_offduty_outside_hours_does_not_skip_next_opening(self, roster: DutyRoster) -> None:
        """Going off duty on Saturday leaves Monday's opening staffed as usual."""
        roster.on_duty("42", "Sari", local(7, 10))
        roster.off_duty("42", local(7, 12))
        assert roster.emptied_at is None
        assert roster.staffed(local(9, 8))

    def test_one_leaving_while_another_stays(self, roster: DutyRoster) -> None:
        """The desk is not emptied while another librarian is still on duty."""
        roster.on_duty("1", "Sari", local(2, 9))
        roster.on_duty("2", "Budi", local(2, 9, 30))
        roster.off_duty("1", local(2, 10))
        assert roster.staffed(local(2, 10, 1))
        assert [e.name for e in roster.present(local(2, 10, 1))] == ["Budi"]

    def test_always_open_desk_emptied_waits_for_onduty(self) -> None:
        """With 24/7 hours an emptied desk stays offline until someone says /onduty."""
        roster = DutyRoster(OpeningHours.always(ZONE))
        roster.off_duty("1", local(2, 10))
        assert not roster.staffed(local(9, 10))
        assert roster.next_staffed(local(2, 11)) is None

    def test_forgotten_onduty_ends_after_shift(self) -> None:
        """With a 10-hour shift, Friday's forgotten /onduty no longer staffs Saturday."""
        roster = DutyRoster(OpeningHours.from_config(WEEKDAYS, ZONE), shift=10 * 3600)
        roster.on_duty("42", "Sari", local(6, 9))
        assert roster.staffed(local(6, 18))
        assert not roster.staffed(local(6, 20))
        assert roster.present(local(6, 20)) == []

    def test_desk_size(self, roster: DutyRoster) -> None:
        """Listed librarians count; an hours-staffed desk counts one; a closed desk none."""
        assert roster.desk_size(local(2, 9)) == 1
        roster.on_duty("1", "Sari", local(2, 9))
        roster.on_duty("2", "Budi", local(2, 9))
        assert roster.desk_size(local(2, 9)) == 2
        roster.off_duty("1", local(2, 10))
        roster.off_duty("2", local(2, 10))
        assert roster.desk_size(local(2, 11)) == 0


class TestRoster:
    def test_onduty_twice_keeps_since_and_renames(self, roster: DutyRoster) -> None:
        """A repeated /onduty keeps the original start and takes the new display name."""
        assert roster.on_duty("1", "Sari", local(2, 9))
        assert not roster.on_duty("1", "Sari W.", local(2, 10))
        [entry] = roster.present(local(2, 10))
        assert (entry.name, entry.since) == ("Sari W.", local(2, 9))

    def test_who_lists_longest_serving_first(self, roster: DutyRoster) -> None:
        """present() orders librarians by when they came on duty."""
        roster.on_duty("b", "Budi", local(2, 10))
        roster.on_duty("a", "Ani", local(2, 11))
        roster.on_duty("c", "Citra", local(2, 9))
        assert [e.name for e in roster.present(local(2, 12))] == ["Citra", "Budi", "Ani"]

    def test_json_round_trip(self, roster: DutyRoster) -> None:
        """A saved roster restores its librarians and its emptied desk."""
        roster.on_duty("1", "Sari", local(2, 9))
        roster.off_duty("1", local(2, 10))
        roster.on_duty("2", "Budi \"B\" <b>", local(2, 17))
        restored = DutyRoster.from_json(roster.to_json(), roster.hours)
        assert restored.present(local(2, 18)) == roster.present(local(2, 18))
        assert restored.emptied_at == roster.emptied_at
        assert restored.to_json() == roster.to_json()

    def test_nothing_saved_is_empty(self, roster: DutyRoster) -> None:
        """No saved state gives an empty roster staffed by the hours."""
        restored = DutyRoster.from_json(None, roster.hours)
        assert restored.present(local(2, 9)) == [] and restored.staffed(local(2, 9))

    @pytest.mark.parametrize("text", ["{", "[]", '{"version": 9}', '{"version": 1}',
                                      '{"version": 1, "on_duty": [{"id": 1}]}'])
    def test_unreadable_state_is_a_clear_error(self, roster: DutyRoster, text: str) -> None:
        """Corrupt saved state raises one ValueError the caller can log and replace."""
        with pytest.raises(ValueError, match="saved duty roster is unreadable"):
            DutyRoster.from_json(text, roster.hours)
