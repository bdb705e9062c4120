"""A flood from one address while a real patron chats (issue 11).

Run: python -m tests.bench.bench_flood [--messages 10000] [--identities 200] [--sockets 20]
     [--slow 500]

The bridge and the Bot API emulator run as ``pustaka demo`` runs them, in a process of
their own, with every limit as shipped: the widget's (30 messages a minute per visitor,
60 new identities and 30 new conversations an hour per address, 100 connections per
address) and Telegram's (20 posts a minute into the group, which the outbox plans
within). A patron from 127.0.0.1 opens a conversation and waits for it to reach the
desk; then a flood from 127.0.0.2 makes ``--identities`` tokenless hellos and sends
``--messages`` messages as fast as its sockets carry them, while the patron writes one
message every 2 s and pings every 50 ms. Prints how much of the flood was accepted and
refused, how long the patron's first message written during the flood took to reach the
desk (the emulator's group), and the patron's ack and pong p99. Then ``--slow``
connections from the flood's address send their request heads a line a second: how many
the connection cap refused and when the header timeout closed the rest. Never asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from tests.bench.common import AGENT, HELLO, ServerProcess, mark, rank, session

FLOOD_IP = "127.0.0.2"
PATRON_IP = "127.0.0.1"
DESK_TARGET = 5.0  # seconds: the patron's message at the desk
ACK_TARGET = 0.100  # seconds: the patron's ack p99
# what the patron writes during the flood, one every 2 s (at 0, 2, 4, 6, 8 s)
PATRON_TEXTS = [f"real patron question patron-{n}" for n in range(5)]


@dataclass
class Tally:
    identities: Counter[str] = field(default_factory=Counter)  # welcome / error code
    answers: Counter[str] = field(default_factory=Counter)  # ack / error code
    sockets: Counter[str] = field(default_factory=Counter)  # opened / refused status


async def flood_socket(http: aiohttp.ClientSession, url: str, hellos: int, per_hello: int,
                       tally: Tally, tag: str) -> None:
    """One flood socket: ``hellos`` tokenless hellos, each followed by ``per_hello``
    sends fired without waiting; every answer is counted."""
    try:
        ws = await http.ws_connect(f"{url}/widget/ws", headers=AGENT)
    except aiohttp.WSServerHandshakeError as exc:
        tally.sockets[f"refused {exc.status}"] += 1
        tally.identities["socket refused"] += hellos
        tally.answers["socket refused"] += hellos * per_hello
        return
    tally.sockets["opened"] += 1
    async with ws:
        for h in range(hellos):
            await ws.send_str(HELLO)
            welcome = await next_answer(ws, ("welcome", "error"))
            tally.identities[welcome.get("code", welcome["type"])] += 1
            for k in range(per_hello):
                await ws.send_str(json.dumps({"type": "send", "cid": f"{tag}-{h}-{k}",
                                              "text": f"flood {tag} {h} {k}"}))
            for _ in range(per_hello):
                answer = await next_answer(ws, ("ack", "error"))
                tally.answers[answer.get("code", answer["type"])] += 1


async def next_answer(ws: aiohttp.ClientWebSocketResponse, kinds: tuple[str, ...]
                      ) -> dict[str, Any]:
    while True:
        frame: dict[str, Any] = await ws.receive_json(timeout=120)
        if frame["type"] in kinds:
            return frame


async def flood_all(http: aiohttp.ClientSession, url: str, sockets: int, hellos: int,
                    per_hello: int, tally: Tally) -> None:
    await asyncio.gather(*(flood_socket(http, url, hellos, per_hello, tally, f"s{s}")
                           for s in range(sockets)))


class Patron:
    """The real patron: in conversation already; writes every 2 s and pings every 50 ms."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.acks: list[float] = []
        self.pongs: list[float] = []
        self.sent_at: dict[str, float] = {}
        self._waiting: dict[str, asyncio.Future[float]] = {}
        self._pings: list[float] = []
        self._reader = asyncio.create_task(self._read())

    async def say(self, cid: str, text: str) -> float:
        """Send and wait for the ack; returns when it was sent (monotonic)."""
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._waiting[cid] = future
        at = time.monotonic()
        await self.ws.send_str(json.dumps({"type": "send", "cid": cid, "text": text}))
        self.acks.append(await asyncio.wait_for(future, 60) - at)
        self.sent_at[cid] = at
        return at

    async def ping(self) -> None:
        self._pings.append(time.monotonic())
        await self.ws.send_str('{"type":"ping"}')

    async def _read(self) -> None:
        async for msg in self.ws:
            if msg.type is not aiohttp.WSMsgType.TEXT:
                continue
            frame, now = json.loads(msg.data), time.monotonic()
            if frame["type"] == "pong" and self._pings:
                self.pongs.append(now - self._pings.pop(0))
            elif frame.get("cid") in self._waiting:
                future = self._waiting.pop(frame["cid"])
                if frame["type"] != "ack":
                    future.set_exception(RuntimeError(f"patron refused: {frame}"))
                else:
                    future.set_result(now)


async def patron_chats(patron: Patron, flood: asyncio.Task[None]) -> list[str]:
    """Write every 2 s and ping every 50 ms until the flood is over (at least 10 s)."""
    cids, saying, started, n = [], [], time.monotonic(), 0
    while not flood.done() or time.monotonic() - started < 10:
        if n % 40 == 0:
            cid = f"patron-{n // 40}"
            cids.append(cid)
            saying.append(asyncio.create_task(patron.say(cid, f"real patron question {cid}")))
        await patron.ping()
        n += 1
        await asyncio.sleep(0.05)
    await asyncio.gather(*saying)
    return cids


async def run(args: argparse.Namespace) -> None:
    server = ServerProcess("production")
    try:
        await measure(server, args)
    finally:
        server.stop()


async def measure(server: ServerProcess, args: argparse.Namespace) -> None:
    url = server.url
    async with session(PATRON_IP) as mine, session(FLOOD_IP) as theirs:
        ws = await mine.ws_connect(f"{url}/widget/ws", headers=AGENT)
        await ws.send_str(HELLO)
        assert (await next_answer(ws, ("welcome",)))["type"] == "welcome"
        patron = Patron(ws)
        await patron.say("opening", "real patron: hello, I need help with my loan")
        if not await server.acall("desk_seen", ["real patron: hello"], 60):
            raise RuntimeError("the patron's opening message never reached the desk")
        tally = Tally()
        hellos = max(1, args.identities // args.sockets)
        per_hello = max(1, args.messages // (args.sockets * hellos))
        # Watched from now: the server process notes the moment it appears in the group.
        watch = asyncio.create_task(server.acall("desk_seen", PATRON_TEXTS, 120))
        began = time.monotonic()
        flood = asyncio.create_task(flood_all(theirs, url, args.sockets, hellos, per_hello,
                                              tally))
        await patron_chats(patron, flood)
        await flood
        flood_seconds = time.monotonic() - began
        seen = await watch
        counts = await server.acall("counts")
        topics = await server.acall("topics")
        await ws.close()
    report(args, tally, patron, seen, flood_seconds, counts, len(topics))
    if args.slow:
        heads = await slow_heads(url, args.slow)
        print(f"{args.slow} connections from {FLOOD_IP} sending their heads a line a second: "
              f"{heads['outcomes']}, closed {heads['closed after']} after opening "
              "(server.header_timeout 15 s, server.max_connections_per_ip 100)")


def report(args: argparse.Namespace, tally: Tally, patron: Patron, seen: dict[str, float],
           flood_seconds: float, counts: dict[str, int], topics: int) -> None:
    accepted = tally.answers["ack"]
    refused = sum(tally.answers.values()) - accepted
    print(f"flood from {FLOOD_IP}: {args.identities} tokenless hellos, "
          f"{sum(tally.answers.values())} messages over {args.sockets} sockets, "
          f"{flood_seconds:.1f} s")
    print(f"  sockets: {dict(tally.sockets)}")
    print(f"  identities: {dict(tally.identities)}")
    print(f"  messages: {accepted} accepted, {refused} refused {dict(tally.answers)}")
    print(f"  desk: {topics} topics, {counts['desk_posts']} posts so far, "
          f"{counts['pending']} deliveries pending")
    waits = [seen[text] - patron.sent_at[text.rsplit(" ", 1)[1]] if text in seen else None
             for text in PATRON_TEXTS]
    shown = ", ".join("not within 120 s" if w is None else f"{w:.2f} s" for w in waits)
    worst = None if None in waits else max(w for w in waits if w is not None)
    print(f"real patron's messages during the flood (sent at 0, 2, 4, 6, 8 s) at the desk "
          f"after: {shown} (target < {DESK_TARGET:.0f} s) "
          f"{mark(worst is not None and worst < DESK_TARGET)}")
    acks, pongs = sorted(patron.acks[1:]), sorted(patron.pongs)
    ack99 = rank(acks, 0.99) if acks else float("nan")
    print(f"real patron's ack p99 {ack99 * 1000:.1f} ms over {len(acks)} messages, "
          f"p50 {rank(acks, 0.5) * 1000:.1f} ms (target p99 < {ACK_TARGET * 1000:.0f} ms) "
          f"{mark(ack99 < ACK_TARGET)}")
    if pongs:
        print(f"real patron's ping→pong p99 {rank(pongs, 0.99) * 1000:.1f} ms, "
              f"p50 {rank(pongs, 0.5) * 1000:.1f} ms over {len(pongs)} pings")


async def slow_heads(url: str, count: int) -> dict[str, Any]:
    """``count`` connections from the flood's address, each sending its request head one
    line a second: how many were refused at once (429), how many the header timeout
    closed (and when, since they opened), how many were still open after 40 s."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    outcomes: Counter[str] = Counter()
    closed_after: list[float] = []

    async def one() -> None:
        try:
            reader, writer = await asyncio.open_connection(host, int(port),
                                                           local_addr=(FLOOD_IP, 0))
        except OSError:
            outcomes["not connected"] += 1
            return
        opened = time.monotonic()
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: library\r\n")
        try:
            outcomes[await drip(reader, writer, opened, closed_after)] += 1
        finally:
            writer.close()

    await asyncio.gather(*(one() for _ in range(count)))
    span = f"{min(closed_after):.1f}–{max(closed_after):.1f} s" if closed_after else "-"
    return {"outcomes": dict(outcomes), "closed after": span}


async def drip(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, opened: float,
               closed_after: list[float]) -> str:
    for k in range(40):
        try:
            data = await asyncio.wait_for(reader.read(64), 1.0)
        except TimeoutError:
            writer.write(b"X-Slow-%d: 1\r\n" % k)
            continue
        except (ConnectionError, OSError):
            return "reset"
        if data.startswith(b"HTTP/1.1 429"):
            return "refused 429"
        closed_after.append(time.monotonic() - opened)
        return "closed by the header timeout"
    return "still open after 40 s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--identities", type=int, default=200)
    parser.add_argument("--sockets", type=int, default=20)
    parser.add_argument("--slow", type=int, default=500, help="slow-head connections (0: none)")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
