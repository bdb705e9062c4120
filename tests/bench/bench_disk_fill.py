"""The disk-filling attack of issue 11 item 7, against the bridge as `pustaka demo` wires
it: fresh identities from one address upload 20 MB files as fast as they can for a few
seconds. Prints what the blob store holds afterwards and how the uploads were answered.

    PYTHONPATH=. python -m tests.bench.bench_disk_fill [--identities 8] [--seconds 30]

Before the quotas this stored 1.17 GB in 10 s from four identities; now one address may
store ``files.ip_bytes_per_day`` (1 GB by default) a day and one visitor
``files.visitor_bytes_per_day`` (200 MB), so the figure is bounded by those whatever
the number of identities or the time. The files go to a temporary directory that is
removed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from collections import Counter
from pathlib import Path

import aiohttp

from bridge.demo import demo_bridge
from tests.bench.common import LIFTED, quiet_logging

FILE = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + os.urandom(20 * 1024 * 1024 - 200)


async def _identity(http: aiohttp.ClientSession) -> str:
    async with http.ws_connect("/widget/ws") as ws:
        await ws.send_json({"type": "hello", "token": None, "since": None})
        welcome = await ws.receive_json(timeout=10)
    return str(welcome["token"])


async def _flood(http: aiohttp.ClientSession, token: str, until: float,
                 answers: Counter[str], who: int) -> None:
    sent = who * 1_000_000  # every file differs: the store keeps equal bytes once
    while time.monotonic() < until:
        sent += 1
        data = aiohttp.FormData()
        data.add_field("cid", f"f{sent}")
        data.add_field("file", FILE[:-8] + sent.to_bytes(8, "big"), filename="scan.png",
                       content_type="image/png")
        async with http.post("/widget/api/upload", data=data,
                             headers={"Authorization": f"Bearer {token}"}) as response:
            body = await response.json()
            answers[f"{response.status} {body.get('code', body.get('type'))}"] += 1
            if response.status == 429:
                return  # the day's bytes are used up: nothing more to try today


async def main(identities: int, seconds: float) -> None:
    quiet_logging()
    with tempfile.TemporaryDirectory(prefix="pustaka-fill-") as folder:
        bridge, emulator, _ = await demo_bridge(
            "127.0.0.1", 0, Path(folder), rate_limits=False, desk_port=0, overrides=LIFTED)
        answers: Counter[str] = Counter()
        try:
            async with aiohttp.ClientSession(bridge.url) as http:
                tokens = [await _identity(http) for _ in range(identities)]
                started = time.monotonic()
                await asyncio.gather(*(_flood(http, token, started + seconds, answers, n)
                                       for n, token in enumerate(tokens)))
                took = time.monotonic() - started
        finally:
            await bridge.stop()
            await emulator.stop()
        stored = sum(p.stat().st_size for p in (Path(folder) / "blobs").rglob("*")
                     if p.is_file() and ".spool" not in p.parts)
    print(f"{identities} identities on one address, {took:.1f} s: "
          f"{stored / 2**30:.2f} GB stored; answers: {dict(sorted(answers.items()))}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--identities", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    asyncio.run(main(args.identities, args.seconds))
