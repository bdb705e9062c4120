"""What the desk group holds, read back token by token, and the least time it could take.

``census`` reads every topic of the desk group back and checks each patron's messages
are all there, in order, in one topic; tokens like ``p07m03`` (delivery_rig) make each
message known. ``physical_minimum`` is the time no schedule can beat under Telegram's
20 posts a minute into one group.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from adapters.telegram.emulator import BotApiEmulator

__all__ = ["GROUP_PER_MINUTE", "PATRON_TOKEN", "Census", "bot_posts", "census", "patron_token",
           "physical_minimum", "post_kind", "topic_tokens"]

GROUP_PER_MINUTE = 20
PATRON_TOKEN = re.compile(r"\bp(\d+)m(\d+)\b")


def patron_token(patron: int, n: int) -> str:
    return f"p{patron:02d}m{n:02d}"


def physical_minimum(patrons: int, minute: float, speed: float) -> float:
    """No schedule beats this: every conversation needs a topic and a post (2 of the
    group's 20 a minute), and the last message cannot arrive before it is written.
    Counted for a schedule that knows the future: it spends the first minute on topics
    and holds each card until the patron's last message, so one post carries them all.
    A bridge that posts the card with the first message as the topic opens needs a third
    post for each patron it opens while they are still writing (burst_timeline's
    ``eager_floor``: 130 posts, 360 s for bench_delivery's burst against 120 and 300 s)."""
    units = 2 * patrons
    window = 60.0 / speed
    return max(minute, ((units - 1) // GROUP_PER_MINUTE) * window)


@dataclass
class Census:
    """What the desk group holds, read back token by token.

    A patron's topic is the one holding most of their messages. A topic opened twice
    (the first opening's answer was lost, so it was opened again) may hold a copy of
    the first post: that copy is counted as a duplicate, not as a split conversation.
    """

    delivered: int = 0  # distinct patron messages found in their topic
    duplicated: int = 0  # extra copies of patron messages, in any topic
    missing: list[str] = field(default_factory=list)  # not in the patron's topic
    out_of_order: list[int] = field(default_factory=list)  # patrons whose topic is unordered
    split: list[int] = field(default_factory=list)  # messages only in another topic
    extra_topics: int = 0  # topics opened twice for one conversation, or left empty
    topic_of: dict[int, int] = field(default_factory=dict)  # patron -> thread id

    @property
    def ok(self) -> bool:
        return not (self.missing or self.out_of_order or self.split)


def topic_tokens(emulator: BotApiEmulator, group: int) -> dict[int, dict[int, list[str]]]:
    """patron -> thread -> the patron's tokens in the bot's posts there, in post order."""
    found: dict[int, dict[int, list[str]]] = defaultdict(lambda: defaultdict(list))
    for topic in emulator.topics(group):
        thread = topic["message_thread_id"]
        for message in emulator.messages(group, thread):
            if message.get("from", {}).get("is_bot") is not True:
                continue
            for patron, n in PATRON_TOKEN.findall(message.get("text", "")):
                found[int(patron)][thread].append(patron_token(int(patron), int(n)))
    return found


def census(emulator: BotApiEmulator, group: int, sent: dict[int, list[str]]) -> Census:
    """Check every token in ``sent`` (patron -> tokens in order) is in the patron's topic."""
    result = Census()
    found = topic_tokens(emulator, group)
    result.extra_topics = len(emulator.topics(group)) - len(found)
    for patron, tokens in sent.items():
        threads = found.get(patron, {})
        if not threads:
            result.missing += tokens
            continue
        home = max(threads, key=lambda t: (len(set(threads[t])), t))
        result.topic_of[patron] = home
        here = Counter(threads[home])
        result.delivered += sum(1 for t in tokens if here[t])
        result.missing += [t for t in tokens if not here[t]]
        every = Counter(t for posts in threads.values() for t in posts)
        result.duplicated += sum(c - 1 for c in every.values() if c > 1)
        if list(dict.fromkeys(threads[home])) != [t for t in tokens if here[t]]:
            result.out_of_order.append(patron)
        if any(t not in here for posts in threads.values() for t in posts):
            result.split.append(patron)
    return result


def bot_posts(emulator: BotApiEmulator, group: int) -> Counter[str]:
    """What the bot spent the group's budget on: "topics" opened, "patron" posts (each
    may carry several coalesced messages), "notices" (claims, reminders, errors)."""
    return Counter(kind for message in emulator.messages(group)
                   if (kind := post_kind(message)) is not None)


def post_kind(message: dict[str, Any]) -> str | None:
    """"topics", "patron" or "notices" for the bot's post; None for a person's."""
    if message.get("from", {}).get("is_bot") is not True:
        return None
    if "forum_topic_created" in message:
        return "topics"
    return "patron" if PATRON_TOKEN.search(message.get("text", "")) else "notices"
