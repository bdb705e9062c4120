"""Why adapters/email/htmltext.py is ours: measured against html2text and inscriptis on
the mail corpus (tests/bench/htmltext_corpus.py; figures: tests/bench/bench_htmltext.py).

If a library release makes the second test fail, it is as good as ours on the corpus:
time to measure again and replace ours with it.
"""

from __future__ import annotations

import pytest

from tests.bench.htmltext_corpus import CONVERTERS, desk_text, samples

pytest.importorskip("html2text")
pytest.importorskip("inscriptis")

SAMPLES = samples()


def test_the_corpus_has_html_mail_with_references() -> None:
    """Gmail, Outlook.com and HTML-only mail, each with the text the desk must see."""
    assert len(SAMPLES) >= 7 and all(s.expected for s in SAMPLES)


@pytest.mark.parametrize("library", ["html2text", "inscriptis"])
def test_ours_is_right_where_each_library_is_wrong(library: str) -> None:
    """Ours gives the desk the right text for every corpus mail; each library gets at
    least one wrong (html2text escapes the signature's "--" and leaves Outlook's rule as
    "* * *", inscriptis indents the signature out of reach of the reply stripper)."""
    ours, theirs = CONVERTERS["ours (html.parser)"], CONVERTERS[library]
    ours_wrong = [s.name for s in SAMPLES if desk_text(ours(s.html)) != s.expected]
    theirs_wrong = [s.name for s in SAMPLES if desk_text(theirs(s.html)) != s.expected]
    assert ours_wrong == []
    assert "gmail_screenshot_and_signature_logo.eml" in theirs_wrong
