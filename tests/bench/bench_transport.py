"""sendMessage throughput and latency through PTB's Bot: HTTPXRequest against AiohttpRequest.

Run: python -m tests.bench.bench_transport [--senders 50] [--calls 30] [--latency 0.05]
The Bot API emulator runs in its own process (rate limits off, ``latency`` added to each
sendMessage, as Telegram's round trip would); this process runs one Bot per transport
with ``senders`` concurrent tasks, each making ``calls`` sendMessage calls after a warm-up.
Prints calls/s, p50/p99 latency and CPU per call on each side, for ``rounds`` alternating
rounds and then once more with no latency (what the transports themselves cost).
Loopback only; bounded well under a minute; never asserts: figures depend on the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection

from telegram import Bot
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.request import BaseRequest, HTTPXRequest

from adapters.telegram.aiohttp_request import AiohttpRequest
from adapters.telegram.emulator import BotApiEmulator, FaultPlan

TOKEN = "123456:TEST"
TEXT = "<b>Ana</b> (widget) asks: is the reading room open on Sunday afternoon?"
RUN_LIMIT = 10.0  # seconds; a slower run is cut and marked, never waited out
TRANSPORTS: dict[str, Callable[[int], BaseRequest]] = {
    "httpx": lambda size: HTTPXRequest(connection_pool_size=size),
    "aiohttp": lambda size: AiohttpRequest(connection_pool_size=size),
}


# -- the emulator's process ---------------------------------------------------------------


def serve(conn: Connection) -> None:
    """Child process: run the emulator until told to stop, answering CPU-time queries."""
    asyncio.run(_serve(conn))


async def _serve(conn: Connection) -> None:
    emulator = BotApiEmulator(rate_limits=False, bot_token=TOKEN)
    url = await emulator.start()
    conn.send((url, emulator.seed_demo_desk()))
    loop = asyncio.get_running_loop()
    while True:
        command, value = await loop.run_in_executor(None, conn.recv)
        if command == "latency":
            emulator.set_faults(FaultPlan(latency=value))
            conn.send(None)
        elif command == "cpu":
            conn.send((time.process_time(), emulator.stats["messages_sent"]))
        else:
            break
    await emulator.stop()


# -- the client's side ----------------------------------------------------------------


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0

    @property
    def calls(self) -> int:
        return len(self.latencies) + self.errors


@dataclass
class Run:
    transport: str
    label: str
    seconds: float
    tally: Tally
    client_cpu: float
    server_cpu: float
    cut: bool

    def row(self) -> str:
        done, calls = sorted(self.tally.latencies), max(1, self.tally.calls)
        if not done:
            return f"{self.transport:<8} {self.label:<6} no call succeeded"
        return (f"{self.transport:<8} {self.label:<6} {calls / self.seconds:>8.0f} "
                f"{_rank(done, 0.50) * 1000:>7.1f} {_rank(done, 0.99) * 1000:>7.1f} "
                f"{done[-1] * 1000:>7.1f} {self.client_cpu / calls * 1e6:>9.0f} "
                f"{self.server_cpu / calls * 1e6:>9.0f} {self.tally.errors:>6}"
                + (f"  (cut at {RUN_LIMIT:.0f} s)" if self.cut else ""))


HEADER = (f"{'client':<8} {'round':<6} {'calls/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} "
          f"{'cli µs/c':>9} {'srv µs/c':>9} {'errors':>6}")


def _rank(ordered: list[float], share: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


async def _sender(bot: Bot, group: int, calls: int, tally: Tally) -> None:
    for _ in range(calls):
        started = time.perf_counter()
        try:
            await bot.send_message(group, TEXT, parse_mode=ParseMode.HTML)
        except TelegramError:
            tally.errors += 1
            continue
        tally.latencies.append(time.perf_counter() - started)


async def measure(transport: str, label: str, url: str, group: int, conn: Connection,
                  args: argparse.Namespace) -> Run:
    bot = Bot(TOKEN, base_url=f"{url}/bot", request=TRANSPORTS[transport](args.pool))
    async with bot:
        warm = Tally()  # opens the pool's connections before the clock starts
        await asyncio.gather(*(_sender(bot, group, 2, warm) for _ in range(args.senders)))
        tally, cut = Tally(), False
        conn.send(("cpu", None))
        server_before, _ = conn.recv()
        cpu_before, started = time.process_time(), time.perf_counter()
        try:
            async with asyncio.timeout(RUN_LIMIT):
                await asyncio.gather(
                    *(_sender(bot, group, args.calls, tally) for _ in range(args.senders)))
        except TimeoutError:
            cut = True
        seconds, client_cpu = time.perf_counter() - started, time.process_time() - cpu_before
        conn.send(("cpu", None))
        server_after, _ = conn.recv()
    return Run(transport, label, seconds, tally, client_cpu, server_after - server_before, cut)


async def scenario(latency: float, rounds: int, url: str, group: int, conn: Connection,
                   args: argparse.Namespace) -> list[Run]:
    conn.send(("latency", latency))
    conn.recv()
    print(f"\nemulator latency {latency * 1000:.0f} ms; {args.senders} senders x {args.calls} "
          f"sendMessage; pool {args.pool}")
    print(HEADER)
    runs = []
    for n in range(rounds):
        for transport in TRANSPORTS:
            run = await measure(transport, str(n + 1), url, group, conn, args)
            print(run.row(), flush=True)
            runs.append(run)
    return runs


def verdict(runs: list[Run], senders: int) -> None:
    """Print the issue's targets against the latency scenario's rounds, per transport."""
    print(f"\ntargets at {senders} concurrent sends: p99 < 200 ms and >= 500 calls/s")
    for transport in TRANSPORTS:
        mine = [r for r in runs if r.transport == transport and r.tally.latencies]
        if not mine:
            continue
        done = sorted(x for r in mine for x in r.tally.latencies)
        rate = sum(r.tally.calls for r in mine) / sum(r.seconds for r in mine)
        p99 = _rank(done, 0.99) * 1000
        met = "met" if p99 < 200 and rate >= 500 else "MISSED"
        print(f"  {transport:<8} {rate:>6.0f} calls/s, p99 {p99:.1f} ms: {met}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--senders", type=int, default=50)
    parser.add_argument("--calls", type=int, default=30, help="per sender and round")
    parser.add_argument("--pool", type=int, default=64, help="connection_pool_size")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per sendMessage")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    child = context.Process(target=serve, args=(theirs,), daemon=True)
    child.start()
    try:
        url, group = ours.recv()
        runs = asyncio.run(scenario(args.latency, args.rounds, url, group, ours, args))
        verdict(runs, args.senders)
        asyncio.run(scenario(0.0, 1, url, group, ours, args))
    finally:
        ours.send(("stop", None))
        child.join(5)
        if child.is_alive():
            child.terminate()


if __name__ == "__main__":
    main()
