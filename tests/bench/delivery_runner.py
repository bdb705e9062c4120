"""The bridge alone in a process, for the crash runs of bench_delivery.py.

    python -m tests.bench.delivery_runner API_URL GROUP DATA_DIR PORT SPEED [OVERRIDES]

Runs until killed. ``OVERRIDES`` is JSON of config keys by section (the mixed crash run
turns email on with it); the mail passwords come from the environment, as in production
(``PUSTAKA_IMAP_PASSWORD``, ``PUSTAKA_SMTP_PASSWORD``). ``GET /_bench/stats`` answers
the outbox's counters, so the bench can read them up to the moment it sends SIGKILL.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from aiohttp import web

from bridge.app import Bridge
from tests.bench.delivery_rig import start_bridge

__all__ = ["main"]

SECRETS = ("PUSTAKA_IMAP_PASSWORD", "PUSTAKA_SMTP_PASSWORD")


async def serve(api_url: str, group: int, data_dir: Path, port: int, speed: float,
                overrides: dict[str, dict[str, Any]]) -> None:
    holder: list[Bridge] = []

    async def stats(_: web.Request) -> web.Response:
        return web.json_response(holder[0].worker.stats() if holder else {})

    secrets = {name: os.environ[name] for name in SECRETS if name in os.environ}
    holder.append(await start_bridge(api_url, group, data_dir, speed=speed, port=port,
                                     routes=[web.get("/_bench/stats", stats)],
                                     overrides=overrides, secrets=secrets))
    print("ready", flush=True)
    await asyncio.Event().wait()  # until SIGKILL (or SIGTERM ends the process)


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="bridge %(levelname)s %(name)s: %(message)s")
    api_url, group, data_dir, port, speed = sys.argv[1:6]
    overrides = json.loads(sys.argv[6]) if len(sys.argv) > 6 else {}
    asyncio.run(serve(api_url, int(group), Path(data_dir), int(port), float(speed), overrides))


if __name__ == "__main__":
    main()
