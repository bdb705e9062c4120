"""The info card and topic title: what a patron supplies is shown as plain text, a page
is linked only on the library's own sites, and a member's standing is said plainly."""

from __future__ import annotations

import datetime as dt

import pytest

from adapters.directory.member import Member
from adapters.telegram.card_lines import member_status, origin, page_line
from adapters.telegram.render import info_card, patron_label, topic_name
from routing.model import Channel, Conversation, PageInfo, Patron
from routing.plain import plain_line

LIBRARY = ("https://library.example", "https://opac.library.example")
TODAY = dt.date(2026, 12, 7)


def card(url: str, title: str = "", name: str = "Sari") -> str:
    conversation = Conversation("c1", "p1", Channel.WIDGET, page=PageInfo(url=url, title=title))
    return info_card(Patron("p1", name=name), conversation, origins=LIBRARY)


class TestPlainText:
    @pytest.mark.parametrize(("raw", "shown"), [
        ("Sari\u202eetadpu\u202c", "Sarietadpu"),  # right-to-left override
        ("Li\u200bbra\u200drian\ufeff", "Librarian"),  # zero-width space, joiner, BOM
        ("Ana\u2066 Admin\u2069", "Ana Admin"),  # isolates
        ("Budi\x00\x1b[31m\nSantoso", "Budi[31m Santoso"),  # controls, a newline
        ("عائشة", "عائشة"),  # right-to-left script itself stays
    ])
    def test_hidden_characters_are_taken_out(self, raw: str, shown: str) -> None:
        """Bidi controls, invisible and control characters go; letters of any script stay."""
        assert plain_line(raw) == shown

    def test_names_on_card_and_topic_are_plain(self) -> None:
        """A name with a bidi override reaches neither the topic title nor the card."""
        patron = Patron("p1", name="\u202eredro\u202c Library staff")
        conversation = Conversation("c1", "p1", Channel.WIDGET)
        assert "\u202e" not in topic_name(patron, conversation)
        assert "\u202e" not in info_card(patron, conversation)
        assert patron_label(Patron("p1abcd", name="\u200b\u200b")) == "Visitor abcd"


class TestPageLink:
    def test_a_stranger_site_is_not_linked_and_its_host_shown(self) -> None:
        """A patron-supplied page on another host is shown as text with that host."""
        text = card("https://sso-renew.example/login", "Renew your staff SSO")
        assert "<a " not in text and "href" not in text
        assert "Renew your staff SSO on sso-renew.example" in text

    @pytest.mark.parametrize("url", [
        "https://library.example@evil.example/renew",  # user info before the real host
        "https://library.example.evil.example/",  # the library's name as a subdomain
        "http://library.example/",  # another scheme is another origin
        "javascript:alert(1)",
    ])
    def test_look_alikes_are_not_linked(self, url: str) -> None:
        """Addresses that only look like the library's get no link."""
        assert "href" not in card(url, "Catalogue")

    def test_a_library_page_is_linked_with_its_host(self) -> None:
        """A page on an allowed origin is linked, escaped, and its host named."""
        text = card('https://opac.library.example/search?q="x"&a=1', "<Search>")
        assert ('<a href="https://opac.library.example/search?q=&quot;x&quot;&amp;a=1">'
                "&lt;Search&gt;</a> (opac.library.example)") in text

    def test_a_look_alike_host_is_spelled_out(self) -> None:
        """A host with a Cyrillic letter is shown in punycode, not passing for ours."""
        line = page_line("https://libr\u0430ry.example/", "Login", LIBRARY)
        assert "xn--" in line and "href" not in line

    def test_origin(self) -> None:
        """Default ports fold into the origin; non-web addresses have none."""
        assert origin("https://Library.Example:443/x") == "https://library.example"
        assert origin("https://library.example:8443/") == "https://library.example:8443"
        assert origin("mailto:x@library.example") == ""


class TestMemberStatus:
    @pytest.mark.parametrize(("member", "said"), [
        (Member("1", "Sari", "active", "2027-06-30"), "✅ active, valid until 2027-06-30"),
        (Member("1", "Sari", "active", "2026-06-30"), "⚠️ expired on 2026-06-30"),
        (Member("1", "Sari", "expired", ""), "⚠️ expired"),
        (Member("1", "Sari", "Suspended", "2027-06-30"), "⛔ Suspended"),
        (Member("1", "Sari", "barred: unpaid fines"), "⛔ barred: unpaid fines"),
        (Member("1", "Sari", "pending"), "❔ the directory says “pending”"),
        (Member("1", "Sari", "inactive"), "❔ the directory says “inactive”"),
        (Member("1", "Sari"), "❔ the directory says no status"),
    ])
    def test_status_in_plain_words(self, member: Member, said: str) -> None:
        """Only an active, unexpired member gets ✅; expired, suspended and anything
        else are said as such, never with a tick."""
        text = member_status(member, TODAY)
        assert text.startswith(said) and text.endswith("Member 1: Sari")

    def test_card_shows_the_status_for_the_number(self) -> None:
        """The card's Member line carries the directory's answer, escaped."""
        patron = Patron("p1", name="Sari", member_number="1")
        text = info_card(patron, Conversation("c1", "p1", Channel.WIDGET),
                         member=member_status(Member("1", "<b>Sari</b>", "suspended"), TODAY))
        assert "<b>Member:</b> ⛔ suspended — Member 1: &lt;b&gt;Sari&lt;/b&gt;" in text
