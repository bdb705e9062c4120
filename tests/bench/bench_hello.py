"""CPU of one widget ``hello`` for a new visitor (token null), this checkout beside another.

Run: python -m tests.bench.bench_hello --base DIR [--rounds 3] [--hellos 2000]

Each round starts the demo bridge of each checkout in turn, in its own process, and
calls its hello step directly (no socket, no handshake) with the frame the 'many' load
of bench_widget_ab sends, then encodes the welcome as the socket would. The figure is
process CPU per hello, the best of three batches. Prints figures, never asserts.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parents[2]
_CHILD = r'''
import asyncio, json, socket, sys, tempfile, time
from pathlib import Path
from bridge.demo import demo_bridge
from routing.model import PageInfo

async def main(hellos):
    over = {"widget": {"new_visitors_per_ip_hour": 10**9}}
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    bridge, emulator, _ = await demo_bridge("127.0.0.1", port, Path(tempfile.mkdtemp()),
                                            overrides=over)
    steps = bridge.parts.widget._steps  # the step itself: what a hello costs past the socket
    page = PageInfo(url="http://127.0.0.1/", title="b", user_agent="Python/3.11 aiohttp",
                    language="en", timezone="UTC", ip="127.0.0.1")
    frame = {"type": "hello", "token": None, "since": None, "lang": "en", "tz": "UTC",
             "page": {"url": "http://127.0.0.1/", "title": "b"}}
    batches = []
    try:
        for batch in range(4):  # the first warms up
            started = time.process_time()
            for _ in range(hellos):
                welcome, _ = await steps.hello(frame, page)
                json.dumps(welcome)
            batches.append((time.process_time() - started) / hellos * 1e6)
    finally:
        await bridge.stop(0.1)
        await emulator.stop()
    print("RESULT", min(batches[1:]), flush=True)

asyncio.run(main(int(sys.argv[1])))
'''


def run(tree: Path, hellos: int) -> float:
    done = subprocess.run([sys.executable, "-c", _CHILD, str(hellos)], cwd=tree,
                          env={**os.environ, "PYTHONPATH": str(tree)},
                          capture_output=True, text=True, timeout=600)
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            return float(line.split()[1])
    raise SystemExit(f"the bench of {tree} failed:\n{done.stdout}{done.stderr}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base", required=True, help="the other checkout")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--hellos", type=int, default=2000)
    args = parser.parse_args()
    trees = {"base": Path(args.base).resolve(), "this": HERE}
    for round_ in range(args.rounds):
        for name, tree in trees.items():
            print(f"round {round_} {name:4}: {run(tree, args.hellos):6.1f} us CPU per new "
                  f"visitor's hello", flush=True)


if __name__ == "__main__":
    main()
