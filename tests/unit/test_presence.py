"""The widget's live-visitor view and the desk's /visitors list, with plain values."""

from __future__ import annotations

from adapters.telegram.desk_visitors import SHOWN, visitors_text
from adapters.widget.presence import VisitorPresence, accept_language, referrer_host
from routing.model import PageInfo
from routing.plain import plain_line

SITE = "https://library.example"


class Here:
    """The hub's side: who is online, and for how long someone has been away."""

    def __init__(self) -> None:
        self.online: set[str] = set()

    def away_for(self, visitor: str, now: float) -> float:
        return 0.0 if visitor in self.online else 1e9


FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"

def presence(here: Here, clock: list[float], **kw: object) -> VisitorPresence:
    return VisitorPresence(lambda v: v in here.online, here.away_for,
                           clock=lambda: clock[0], **kw)  # type: ignore[arg-type]


def page(url: str = f"{SITE}/opac", **kw: str) -> PageInfo:
    return PageInfo(url=url, title="Catalogue", user_agent=FIREFOX, language="id", **kw)


class TestVisitorPresence:
    def test_arrive_move_leave(self) -> None:
        """A visitor appears at hello with a short label, moves with a page frame (time
        on page restarts), and is gone from the view the moment they leave."""
        here, clock = Here(), [1000.0]
        view = presence(here, clock, origins=[SITE])
        here.online.add("visitor-abc")
        view.arrive("visitor-abc", page(), "https://search.example/q?secret=1")
        [seen] = view.visitors()
        assert seen.label.startswith("v-") and len(seen.label) == 6
        assert "abc" not in seen.label and seen.referrer_host == "search.example"
        clock[0] = 1060.0
        view.moved("visitor-abc", f"{SITE}/hours", "Opening hours")
        moved = view.find(seen.label)
        assert moved is not None and moved.url == f"{SITE}/hours"
        assert moved.page_since == 1060.0 and moved.arrived == 1000.0
        view.leave("visitor-abc")
        assert view.visitors() == [] and view.find(seen.label) is None

    def test_a_beacon_keeps_a_visitor_for_its_lapse_and_moves_on_a_new_address(self) -> None:
        """A loader's beacon (no socket) lists the visitor until its lapse runs out; the
        same address again keeps the time on page, another one restarts it, even on a
        page of another site whose address is not shown."""
        here, clock = Here(), [1000.0]
        view = presence(here, clock, origins=[SITE])
        view.beacon("visit-1", page(), "", 75.0)
        [seen] = view.visitors()
        clock[0] = 1030.0
        view.beacon("visit-1", page(), "", 75.0)
        assert view.visitors()[0].page_since == 1000.0
        view.beacon("visit-1", page("https://other.example/a"), "", 75.0)
        view.beacon("visit-1", page("https://other.example/b"), "", 75.0)
        moved = view.find(seen.label)
        assert moved is not None and moved.url == "" and moved.page_since == 1030.0
        clock[0] = 1030.0 + 74.0
        assert view.find(seen.label) is not None
        clock[0] = 1030.0 + 76.0
        assert view.visitors() == [] and view.find(seen.label) is None

    def test_pages_of_other_sites_are_not_kept(self) -> None:
        """With the library's origins set, a page elsewhere (or no web page) keeps
        neither address nor title: a visitor cannot put a link in front of the desk."""
        here, clock = Here(), [0.0]
        view = presence(here, clock, origins=[SITE])
        here.online.update({"a", "b"})
        view.arrive("a", page("https://evil.example/login"))
        view.arrive("b", page("javascript:alert(1)"))
        assert [(v.url, v.title) for v in view.visitors()] == [("", ""), ("", "")]

    def test_labels_never_clash_and_the_gone_are_swept(self) -> None:
        """Two thousand visitors get two thousand labels, each finding its visitor; one
        no longer online drops out of the list."""
        here, clock = Here(), [0.0]
        view = presence(here, clock)
        ids = [f"visitor-{n}" for n in range(2000)]
        here.online.update(ids)
        for visitor in ids:
            view.arrive(visitor, page())
        labels = {v.label: v.visitor for v in view.visitors()}
        assert len(labels) == 2000
        assert all(view.find(label).visitor == visitor  # type: ignore[union-attr]
                   for label, visitor in labels.items())
        here.online.discard("visitor-7")
        clock[0] = 60.0
        assert len(view.visitors()) == 1999

    def test_titles_and_addresses_are_shown_as_plain_line_makes_them(self) -> None:
        """Whatever a page's title and address hold (controls, bidi marks, runs of
        spaces, plain ASCII), the desk sees ``plain_line`` of them, cut to length, and an
        already plain one is the very string the page came with."""
        here, clock = Here(), [0.0]
        view = presence(here, clock, origins=[SITE])
        titles = ["Catalogue", " Hours ", "a  b", "tab\there", "Nul\x00l", "Del\x7f",
                  "Sari\u202eetadpu\u202c", "zero\u200bwidth", "Bücher", "T" * 300, ""]
        for n, title in enumerate(titles):
            here.online.add(f"v{n}")
            url = f"{SITE}/p{n}{title[:5]}"
            clock[0] = float(n)
            view.arrive(f"v{n}", PageInfo(url=url, title=title))
            seen = view.visitors()[0]
            assert (seen.url, seen.title) == (plain_line(url)[:500], plain_line(title)[:200])
        kept = PageInfo(url=f"{SITE}/opac", title="Opening hours")
        clock[0] = 100.0
        here.online.add("v-kept")
        view.arrive("v-kept", kept)
        shown = view.visitors()[0]
        assert shown.title is kept.title and shown.url is kept.url

    def test_shared_strings(self) -> None:
        """Visitors with the same browser share one user-agent string."""
        here, clock = Here(), [0.0]
        view = presence(here, clock)
        here.online.update({"a", "b"})
        view.arrive("a", PageInfo(user_agent="U" * 50))
        view.arrive("b", PageInfo(user_agent="".join(["U"] * 50)))
        a, b = view.visitors()
        assert a.user_agent is b.user_agent


class TestHelpers:
    def test_referrer_host_only(self) -> None:
        """Only the host of the referring page, look-alike letters spelled out."""
        assert referrer_host("https://user:pw@Www.Google.com:8443/search?q=x") == "www.google.com"
        assert referrer_host("not a url") == "" and referrer_host(None) == ""
        assert referrer_host("https://bücher.example/") == "xn--bcher-kva.example"

    def test_accept_language(self) -> None:
        """The first language of the header, nothing that is not a language tag."""
        assert accept_language("id-ID,id;q=0.9,en;q=0.5") == "id-ID"
        assert accept_language("*") == "" and accept_language("<b>") == ""


class TestVisitorsText:
    def test_newest_first_and_capped(self) -> None:
        """Newest first, at most SHOWN lines and the rest counted; names only when given."""
        here, clock = Here(), [0.0]
        view = presence(here, clock)
        for n in range(SHOWN + 5):
            clock[0] = float(n)
            here.online.add(f"v{n}")
            view.arrive(f"v{n}", page())
        listed = list(view.visitors())
        names = ["Siti"] + [""] * (SHOWN - 1)
        text = visitors_text(listed, names, now=float(SHOWN + 100))
        lines = text.splitlines()
        assert lines[0].startswith(f"{SHOWN + 5} visitors on our pages now")
        assert len(lines) == SHOWN + 2 and lines[-1] == "…and 5 more."
        assert f"{listed[0].label} (Siti) · 1 min on “Catalogue” {SITE}/opac" in lines[1]
        assert "Firefox 128 on Linux · id" in text


class TestSweep:
    def test_visitors_gone_without_a_close_are_swept_as_others_arrive(self) -> None:
        """HTTP-fallback visitors who stop polling never close a socket: arrivals sweep
        them out, so the view does not grow while nobody asks for /visitors."""
        here, clock = Here(), [0.0]
        view = presence(here, clock)
        for n in range(5000):  # none of them online; each gone a minute after its hello
            clock[0] = n * 60.0
            view.arrive(f"gone-{n}", page())
        assert len(view) < 4096

    def test_a_visitor_between_hello_and_socket_is_kept(self) -> None:
        """A hello's visitor is not yet attached to the hub while its welcome is worked
        out: a sweep then keeps it."""
        here, clock = Here(), [0.0]
        view = presence(here, clock)
        view.arrive("new", page())
        clock[0] = 5.0
        assert [v.visitor for v in view.visitors()] == ["new"]
