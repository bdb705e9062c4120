"""Email resume links and ratings, over the real aiohttp server and SQLite store: a resume
token opens the same conversation, a forged or expired one changes nothing, and a patron
can rate their own closed conversation and no one else's."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from adapters.widget.links import resume_link
from adapters.widget.tokens import VisitorTokens
from tests.integration.test_widget_offline import Rig, Tab, http, rig, tab

__all__ = ["http", "rig", "tab"]  # fixtures shared with test_widget_offline.py


async def resume(http: aiohttp.ClientSession, token: Any) -> tuple[int, dict[str, Any]]:
    async with http.post("/widget/api/resume", json={"resume": token}) as response:
        return response.status, await response.json()


async def closed_conversation(rig: Rig, tab: Tab, text: str = "Is the library open?") -> str:
    """A conversation the visitor of ``tab`` started and a librarian then closed."""
    if tab.token is None:
        await tab.hello()
    ack = await tab.ask({"type": "send", "cid": text[:20], "text": text})
    conversation_id: str = ack["message"]["conversation"]
    await rig.router.claims.close(conversation_id, "501", "Rina Kusuma")
    return conversation_id


async def test_resume_token_opens_the_same_conversation(
    rig: Rig, tab: Tab, http: aiohttp.ClientSession
) -> None:
    """A resume token from an email link is exchanged for a new token of the same
    visitor, and a hello with it shows the conversation's history."""
    await tab.hello()
    ack = await tab.ask({"type": "send", "cid": "c1", "text": "Do you have Bumi Manusia?"})
    status, resumed = await resume(http, rig.tokens.resume_token(tab.visitor, 3600))
    assert status == 200 and resumed["type"] == "resumed"
    assert resumed["visitor"] == tab.visitor and resumed["token"] != tab.token
    fresh = Tab(await http.ws_connect("/widget/ws"))
    welcome = await fresh.hello(resumed["token"])
    assert welcome["conversation"]["id"] == ack["message"]["conversation"]
    assert [m["text"] for m in welcome["history"]] == ["Do you have Bumi Manusia?"]
    await fresh.ws.close()


@pytest.mark.parametrize("forge", ["other_secret", "edited_visitor", "edited_expiry",
                                   "expired", "visitor_token", "garbage", "not_a_string",
                                   "non_ascii"])
async def test_forged_or_expired_resume_token_is_refused(
    rig: Rig, tab: Tab, http: aiohttp.ClientSession, forge: str
) -> None:
    """A resume token that was not signed by us, was edited, has expired or is another kind
    of token is refused with bad_resume, and nobody's conversation changes."""
    await tab.hello()
    await tab.ask({"type": "send", "cid": "c1", "text": "Private question"})
    good = rig.tokens.resume_token(tab.visitor, 3600)
    version, visitor, expires, signature = good.split(".")
    token: Any = {
        "other_secret": VisitorTokens("another-secret-0123456789").resume_token(tab.visitor, 3600),
        "edited_visitor": f"{version}.{'0' * len(visitor)}.{expires}.{signature}",
        "edited_expiry": f"{version}.{visitor}.{int(expires) + 86400}.{signature}",
        "expired": rig.tokens.resume_token(tab.visitor, -1),
        "visitor_token": tab.token,
        "garbage": "r1...",
        "not_a_string": 12345,
        "non_ascii": good[:-1] + "é",
    }[forge]
    status, refused = await resume(http, token)
    assert status == 401
    assert refused["code"] == "bad_resume" and "expired or is not valid" in refused["message"]
    before = await rig.store.latest_conversation((await rig.patron(tab.visitor)).id)  # type: ignore[union-attr]
    assert before is not None
    history = await rig.store.history(before.id)
    assert [m.text for m in history] == ["Private question"]


async def test_a_resume_token_is_no_bearer_token(rig: Rig, tab: Tab,
                                                 http: aiohttp.ClientSession) -> None:
    """Only the exchange endpoint takes a resume token: as a bearer it opens nothing."""
    await tab.hello()
    token = rig.tokens.resume_token(tab.visitor, 3600)
    async with http.get("/widget/api/poll?wait=0",
                        headers={"Authorization": f"Bearer {token}"}) as response:
        assert response.status == 401
    assert (await Tab(await http.ws_connect("/widget/ws")).hello(token))["code"] == "bad_token"


async def test_patron_rates_their_closed_conversation(rig: Rig, tab: Tab) -> None:
    """A rate frame for the visitor's own closed conversation is recorded and thanked."""
    conversation_id = await closed_conversation(rig, tab)
    rated = await tab.ask({"type": "rate", "cid": "rate:1", "conversation": conversation_id,
                           "score": 4, "comment": "Quick and kind."})
    assert rated == {"type": "rated", "conversation": conversation_id, "score": 4,
                     "cid": "rate:1"}
    conversation = await rig.store.get_conversation(conversation_id)
    assert conversation is not None and conversation.rating == 4
    welcome = await tab.hello(tab.token)
    assert welcome["conversation"]["rating"] == 4
    events = [m["event"] for m in welcome["history"] if m["direction"] == "system"]
    assert "closed" in events and "rating_request" in events


async def test_rating_someone_elses_conversation_is_refused(
    rig: Rig, tab: Tab, http: aiohttp.ClientSession
) -> None:
    """A visitor naming another patron's conversation gets not_yours, and that
    conversation's rating stays unset, over the WebSocket and over HTTP."""
    victim = await closed_conversation(rig, tab)
    stranger = Tab(await http.ws_connect("/widget/ws"))
    await closed_conversation(rig, stranger, "My own question")
    refused = await stranger.ask({"type": "rate", "cid": "rate:x", "conversation": victim,
                                  "score": 1})
    assert (refused["code"], refused["cid"]) == ("not_yours", "rate:x")
    async with http.post("/widget/api/rate", json={"conversation": victim, "score": 1},
                         headers={"Authorization": f"Bearer {stranger.token}"}) as response:
        assert response.status == 403 and (await response.json())["code"] == "not_yours"
    conversation = await rig.store.get_conversation(victim)
    assert conversation is not None and conversation.rating is None
    await stranger.ws.close()


@pytest.mark.parametrize("score", [0, 6, 3.5, "5", True, None])
async def test_a_rating_is_one_to_five_whole_stars(rig: Rig, tab: Tab, score: Any) -> None:
    """Scores outside 1..5, fractions, strings and booleans are refused with bad_rating."""
    conversation_id = await closed_conversation(rig, tab)
    refused = await tab.ask({"type": "rate", "conversation": conversation_id, "score": score})
    assert refused["code"] == "bad_rating"
    conversation = await rig.store.get_conversation(conversation_id)
    assert conversation is not None and conversation.rating is None


async def test_an_open_conversation_cannot_be_rated(rig: Rig, tab: Tab) -> None:
    """Before the librarian closes it, the router refuses a rating: rating_refused."""
    await tab.hello()
    await tab.ask({"type": "send", "cid": "c1", "text": "Still asking"})
    refused = await tab.ask({"type": "rate", "score": 5})
    assert refused["code"] == "rating_refused"


async def test_a_visitor_without_a_conversation_cannot_rate(rig: Rig, tab: Tab) -> None:
    """A brand-new visitor has nothing to rate."""
    await tab.hello()
    assert (await tab.ask({"type": "rate", "score": 5}))["code"] == "not_yours"


@pytest.mark.parametrize(("page", "expected"), [
    ("https://opac.library.example/record/42?lang=id#top",
     "https://opac.library.example/record/42?lang=id#pustaka=TOKEN"),
    ("https://LIBRARY.example", "https://LIBRARY.example/#pustaka=TOKEN"),
    ("https://evil.example/phish", "https://library.example/#pustaka=TOKEN"),
    ("https://opac.library.example@evil.example/", "https://library.example/#pustaka=TOKEN"),
    ("javascript:alert(1)", "https://library.example/#pustaka=TOKEN"),
    ("", "https://library.example/#pustaka=TOKEN"),
])
def test_resume_link_points_only_at_the_librarys_own_pages(page: str, expected: str) -> None:
    """The emailed link goes back to the page the patron wrote from only when that page is
    on one of the library's own origins; anything else links to the home page."""
    link = resume_link(page, "TOKEN", allowed_origins=["https://opac.library.example"],
                       home_url="https://library.example/")
    assert link == expected
