"""RecordCache: a read that missed fills the cache unless a commit changed one of its
keys while it was in flight; commits of other patrons and conversations do not count."""

from __future__ import annotations

from dataclasses import replace

from bridge.store.sqlite_cache import MISSING, BlockTable, RecordCache
from routing.model import Block, BlockKind, Channel, Contact, Conversation, Patron

VISITOR = Contact(Channel.WIDGET, "v-1")


def _patron(pid: str, address: str) -> Patron:
    return Patron(pid, contacts=(Contact(Channel.WIDGET, address),))


def _talk(cid: str, pid: str, at: float = 1.0) -> Conversation:
    return Conversation(cid, pid, Channel.WIDGET, created_at=at, updated_at=at)


class TestPatronReads:
    def test_a_read_beside_another_patrons_commit_is_cached(self) -> None:
        """A contact found absent while some other patron was saved is remembered absent."""
        cache = RecordCache(100)
        generation = cache.patron_generation
        cache.patron_saved(_patron("p2", "v-2"))
        cache.patron_read(generation, VISITOR, None)
        assert cache.contacts.get(VISITOR) is None

    def test_a_read_beside_a_commit_of_its_contact_is_not_cached(self) -> None:
        """A contact found absent while a patron holding it was saved is not remembered."""
        cache = RecordCache(100)
        generation = cache.patron_generation
        cache.patron_saved(_patron("p1", "v-1"))
        cache.patron_read(generation, VISITOR, None)
        assert cache.contacts.get(VISITOR) == "p1"

    def test_a_forgotten_change_counts_as_a_change(self) -> None:
        """When more keys were written than the cache keeps, a read older than the ones
        forgotten is not cached: what it raced may be among them."""
        cache = RecordCache(2)
        generation = cache.patron_generation
        for n in range(3):
            cache.patron_saved(_patron(f"p{n + 2}", f"v-{n + 2}"))
        cache.patron_read(generation, VISITOR, None)
        assert cache.contacts.get(VISITOR) is MISSING

    def test_an_erasure_stops_every_read_in_flight(self) -> None:
        """After everything_changed, no read begun before it fills the cache."""
        cache = RecordCache(100)
        generation = cache.patron_generation
        cache.everything_changed()
        cache.patron_read(generation, VISITOR, None)
        cache.latest_read(cache.conversation_generation - 1, "p1", None)
        assert cache.contacts.get(VISITOR) is MISSING
        assert cache.latest.get("p1") is MISSING


class TestContactMade:
    def test_a_contact_made_here_is_known_to_be_nobodys(self) -> None:
        """A contact the cache knows nothing of is marked as nobody's, as a read that
        found no patron would mark it."""
        cache = RecordCache(100)
        cache.contact_made(VISITOR)
        assert cache.contacts.get(VISITOR) is None

    def test_a_contact_the_cache_knows_keeps_what_it_knows(self) -> None:
        """A contact already pointing at a patron is left as it is."""
        cache = RecordCache(100)
        cache.patron_saved(_patron("p1", "v-1"))
        cache.contact_made(VISITOR)
        assert cache.contacts.get(VISITOR) == "p1"


class TestConversationReads:
    def test_a_latest_read_beside_another_patrons_conversation_is_cached(self) -> None:
        """Patron p1's newest conversation read while p2's was saved is remembered."""
        cache = RecordCache(100)
        generation = cache.conversation_generation
        cache.conversation_saved(_talk("c2", "p2"))
        cache.latest_read(generation, "p1", _talk("c1", "p1"))
        assert cache.latest.get("p1") == (1.0, "c1")

    def test_a_latest_read_beside_its_patrons_new_conversation_is_not_cached(self) -> None:
        """An older newest conversation read while the patron's newer one was saved never
        replaces it."""
        cache = RecordCache(100)
        generation = cache.conversation_generation
        cache.conversation_saved(_talk("c3", "p1", at=3.0))
        cache.latest_read(generation, "p1", _talk("c1", "p1"))
        assert cache.latest.get("p1") is MISSING  # asked again next time

    def test_a_conversation_read_beside_its_own_commit_is_not_cached(self) -> None:
        """An old copy of a conversation read while it was saved never replaces the new one."""
        cache = RecordCache(100)
        generation = cache.conversation_generation
        fresh = replace(_talk("c1", "p1"), claimed_by="Budi")
        cache.conversation_saved(fresh)
        cache.conversation_read(generation, _talk("c1", "p1"))
        assert cache.conversations.get("c1") == fresh

    def test_a_created_patron_has_no_latest_conversation(self) -> None:
        """patron_saved(created=True) records "no conversation"; an update records nothing."""
        cache = RecordCache(100)
        cache.patron_saved(_patron("p1", "v-1"), created=True)
        cache.patron_saved(_patron("p2", "v-2"))
        assert cache.latest.get("p1") is None
        assert cache.latest.get("p2") is MISSING


IP = (BlockKind.IP, "203.0.113.7")
VISITOR_KEY = (BlockKind.VISITOR, "v-1")


class TestBlockTable:
    def test_the_first_saved_block_in_force_is_found_among_several_keys(self) -> None:
        """Of blocks matching different keys, find returns the earliest saved one still
        in force, as a walk over every block in order would."""
        older = Block("b1", *VISITOR_KEY, until=50.0)
        newer = Block("b2", *IP)
        table = BlockTable([older, newer])
        assert table.find([IP, VISITOR_KEY], now=10.0) == older
        assert table.find([IP, VISITOR_KEY], now=60.0) == newer  # the older one expired
        assert table.find([(BlockKind.IP, "203.0.113.8")], now=10.0) is None

    def test_a_block_saved_again_keeps_its_place_and_its_new_terms(self) -> None:
        """Saving a block again (a new ``until``) keeps its order and replaces its terms."""
        table = BlockTable([Block("b1", *IP, until=50.0), Block("b2", *IP)])
        table.put(Block("b1", *IP, until=100.0))
        assert table.find([IP], now=60.0) == Block("b1", *IP, until=100.0)
        assert list(table.by_id) == ["b1", "b2"]

    def test_a_removed_block_no_longer_matches(self) -> None:
        """pop lifts a block at once, and an unknown id is no error."""
        table = BlockTable([Block("b1", *IP), Block("b2", *VISITOR_KEY)])
        table.pop("b1")
        table.pop("unknown")
        assert table.find([IP], now=1.0) is None
        assert table.find([IP, VISITOR_KEY], now=1.0) == Block("b2", *VISITOR_KEY)
        table.pop("b2")
        assert table.find([VISITOR_KEY], now=1.0) is None and not table.by_id
