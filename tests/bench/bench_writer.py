"""The SQLite writer's CPU per appended message, and the statements one message costs.

Run: python -m tests.bench.bench_writer [--base DIR] [--batches 20,100] [--rounds 2] [--trace]

Applies 10,000 widget messages (each with its desk delivery) over 100 conversations
through ``BatchWriter.apply`` on a real file, ``batch`` messages a group commit, and
prints the writer thread's CPU per message. ``--base DIR`` (another checkout) runs the
same in that tree's code, alternating with this one, in one run. ``--trace`` prints
each statement SQLite runs for one group commit of three messages (triggers included).
Prints figures, never asserts.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[2]
MESSAGES = 10_000


def _writer(trace: list[str] | None = None) -> object:
    from bridge.store.sqlite_rows import conversation_row, patron_row
    from bridge.store.sqlite_schema import bundled_migrations, connect_writer, migrate
    from bridge.store.sqlite_writer import BatchWriter, WriteOp
    from routing.model import Channel, Conversation, Patron

    conn = connect_writer(Path(tempfile.mkdtemp()) / "bench.db", "NORMAL")
    migrate(conn, bundled_migrations())
    writer = BatchWriter(conn)
    owner = Patron("p-bench", created_at=time.time())
    writer.apply([WriteOp("save_patron", (patron_row(owner), [], owner))])
    for n in range(100):
        talk = Conversation(f"c-{n:03d}", owner.id, Channel.WIDGET, created_at=time.time())
        writer.apply([WriteOp("save_conversation", (conversation_row(talk), talk))])
    if trace is not None:
        conn.set_trace_callback(trace.append)
    return writer


def _ops(count: int) -> list[object]:
    import secrets

    from bridge.store.sqlite_rows import delivery_row, message_row
    from bridge.store.sqlite_writer import WriteOp
    from routing.conversation_log import delivery
    from routing.model import Channel, DeliveryKind, Direction, Message, new_id

    ops = []
    for n in range(count):
        message = Message(new_id(), f"c-{n % 100:03d}", Direction.PATRON,
                          f"Is the book {n} on the shelf?", client_id=secrets.token_hex(6),
                          created_at=time.time())
        queued = delivery(message, DeliveryKind.TO_DESK, Channel.DESK)
        ops.append(WriteOp("append", (message, message_row(message), [delivery_row(queued)])))
    return ops


def measure(batch: int) -> float:
    """Writer CPU per message, in µs, ``batch`` messages a commit."""
    writer = _writer()
    ops = _ops(MESSAGES)
    started = time.thread_time()
    for start in range(0, MESSAGES, batch):
        writer.apply(ops[start:start + batch])  # type: ignore[attr-defined]
    return (time.thread_time() - started) / MESSAGES * 1e6


def trace() -> None:
    statements: list[str] = []
    writer = _writer(statements)
    writer.apply(_ops(3))  # type: ignore[attr-defined]
    for statement in statements:
        print("  ", " ".join(statement.split())[:160])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base", default=None, help="another checkout, run alternately")
    parser.add_argument("--batches", default="20,100")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--trace", action="store_true")
    parser.add_argument("--one", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(f"{measure(args.one):.1f}")
        return
    if args.trace:
        print("statements of one group commit of 3 messages:")
        trace()
    trees = {"this": HERE, **({"base": Path(args.base).resolve()} if args.base else {})}
    for batch in map(int, args.batches.split(",")):
        for _ in range(args.rounds):
            for name, tree in trees.items():
                out = subprocess.run(  # by path: that tree's bridge/ is the one imported
                    [sys.executable, __file__, "--one", str(batch)],
                    cwd=tree, env={**os.environ, "PYTHONPATH": str(tree)},
                    capture_output=True, text=True, check=True).stdout.strip()
                print(f"{batch:4} a commit, {name}: writer CPU {out} us per message", flush=True)


if __name__ == "__main__":
    main()
