"""The bridge alone in a process, for the crash run of bench_delivery.py.

    python -m tests.bench.delivery_runner API_URL GROUP DATA_DIR PORT SPEED

Runs until killed. ``GET /_bench/stats`` answers the outbox's counters, so the bench can
read them up to the moment it sends SIGKILL.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

from aiohttp import web

from bridge.app import Bridge
from tests.bench.delivery_rig import start_bridge

__all__ = ["main"]


async def serve(api_url: str, group: int, data_dir: Path, port: int, speed: float) -> None:
    holder: list[Bridge] = []

    async def stats(_: web.Request) -> web.Response:
        return web.json_response(holder[0].worker.stats() if holder else {})

    holder.append(await start_bridge(api_url, group, data_dir, speed=speed, port=port,
                                     routes=[web.get("/_bench/stats", stats)]))
    print("ready", flush=True)
    await asyncio.Event().wait()  # until SIGKILL (or SIGTERM ends the process)


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="bridge %(levelname)s %(name)s: %(message)s")
    api_url, group, data_dir, port, speed = sys.argv[1:6]
    asyncio.run(serve(api_url, int(group), Path(data_dir), int(port), float(speed)))


if __name__ == "__main__":
    main()
