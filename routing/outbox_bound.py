"""How many lanes the outbox starts for a destination whose budget is the bottleneck.

With 100,000 conversations waiting for a group's 20 posts a minute, starting a lane for
each would cost its reads (rows, message, conversation, patron), a task and a place in
``Turns`` for a send hours away, and the backlog's take-up would spend a third of a core
for minutes. So at most ``max_waiting`` lanes of one destination queue for its budget
(500 lanes of the desk: about 50 minutes of a group's posts); the rest wait in the
store, and the outbox's reads of due rows bring them in their order as the queue moves.
A new row of a conversation the desk knows still starts its lane at once: it goes
before new conversations in ``Turns`` anyway.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from routing.model import Delivery
from routing.outbox_reads import Chats
from routing.outbox_rules import Lane

__all__ = ["crowded_lanes", "known_only"]


def crowded_lanes(lanes: Mapping[Lane, list[Delivery]], waiting: Counter[str],
                  max_waiting: int) -> set[Lane]:
    """The lanes that would queue behind ``max_waiting`` lanes of their destination
    already waiting for its budget (``waiting``: by destination), in ``lanes``' order."""
    room: dict[str, int] = {}
    crowded: set[Lane] = set()
    for lane in lanes:
        left = room.get(lane[1])
        if left is None:
            left = max_waiting - waiting[lane[1]]
        if left <= 0:
            crowded.add(lane)
        room[lane[1]] = left - 1
    return crowded


def known_only(lanes: Mapping[Lane, list[Delivery]], crowded: set[Lane],
               chats: Chats) -> dict[Lane, list[Delivery]]:
    """``lanes`` less the crowded ones of conversations the desk does not know yet
    (decided on their conversations alone: their messages are not read, they wait in
    the store)."""
    kept: dict[Lane, list[Delivery]] = {}
    for lane, rows in lanes.items():
        conversation = chats.get(lane[0])
        if lane in crowded and not (conversation is not None and (
                conversation.desk_thread is not None or conversation.first_response_at)):
            continue
        kept[lane] = rows
    return kept
