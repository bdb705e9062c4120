"""Transcript search over a year of a busy library, measured.

    .venv/bin/python -m tests.bench.bench_transcripts                       # 1,000,000 messages
    .venv/bin/python -m tests.bench.bench_transcripts --messages 100000 --db /tmp/small.db

Seeds (once per --db file; reused when it is there) 100,000 conversations of 10
messages on average (1,000,000 messages) over 365 days by direct inserts into a store
made by the real migrations, so the FTS5 triggers index every message as intake would.
The words come from a Zipf-weighted vocabulary of English and Indonesian library talk;
patrons, channels, librarians, tags and ratings vary as in ``tests/seed.py``'s year.

Then runs the dashboard's own query (``SqliteStore.search_transcripts``, the first page
of 26, excerpts and patrons included) for a mix of searches: any word, a common word, a
rare word (~100 messages), two words, a prefix, words with a channel and a month, a
rare word on one channel, a common word for one patron (by visitor id), a patron's
name, filters alone. Prints p50, p95 and max per kind and for all; the target is p95 < 200 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sqlite3
import statistics
import time
from pathlib import Path

from bridge.store.sqlite import SqliteStore
from routing.transcript_roles import TranscriptQuery

START = 1_735_689_600.0  # 2025-01-01 UTC
DAY = 86_400.0
WORDS = ("buku pinjam pinjaman perpanjang kartu anggota skripsi tesis jurnal artikel "
         "katalog koleksi ruang baca jam buka tutup denda kembali rak referensi akses "
         "database wifi cetak fotokopi printer login password akun renew loan book card "
         "thesis journal article catalogue collection reading room hours open closed fine "
         "return shelf reference access wifi print copy password account interlibrary "
         "scopus proquest ebook repository citation zotero mendeley plagiarism turnitin "
         "laptop locker parking cafe toilet lost found thanks terima kasih tolong bantu "
         "bagaimana kapan dimana apakah bisa mohon please help where when how can could").split()
# Words a few messages in ten thousand hold (a call number, a database's name): ~100 each.
RARE = ("ebsco", "jstor", "wiley", "springer", "elsevier", "emerald", "sage", "doaj",
        "garuda", "sinta", "neliti", "onesearch", "isbn", "issn", "doi", "orcid")
NAMES = ("Ana Budi Citra Dewi Eko Fajar Gita Hadi Indah Joko Kartika Lestari Made Nur "
         "Putri Rina Sari Tono Utami Wulan Yusuf Zahra").split()
LIBRARIANS = ("Sari", "Budi", "Rina", "Dewi", "Tono")
TAGS = ("loan", "thesis", "ill", "database", "account", "hours", "printing")
CHANNELS = ("widget", "widget", "widget", "email", "telegram")


def _line(rng: random.Random, weights: list[float]) -> str:
    words = rng.choices(WORDS, weights, k=rng.randint(4, 18))
    if rng.random() < 0.0016:  # 16 rare words, ~1 in 10,000 messages each
        words.append(rng.choice(RARE))
    return " ".join(words)


def seed(path: Path, conversations: int, messages: int) -> None:
    """Direct inserts through the migrated schema, then messages_fts built in one go."""
    rng = random.Random(1)
    weights = [1 / (rank + 1) for rank in range(len(WORDS))]
    rng.shuffle(weights)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("BEGIN")
    starts = sorted(START + rng.random() * 365 * DAY for _ in range(conversations))
    for n, at in enumerate(starts):  # in time order, as intake writes them
        patron, conversation = f"p{n:07d}", f"c{int(at * 1000):013x}{n:07d}"
        name = f"{rng.choice(NAMES)} {rng.choice(NAMES)}son"
        conn.execute("INSERT INTO patrons (id, name, email, created_at) VALUES (?, ?, ?, ?)",
                     (patron, name, f"{name.split()[0].lower()}{n}@example.org", at))
        conn.execute("INSERT INTO contacts VALUES ('widget', ?, ?, 0)", (f"v{n}", patron))
        conn.execute(
            "INSERT INTO conversations (id, patron_id, origin, status, claimed_by, tags,"
            " rating, created_at, updated_at, closed_at) VALUES (?, ?, ?, 'closed', ?, ?, ?,"
            " ?, ?, ?)",
            (conversation, patron, rng.choice(CHANNELS), rng.choice(LIBRARIANS),
             json.dumps(rng.sample(TAGS, rng.randint(0, 2))),
             rng.choice((None, None, 3, 4, 5, 5, 2)), at, at + 900, at + 900))
        count = max(1, round(rng.gauss(messages / conversations, 3)))
        conn.executemany(
            "INSERT INTO messages (id, conversation_id, direction, text, author, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [(f"{conversation}m{i:03d}", conversation, "patron" if i % 2 == 0 else "librarian",
              _line(rng, weights), "", at + 30 * i) for i in range(count)])
        if n % 10_000 == 9_999:
            conn.execute("COMMIT")
            conn.execute("BEGIN")
            print(f"  seeded {n + 1:,} conversations", flush=True)
    conn.execute("COMMIT")
    conn.execute("INSERT INTO messages_fts (messages_fts) VALUES ('rebuild')")  # see 0012
    conn.execute("INSERT INTO messages_fts (messages_fts) VALUES ('optimize')")
    conn.execute("ANALYZE")
    conn.close()


def queries(rng: random.Random) -> list[tuple[str, TranscriptQuery]]:
    month = START + rng.randint(0, 11) * 30 * DAY
    common, rare = WORDS[rng.randint(0, 20)], rng.choice(RARE)
    return [
        ("one word", TranscriptQuery(words=rng.choice(WORDS))),
        ("common word", TranscriptQuery(words=common)),
        ("rare word", TranscriptQuery(words=rare)),
        ("two words", TranscriptQuery(words=f"{rng.choice(WORDS)} {rng.choice(WORDS)}")),
        ("prefix", TranscriptQuery(words=rng.choice(WORDS)[:3] + "*")),
        ("words+channel+month", TranscriptQuery(words=rng.choice(WORDS), channel="email",
                                                since=month, until=month + 30 * DAY)),
        ("rare word+channel", TranscriptQuery(words=rare, channel="telegram")),
        ("word+one patron", TranscriptQuery(words=common,
                                            patron=f"v{rng.randint(0, 99_999)}")),
        ("patron name", TranscriptQuery(patron=rng.choice(NAMES))),
        ("filters only", TranscriptQuery(librarian=rng.choice(LIBRARIANS),
                                         tag=rng.choice(TAGS), rating=5)),
    ]


async def measure(path: Path, rounds: int) -> dict[str, list[float]]:
    store = SqliteStore(path)
    await store.open()
    rng = random.Random(7)
    took: dict[str, list[float]] = {}
    try:
        for _ in range(rounds):
            for kind, query in queries(rng):
                began = time.perf_counter()
                await store.search_transcripts(query, 26, 0)
                took.setdefault(kind, []).append((time.perf_counter() - began) * 1000)
    finally:
        await store.close()
    return took


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--db", type=Path, default=Path("/tmp/pustaka-bench-transcripts.db"))
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args()
    conversations = args.messages // 10
    if not args.db.exists():
        print(f"seeding {conversations:,} conversations, {args.messages:,} messages "
              f"into {args.db}", flush=True)
        asyncio.run(_create(args.db))
        began = time.perf_counter()
        seed(args.db, conversations, args.messages)
        print(f"seeded in {time.perf_counter() - began:.0f} s")
    conn = sqlite3.connect(args.db)
    held = conn.execute("SELECT count(*) FROM messages").fetchone()[0]
    conn.close()
    took = asyncio.run(measure(args.db, args.rounds))
    print(f"\ntranscript search over {held:,} messages, first page of 26 "
          f"({args.rounds} rounds), ms:")
    print(f"{'kind':<22}{'p50':>8}{'p95':>8}{'max':>8}")
    for kind, values in took.items():
        print(f"{kind:<22}{statistics.median(values):8.1f}{p(values, .95):8.1f}"
              f"{max(values):8.1f}")
    every = [v for values in took.values() for v in values]
    print(f"{'all':<22}{statistics.median(every):8.1f}{p(every, .95):8.1f}{max(every):8.1f}")
    print(f"target: p95 < 200 ms -> {'met' if p(every, .95) < 200 else 'NOT met'}")


async def _create(path: Path) -> None:
    store = SqliteStore(path)  # the real migrations, then closed for the direct inserts
    await store.open()
    await store.close()


if __name__ == "__main__":
    main()
