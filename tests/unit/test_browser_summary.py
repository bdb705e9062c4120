"""The info card's browser line, from real User-Agent strings (tests/data/user_agents.json)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from adapters.telegram.render import browser_summary, info_card

CASES = json.loads((Path(__file__).parents[1] / "data" / "user_agents.json").read_text())


@pytest.mark.parametrize(("user_agent", "summary"), CASES, ids=[s for _, s in CASES])
def test_each_browser_is_named_as_a_librarian_would(user_agent: str, summary: str) -> None:
    """Chrome and Firefox on an iPhone, Samsung Internet, UC Browser, an in-app browser,
    an iPad and an Android tablet are told apart; a crawler is called one."""
    assert browser_summary(user_agent) == summary


def test_the_card_names_the_browser_and_never_shows_header_markup() -> None:
    """The card's Browser line is the summary; markup in the header is not echoed."""
    from routing.model import Channel, Conversation, PageInfo, Patron

    def card(user_agent: str) -> str:
        page = PageInfo(url="https://library.example/", user_agent=user_agent)
        return info_card(Patron("p1"), Conversation("c1", "p1", Channel.WIDGET, page=page))

    assert "<b>Browser:</b> Chrome 156 on Android 14 (phone)\n" in card(CASES[0][0])
    assert "Evil" not in card("<b>Evil</b>/1.0 (<i>x</i>)")
