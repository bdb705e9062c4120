"""quick_init: the records every patron message makes are built as their dataclass would
build them, and stay frozen."""

from __future__ import annotations

import dataclasses
import inspect

import pytest

from routing.frozen import quick_init
from routing.intake import Accepted
from routing.model import (
    Channel,
    Contact,
    Conversation,
    Delivery,
    Direction,
    Inbound,
    Message,
    PageInfo,
    Patron,
)

QUICK = [Contact, PageInfo, Patron, Conversation, Message, Delivery, Inbound, Accepted]


def _twin(cls: type) -> type:
    """The same fields under the dataclass's own ``__init__``."""
    spec = [(f.name, f.type, dataclasses.field(default=f.default)
             if f.default_factory is dataclasses.MISSING
             else dataclasses.field(default_factory=f.default_factory))
            for f in dataclasses.fields(cls)]
    return dataclasses.make_dataclass(f"Twin{cls.__name__}", spec, frozen=True, slots=True)


class TestQuickInit:
    @pytest.mark.parametrize("cls", QUICK, ids=lambda c: c.__name__)
    def test_parameters_are_the_dataclasses_own(self, cls: type) -> None:
        """Every record takes the same parameters, in the same order, with the same defaults."""
        def shape(of: type) -> list[tuple[str, object, str]]:
            return [(p.name, p.kind, repr(p.default))  # a factory's stand-in shows as <factory>
                    for p in inspect.signature(of).parameters.values()]
        assert shape(cls) == shape(_twin(cls))

    def test_a_message_holds_what_it_was_given_and_stays_frozen(self) -> None:
        """Positional, keyword and default fields land where the dataclass put them."""
        message = Message("m1", "c1", Direction.PATRON, "hi", client_id="k", created_at=2.0)
        assert dataclasses.astuple(message) == (
            "m1", "c1", Direction.PATRON, "hi", "", "k", "", "", 2.0, "", ())
        assert message == Message(id="m1", conversation_id="c1", direction=Direction.PATRON,
                                  text="hi", client_id="k", created_at=2.0)
        with pytest.raises(dataclasses.FrozenInstanceError):
            message.text = "changed"  # type: ignore[misc]
        with pytest.raises(TypeError):
            Message("m1")  # type: ignore[call-arg]

    def test_post_init_still_runs(self) -> None:
        """An inbound text with a lone surrogate is made storable, as before."""
        inbound = Inbound(Channel.WIDGET, "v-1", "a\ud800b")
        assert inbound.text == "a\ufffdb"

    def test_a_default_factory_makes_a_fresh_value_when_left_out(self) -> None:
        """A left-out field with a factory gets a new value each time; a given one is kept."""
        @quick_init
        @dataclasses.dataclass(frozen=True, slots=True)
        class Listed:
            items: list[str] = dataclasses.field(default_factory=list)

        assert Listed().items == [] and Listed().items is not Listed().items
        given = ["a"]
        assert Listed(given).items is given
        page = PageInfo(ip="1.2.3.4")
        assert Conversation("c1", "p1", Channel.WIDGET).page == PageInfo()
        assert Conversation("c1", "p1", Channel.WIDGET, page=page).page is page

    def test_a_field_it_cannot_build_is_refused(self) -> None:
        """A field quick_init cannot build as the dataclass would is an error, not a guess."""
        @dataclasses.dataclass(frozen=True, slots=True)
        class Keyworded:
            name: str = dataclasses.field(default="", kw_only=True)

        with pytest.raises(TypeError):
            quick_init(Keyworded)
