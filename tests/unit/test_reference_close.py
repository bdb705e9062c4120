"""Closing with a reference mark: kept on the store against the librarian who closed,
never for a conversation already closed; the kinds come from ``[desk] question_kinds``."""

from __future__ import annotations

import pytest

from bridge.config import ConfigError, load_config
from routing.report_roles import DEFAULT_KINDS, ReferenceMark
from routing.router import Router
from tests.unit.fakes import FakeStore
from tests.unit.test_claims import opened, router

__all__ = ["router"]  # the fixture, imported for pytest


async def test_close_keeps_the_mark(router: Router, store: FakeStore) -> None:
    """/close reference 3 keeps the kind and level for the conversation."""
    cid = await opened(router)
    await router.claims.close(cid, "1", "Ana", ReferenceMark("reference", 3))
    assert store.references[cid] == ReferenceMark("reference", 3)


async def test_no_mark_for_a_closed_or_bare_close(router: Router, store: FakeStore) -> None:
    """A bare /close notes nothing, and closing again does not overwrite the first mark."""
    cid = await opened(router)
    await router.claims.close(cid, "1", "Ana", ReferenceMark())
    assert cid not in store.references
    assert await router.claims.close(cid, "1", "Ana", ReferenceMark("research", 5)) is None
    assert cid not in store.references


def test_question_kinds_are_configurable() -> None:
    """The default kinds are the five libraries count; a library may name its own."""
    assert load_config(None, env={}).desk.question_kinds == list(DEFAULT_KINDS)
    own = load_config(None, env={}, desk={"question_kinds": ["directional", "makerspace"]})
    assert own.desk.question_kinds == ["directional", "makerspace"]


@pytest.mark.parametrize("kinds", [[], ["Reference"], ["a b"], ["ref", "ref"]])
def test_bad_question_kinds_name_the_key(kinds: list[str]) -> None:
    """An empty list, capitals, spaces or repeats are refused, naming the key."""
    with pytest.raises(ConfigError, match=r"desk\.question_kinds"):
        load_config(None, env={}, desk={"question_kinds": kinds})
