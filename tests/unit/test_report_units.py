"""The reports' pure parts: /close KIND LEVEL, histograms and percentiles, date ranges,
the SVG charts (escaped, titled) and the CSV for the annual return."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET

import pytest

from bridge.admin import charts
from bridge.admin.reference import csv_text
from bridge.admin.report_math import Tally, bucket, bucket_value, percentile
from bridge.admin.report_queries import BadRange, date_range
from routing.report_roles import DEFAULT_KINDS, BadReference, ReferenceMark, parse_reference

SVG = "{http://www.w3.org/2000/svg}"


class TestParseReference:
    def test_kind_and_level_in_either_order(self) -> None:
        """"reference 3", "3 Reference" and a unique prefix all note the same thing."""
        for said in ("reference 3", "3 Reference", "ref 3"):
            assert parse_reference(said, DEFAULT_KINDS) == ReferenceMark("reference", 3)

    def test_nothing_or_one_part(self) -> None:
        """A bare /close notes nothing; a kind or a level alone is kept alone."""
        assert parse_reference("", DEFAULT_KINDS).empty
        assert parse_reference("research", DEFAULT_KINDS) == ReferenceMark("research", None)
        assert parse_reference("6", DEFAULT_KINDS) == ReferenceMark("", 6)

    @pytest.mark.parametrize("said", ["reference 7", "0", "poetry 2", "re 2", "ref ref",
                                      "2 3"])
    def test_bad_words_say_what_is_allowed(self, said: str) -> None:
        """Anything else is refused with the kinds and the READ range named."""
        with pytest.raises(BadReference) as caught:
            parse_reference(said, DEFAULT_KINDS)
        assert "directional, reference, research, technical, account" in str(caught.value)
        assert "1-6" in str(caught.value)


class TestMath:
    def test_buckets_are_within_nine_percent(self) -> None:
        """Every duration from 1 s to 30 days is read back within 9.1 % (2^(1/8))."""
        for seconds in (1, 7, 59, 61, 120, 999, 3600, 86_399, 2_592_000):
            assert abs(bucket_value(bucket(seconds)) / seconds - 1) < 0.091

    def test_exact_and_histogram_percentiles(self) -> None:
        """With the values at hand the median is exact; from the histogram it is near."""
        t = Tally()
        for wait in (60, 120, 300):
            t.add(False, wait, None, False, None)
        assert (t.first(0.5), t.first(0.9)) == (120, 300)
        assert percentile(None, t.first_response, 0.5) == pytest.approx(120, rel=0.09)

    def test_merging_a_rolled_tally_gives_up_exactness(self) -> None:
        """Once histogram-only counts join, percentiles come from the histogram."""
        live, rolled = Tally(), Tally(first_values=None, close_values=None)
        live.add(True, 60, 600, False, 5)
        live.merge(rolled)
        assert not live.exact and live.first(0.5) == pytest.approx(60, rel=0.09)
        assert live.after_hours == 1 and live.average_rating == 5


class TestRange:
    today = dt.date(2026, 3, 10)

    def test_presets(self) -> None:
        """Today, 7 days, this month and this year end today, in the library's calendar."""
        firsts = {p: date_range({"range": p}, self.today).first
                  for p in ("today", "7d", "month", "year")}
        assert firsts == {"today": self.today, "7d": dt.date(2026, 3, 4),
                          "month": dt.date(2026, 3, 1), "year": dt.date(2026, 1, 1)}

    def test_custom_and_bad(self) -> None:
        """Custom dates are inclusive; a backwards or malformed range names its fault."""
        span = date_range({"from": "2025-01-01", "to": "2025-12-31"}, self.today)
        assert len(span.days) == 365
        for query, why in (({"from": "2026-02-01", "to": "2026-01-01"}, "ends before"),
                           ({"from": "31/01/2026"}, "YYYY-MM-DD"),
                           ({"range": "decade"}, "unknown range")):
            with pytest.raises(BadRange, match=why):
                date_range(query, self.today)


class TestCharts:
    def test_labels_are_escaped_and_titled(self) -> None:
        """A tag or page a patron sent is text in the SVG, never markup, and every bar
        carries a <title>."""
        hostile = '<script>alert(1)</script>&"'
        svg = str(charts.hbars([(hostile, 3)], "Top <tags>"))
        assert "<script>" not in svg and "&lt;script&gt;" in svg
        tree = ET.fromstring(svg)
        assert tree.findtext(f"{SVG}title") == "Top <tags>"
        assert tree.findtext(f".//{SVG}rect/{SVG}title") == f"{hostile}: 3"

    def test_heat_map_cells(self) -> None:
        """The heat map has 7 x 24 cells, each with its count and a title naming it."""
        cells = [[0] * 24 for _ in range(7)]
        cells[0][9] = 4
        tree = ET.fromstring(str(charts.heat_map(cells, "Week")))
        rects = tree.findall(f"{SVG}rect")
        assert len(rects) == 168
        busy = [r for r in rects if r.get("data-n") == "4"]
        assert [(r.get("data-day"), r.get("data-hour")) for r in busy] == [("0", "9")]
        assert busy[0].findtext(f"{SVG}title") == "Mon 09:00\u201309:59: 4"

    def test_stacked_bars_and_line_are_wellformed(self) -> None:
        """Bars stack one rect per non-zero value; a gap in the line splits it."""
        bars = ET.fromstring(str(charts.stacked_bars(
            ["2026-03-01", "2026-03-02"], [("widget", [1, 2]), ("email", [0, 3])], "Days")))
        assert len([r for r in bars.iter(f"{SVG}rect") if r.find(f"{SVG}title") is not None]) == 3
        line = ET.fromstring(str(charts.line(["a", "b", "c", "d"], [1, None, 2, 3], "L")))
        assert len(line.findall(f"{SVG}polyline")) == 2


def test_csv_cells_cannot_start_a_formula() -> None:
    """A cell starting with = + - @ is written as text for spreadsheets."""
    text = csv_text([["month", "=1+1"], ["2026-01", "-3"]])
    assert text == "month,'=1+1\r\n2026-01,'-3\r\n"
