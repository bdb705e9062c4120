"""The widget's per-message cost, this checkout beside another, in one run.

Run: python -m tests.bench.bench_widget_ab --base DIR [--modes quiet,flood,few] [--rounds 3]

``DIR`` is another checkout (``git worktree add /tmp/base main``). Each round starts a
fresh bridge of each checkout in turn (as ``pustaka demo`` runs it, in its own process)
and gives it the same load; the bridge's CPU is read from /proc around the load.
- quiet: 200 new visitors x 5 messages (within the per-visitor limit);
- flood: 200 new identities x 50 from one address (most refused by the per-visitor limit);
- few: 100 visitors x 100, 20 in flight each, the per-visitor limit lifted (the load
  'few' of ../shared/bench/intake_side_by_side.py);
- many: 2,000 new visitors x 5 (within the limit: each first message opens a conversation).
Every load comes from one address, so the per-address limits (connections, new chats and
new conversations an hour) are lifted for both: what is measured is the per-message path,
not those limits. With --spy DIR py-spy records each bridge into DIR/spy_TREE_MODE.txt.
Prints figures, never asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from tests.bench.flat_intake import widget_load

HERE = Path(__file__).resolve().parents[2]
_PYSPY = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
_CHILD = r'''
import asyncio, sys
from pathlib import Path
from bridge.demo import demo_bridge
async def main():
    over = {"server": {"max_connections_per_ip": 100000},
            "widget": {"new_visitors_per_ip_hour": 100000,
                       "new_conversations_per_ip_hour": 100000}}
    if sys.argv[3] == "1":
        over["widget"]["messages_per_minute"] = 10**8
    await demo_bridge("127.0.0.1", int(sys.argv[1]), Path(sys.argv[2]), overrides=over)
    print("READY", flush=True)
    await asyncio.Event().wait()
asyncio.run(main())
'''


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _start(tree: Path, lifted: bool) -> tuple[subprocess.Popen[str], int]:
    """The bridge of ``tree`` on a free port (the emulator takes the next: retried)."""
    for _ in range(5):
        port = _port()
        child = subprocess.Popen([sys.executable, "-c", _CHILD, str(port), tempfile.mkdtemp(),
                                  "1" if lifted else "0"], cwd=tree,
                                 env={**os.environ, "PYTHONPATH": str(tree)},
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert child.stdout is not None
        if any("READY" in line for line in child.stdout):
            return child, port
        child.wait()
    raise SystemExit(f"the bridge of {tree} did not start")


async def _few_socket(http: aiohttp.ClientSession, url: str, gate: asyncio.Event) -> int:
    async with http.ws_connect(url, headers={"Origin": "http://127.0.0.1"}) as ws:
        await ws.send_str(json.dumps({"type": "hello", "token": None}))
        while json.loads((await ws.receive()).data).get("type") != "welcome":
            pass
        await gate.wait()
        acked = sent = waiting = 0
        while sent < 100 or waiting:
            while waiting < 20 and sent < 100:
                await ws.send_str(json.dumps({"type": "send", "cid": secrets.token_hex(6),
                                              "text": f"book question {sent}"}))
                sent, waiting = sent + 1, waiting + 1
            frame = json.loads((await ws.receive()).data)
            if frame.get("type") in ("ack", "error"):
                waiting -= 1
                acked += frame["type"] == "ack"
        return acked


async def _few(url: str) -> tuple[int, float]:
    gate = asyncio.Event()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        tasks = [asyncio.create_task(_few_socket(http, url, gate)) for _ in range(100)]
        await asyncio.sleep(2.0)
        started = time.perf_counter()
        gate.set()
        acked = sum(await asyncio.gather(*tasks))
        return acked, time.perf_counter() - started


def run(tree: Path, name: str, mode: str, spy: str | None) -> str:
    child, port = _start(tree, lifted=mode == "few")
    try:
        time.sleep(1.0)
        before = _cpu(child.pid)
        recorder = None if spy is None else subprocess.Popen(
            [_PYSPY, "record", "-p", str(child.pid), "-f", "raw", "-r", "200", "-d", "12",
             "--nonblocking", "-o", f"{spy}/spy_{name}_{mode}.txt"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"ws://127.0.0.1:{port}/widget/ws"
        if mode == "few":
            acked, seconds = asyncio.run(_few(url))
            received = 10_000
        else:
            visitors, per = {"quiet": (200, 5), "flood": (200, 50), "many": (2000, 5)}[mode]
            acked, seconds, _ = asyncio.run(widget_load(url, visitors, per))
            received = visitors * per
        used = _cpu(child.pid) - before
        if recorder is not None:
            recorder.wait()
    finally:
        child.terminate()
        child.wait(10)
    return (f"{mode:5} {name:5}: {acked:,} of {received:,} accepted in {seconds:.2f} s "
            f"({acked / seconds:,.0f} msg/s); bridge CPU {used:.2f} s = "
            f"{used / max(acked, 1) * 1e6:,.0f} us per accepted, "
            f"{used / received * 1e6:,.0f} us per received")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base", required=True, help="the other checkout")
    parser.add_argument("--modes", default="quiet,flood,few")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--spy", default=None, help="a directory for py-spy's stacks")
    args = parser.parse_args()
    trees = {"base": Path(args.base).resolve(), "this": HERE}
    for mode in args.modes.split(","):
        for _ in range(args.rounds):
            for name, tree in trees.items():
                print(run(tree, name, mode, args.spy), flush=True)


if __name__ == "__main__":
    main()
