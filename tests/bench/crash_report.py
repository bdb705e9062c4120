"""The figures of the mixed crash run (crash_mixed.py), per channel, and how they print.

Patron messages: sent, found in the patron's topic, lost, doubled (extra copies in the
desk), unordered (patrons whose topic shows their messages out of order). Librarian
replies: sent (written in the topic), reached the patron, lost, doubled (a copy the
patron sees twice; for email a copy under the same Message-ID is counted apart, as a
mail client shows it once), unordered (patrons who got their replies out of order).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from tests.bench.desk_census import GROUP_PER_MINUTE, Census, physical_minimum

__all__ = ["ChannelFigures", "CrashRun"]

_HEAD = ("  channel   patrons |  sent  in topic  lost  doubled  unordered |"
         "  sent  reached  lost  doubled  unordered")


@dataclass
class ChannelFigures:
    name: str
    desk: Census
    replies: Counter[str]
    patrons: int = 0
    sent: int = 0

    def row(self) -> str:
        d, r = self.desk, self.replies
        return (f"  {self.name:<9} {self.patrons:>7} | {self.sent:>5} {d.delivered:>8} "
                f"{len(d.missing):>5} {d.duplicated:>8} {len(d.out_of_order):>10} | "
                f"{r['sent']:>5} {r['reached']:>8} {r['lost']:>5} {r['doubled']:>8} "
                f"{r['out_of_order']:>10}")

    @property
    def ok(self) -> bool:
        return self.desk.ok and not (self.replies["lost"] or self.replies["out_of_order"])


@dataclass
class CrashRun:
    speed: float
    latency: float  # of each bot send in the emulator
    moments: list[float]
    span: float  # seconds the patrons kept writing
    stats: dict[str, int]  # the outbox's counters, summed over the bridge's lives
    limiter_429: int  # sends the emulator's flood limiter refused
    channels: list[ChannelFigures] = field(default_factory=list)
    extra_topics: int = 0
    drain: float = 0.0  # first message written -> every patron message in its topic
    tail: float = 0.0  # last message written -> every patron message in its topic
    replies_tail: float = 0.0  # last reply written -> every reply at its patron
    acks: int = 0  # after-hours acknowledgements mailed (not replies)
    unthreaded: int = 0  # reply mails citing none of the patron's mails
    pushes_repeated: int = 0  # widget frames repeating a message id (shown once)
    posts: Counter[str] = field(default_factory=Counter)  # the bot's posts in the group

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.channels)

    def total(self) -> ChannelFigures:
        desk = Census()
        replies: Counter[str] = Counter()
        for c in self.channels:
            desk.delivered += c.desk.delivered
            desk.duplicated += c.desk.duplicated
            desk.missing += c.desk.missing
            desk.out_of_order += c.desk.out_of_order
            desk.split += c.desk.split
            replies.update(c.replies)
        return ChannelFigures("all", desk, replies, sum(c.patrons for c in self.channels),
                              sum(c.sent for c in self.channels))

    def kills(self) -> str:
        if not self.moments:
            return "the bridge was never killed"
        return ("bridge SIGKILLed at " + ", ".join(f"{m:.1f}s" for m in self.moments)
                + " and restarted each time")

    def report(self) -> str:
        return "\n".join([
            f"(c) crash, mixed channels, clock {self.speed:g}x, {self.latency * 1000:.0f} ms "
            f"a Telegram send: {self.kills()}",
            "                    |        patron messages -> topic          |"
            "        librarian replies -> patron",
            _HEAD,
            *(c.row() for c in self.channels),
            self.total().row(),
            *self.notes(),
        ])

    def notes(self) -> list[str]:
        """The lines under the table: copies, 429s, drain, the group's budget, the outbox."""
        s = self.stats
        minimum = physical_minimum(sum(c.patrons for c in self.channels), self.span,
                                   self.speed)
        split = sum(len(c.desk.split) for c in self.channels)
        same_id = sum(c.replies["doubled_same_id"] for c in self.channels)
        posts = max(1, sum(self.posts.values()))
        return [
            f"  desk           {split} patrons split over two topics; {self.extra_topics} "
            "extra topics",
            f"  email          {same_id} reply copies under one Message-ID (a client shows "
            f"them once); {self.unthreaded} replies not threaded under the patron's mail; "
            f"{self.acks} after-hours acknowledgements",
            f"  widget         {self.pushes_repeated} frames repeating a message id "
            "(shown once)",
            f"  429s           {self.limiter_429} refused by the emulator's flood limiter; "
            f"{s.get('rate_limited', 0)} received by the outbox",
            f"  drain          patron messages all in their topics {self.drain:.1f} s after "
            f"the first was written ({self.tail:.1f} s after the last; physical minimum "
            f"{minimum:.1f} s); replies all at their patrons {self.replies_tail:.1f} s "
            "after the last was written",
            f"  group budget   {self.posts['topics']} topics + {self.posts['patron']} patron "
            f"posts + {self.posts['notices']} notices = {posts} posts: at least "
            f"{(posts - 1) // GROUP_PER_MINUTE * 60 / self.speed:.1f} s at "
            f"{GROUP_PER_MINUTE} a minute",
            f"  outbox         sent {s.get('sent', 0)} for {s.get('delivered', 0)} deliveries "
            f"(coalesced {s.get('coalesced', 0)}), retried {s.get('retried', 0)}, failed "
            f"{s.get('failed', 0)}; possible duplicates {s.get('possible_duplicates', 0)} "
            f"({s.get('crash_resends', 0)} after a crash; lives too short to poll are "
            f"missing); the ledger noted {s.get('in_flight_at_kills', 0)} deliveries in "
            "flight at the SIGKILLs (bridge log; finished ones count too)",
        ]
