"""Opening hours: parsing with clear errors, open/closed, next opening, DST, wording."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from routing.hours import OpeningHours

JAKARTA = "Asia/Jakarta"
AMSTERDAM = "Europe/Amsterdam"
WEEK = {
    "mon": "08:00-12:00, 13:00-16:00", "tue": "08:00-12:00, 13:00-16:00",
    "wed": "08:00-12:00, 13:00-16:00", "thu": "08:00-12:00, 13:00-16:00",
    "fri": "08:00-11:30", "sat": "09.00-12.00", "sun": "closed",
}


def at(zone: str, year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> float:
    """Epoch seconds of a wall-clock time in ``zone``."""
    return dt.datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(zone)).timestamp()


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> float:
    return dt.datetime(year, month, day, hour, minute, tzinfo=dt.UTC).timestamp()


@pytest.fixture
def hours() -> OpeningHours:
    return OpeningHours.from_config(WEEK, JAKARTA, ["2025-06-05", "2025-12-24..2025-12-26"])


class TestParsing:
    @pytest.mark.parametrize(
        ("days", "words"),
        [
            ({"mon": "8-16"}, ["hours.mon", "'8-16'"]),
            ({"tue": "08:00-25:00"}, ["hours.tue", "25:00"]),
            ({"wed": "08:00-12:00, 13:00"}, ["hours.wed", "'13:00'"]),
            ({"thu": "22:00-02:00"}, ["hours.thu", "crosses midnight", "24:00"]),
            ({"fri": "08:00-12:00, 11:00-14:00"}, ["hours.fri", "overlap", "11:00"]),
            ({"sat": "10:00-10:00"}, ["hours.sat", "empty"]),
            ({"sun": ""}, ["hours.sun", "closed"]),
            ({"monday": "08:00-16:00"}, ["hours.monday", "not a day"]),
            ({"mon": "08:61-16:00"}, ["hours.mon", "08:61"]),
        ],
    )
    def test_bad_day_names_the_day_and_the_part(self, days: dict[str, str],
                                                 words: list[str]) -> None:
        """Every refused day text raises a ValueError naming the day and the bad part."""
        with pytest.raises(ValueError) as caught:
            OpeningHours.from_config(days, JAKARTA)
        for word in words:
            assert word in str(caught.value)

    def test_bad_closure_and_zone_are_named(self) -> None:
        """A malformed closure date and an unknown time zone are refused by name."""
        with pytest.raises(ValueError, match=r"hours\.closures: '2025-13-01'"):
            OpeningHours.from_config(WEEK, JAKARTA, ["2025-13-01"])
        with pytest.raises(ValueError, match="run forward"):
            OpeningHours.from_config(WEEK, JAKARTA, ["2025-12-26..2025-12-24"])
        with pytest.raises(ValueError, match=r"library\.timezone: unknown time zone 'Mars/Base'"):
            OpeningHours.from_config(WEEK, "Mars/Base")

    def test_missing_day_is_closed_and_24_00_ends_the_day(self) -> None:
        """An absent day is closed; 24:00 closes exactly at the next midnight."""
        hours = OpeningHours.from_config({"fri": "20:00-24:00", "sat": "00:00-02:00"}, JAKARTA)
        assert not hours.is_open(at(JAKARTA, 2025, 6, 2, 10))  # Monday
        assert hours.is_open(at(JAKARTA, 2025, 6, 6, 23, 59))
        assert hours.is_open(at(JAKARTA, 2025, 6, 7, 0, 0))
        assert hours.next_closing(at(JAKARTA, 2025, 6, 6, 21)) == at(JAKARTA, 2025, 6, 7, 2)


class TestOpen:
    def test_open_within_ranges_closed_between(self, hours: OpeningHours) -> None:
        """Ranges include their start and exclude their end; the lunch gap is closed."""
        monday = (2025, 6, 2)
        assert not hours.is_open(at(JAKARTA, *monday, 7, 59))
        assert hours.is_open(at(JAKARTA, *monday, 8, 0))
        assert hours.is_open(at(JAKARTA, *monday, 11, 59))
        assert not hours.is_open(at(JAKARTA, *monday, 12, 0))
        assert hours.is_open(at(JAKARTA, *monday, 13, 0))
        assert not hours.is_open(at(JAKARTA, *monday, 16, 0))
        assert not hours.is_open(at(JAKARTA, 2025, 6, 8, 10))  # Sunday

    def test_closure_dates_are_closed(self, hours: OpeningHours) -> None:
        """A listed date and every date of a listed span are closed all day."""
        assert not hours.is_open(at(JAKARTA, 2025, 6, 5, 10))  # a Thursday holiday
        assert not hours.is_open(at(JAKARTA, 2025, 12, 25, 10))
        assert hours.is_open(at(JAKARTA, 2025, 12, 23, 10))

    def test_open_is_judged_in_the_library_zone(self, hours: OpeningHours) -> None:
        """08:00 in Jakarta is 01:00 UTC: the same instant is open whatever the host's zone."""
        assert hours.is_open(utc(2025, 6, 2, 1, 0))
        assert not hours.is_open(utc(2025, 6, 2, 0, 59))


class TestNextOpening:
    def test_friday_evening_opens_saturday(self, hours: OpeningHours) -> None:
        """After Friday's closing the next opening is Saturday 09:00 local."""
        assert hours.next_opening(at(JAKARTA, 2025, 6, 6, 17)) == at(JAKARTA, 2025, 6, 7, 9)

    def test_open_now_is_now(self, hours: OpeningHours) -> None:
        """While open, the next opening is the moment asked about."""
        moment = at(JAKARTA, 2025, 6, 2, 9, 15)
        assert hours.next_opening(moment) == moment

    def test_lunch_and_closures_are_skipped(self, hours: OpeningHours) -> None:
        """Lunch opens again at 13:00; the holiday Thursday is skipped to Friday."""
        assert hours.next_opening(at(JAKARTA, 2025, 6, 2, 12, 5)) == at(JAKARTA, 2025, 6, 2, 13)
        assert hours.next_opening(at(JAKARTA, 2025, 6, 4, 17)) == at(JAKARTA, 2025, 6, 6, 8)

    def test_never_open_is_none(self) -> None:
        """A week of closed days has no next opening and no closing for 24/7 hours."""
        assert OpeningHours.from_config({"mon": "closed"}, JAKARTA).next_opening(0.0) is None
        assert OpeningHours.always(JAKARTA).next_closing(0.0) is None


class TestDaylightSaving:
    def test_opening_follows_spring_forward(self) -> None:
        """On the day clocks go forward, 08:00 local is 06:00 UTC, not 07:00."""
        hours = OpeningHours.from_config({d: "08:00-16:00" for d in ("sat", "sun")}, AMSTERDAM)
        assert hours.next_opening(utc(2025, 3, 29, 17)) == utc(2025, 3, 30, 6)
        assert hours.next_opening(utc(2025, 3, 28, 17)) == utc(2025, 3, 29, 7)

    def test_opening_follows_fall_back(self) -> None:
        """On the day clocks go back, 08:00 local is 07:00 UTC, and 16:00 closes at 15:00 UTC."""
        hours = OpeningHours.from_config({"sun": "08:00-16:00"}, AMSTERDAM)
        assert hours.next_opening(utc(2025, 10, 25, 12)) == utc(2025, 10, 26, 7)
        assert hours.next_closing(utc(2025, 10, 26, 8)) == utc(2025, 10, 26, 15)

    def test_start_in_skipped_hour_opens_at_the_jump(self) -> None:
        """A range starting at 02:30 on the night 02:00-03:00 is skipped opens at 03:00 CEST."""
        hours = OpeningHours.from_config({"sun": "02:30-04:00"}, AMSTERDAM)
        assert hours.next_opening(utc(2025, 3, 29, 12)) == utc(2025, 3, 30, 1)
        assert not hours.is_open(utc(2025, 3, 30, 1) - 1)

    def test_range_inside_skipped_hour_never_happens(self) -> None:
        """02:15-02:45 does not exist on that Sunday; the next opening is a week later."""
        hours = OpeningHours.from_config({"sun": "02:15-02:45"}, AMSTERDAM)
        assert hours.next_opening(utc(2025, 3, 29, 12)) == at(AMSTERDAM, 2025, 4, 6, 2, 15)


class TestWording:
    def test_describe_groups_equal_days(self, hours: OpeningHours) -> None:
        """Consecutive days with the same hours share one entry, in both languages."""
        assert hours.describe("en") == (
            "Mon\u2013Thu 08:00\u201312:00, 13:00\u201316:00; Fri 08:00\u201311:30; "
            "Sat 09:00\u201312:00; Sun closed"
        )
        assert hours.describe("id") == (
            "Sen\u2013Kam 08.00\u201312.00, 13.00\u201316.00; Jum 08.00\u201311.30; "
            "Sab 09.00\u201312.00; Min tutup"
        )

    def test_describe_every_day(self) -> None:
        """Seven equal days read as one phrase; around the clock reads as 24 hours."""
        assert OpeningHours.always().describe("en") == "Every day 24 hours"
        assert OpeningHours.always().describe("id-ID") == "Setiap hari 24 jam"

    @pytest.mark.parametrize(
        ("moment", "en", "indonesian"),
        [
            ((2025, 6, 7, 13), "We answer again Monday at 08:00 WIB",
             "Kami menjawab lagi hari Senin pukul 08.00 WIB"),
            ((2025, 6, 2, 12, 30), "We answer again today at 13:00 WIB",
             "Kami menjawab lagi hari ini pukul 13.00 WIB"),
            ((2025, 6, 2, 18), "We answer again tomorrow at 08:00 WIB",
             "Kami menjawab lagi besok pukul 08.00 WIB"),
            ((2025, 12, 23, 17), "We answer again Saturday at 09:00 WIB",
             "Kami menjawab lagi hari Sabtu pukul 09.00 WIB"),
            ((2025, 6, 2, 9), "We are open now", "Kami sedang buka"),
        ],
    )
    def test_opens_text(self, hours: OpeningHours, moment: tuple[int, ...],
                        en: str, indonesian: str) -> None:
        """The offline sentence names today, tomorrow, a weekday or a date, in local time."""
        assert hours.opens_text(at(JAKARTA, *moment), "en") == en
        assert hours.opens_text(at(JAKARTA, *moment), "id") == indonesian

    def test_opens_text_a_week_ahead_gives_the_date(self) -> None:
        """After a long closure the sentence gives the date rather than a weekday."""
        hours = OpeningHours.from_config(WEEK, JAKARTA, ["2025-12-22..2025-12-31"])
        moment = at(JAKARTA, 2025, 12, 20, 13)
        assert hours.opens_text(moment, "en") == "We answer again on 1 January at 08:00 WIB"
        assert hours.opens_text(moment, "id") == "Kami menjawab lagi pada 1 Januari pukul 08.00 WIB"

    def test_opens_text_when_never_open(self) -> None:
        """With no opening ahead the sentence promises an answer without a time."""
        hours = OpeningHours.from_config({}, JAKARTA)
        assert hours.opens_text(0.0, "en") == "We answer as soon as a librarian is available"
