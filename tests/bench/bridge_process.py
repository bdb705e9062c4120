"""The bridge in a child process for the crash runs: started, polled, SIGKILLed, restarted.

The child is tests/bench/delivery_runner.py. It keeps one port and one data directory
for its whole life, so widgets reconnect to the same address and every restart finds
what the last one left in SQLite. Its log goes to ``bridge.log`` in the data directory.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp

from tests.bench.delivery_rig import HOST

__all__ = ["BridgeProcess", "free_port"]

# routing/outbox_ledger.py says so when a life finds sends its predecessor left in flight
_IN_FLIGHT = re.compile(rb"(\d+) deliveries were being sent when the bridge stopped")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


class BridgeProcess:
    """The bridge in a child process: started, polled for its counters, SIGKILLed.

    ``overrides`` are config keys by section and ``env`` the child's extra environment
    (the mail passwords), for a bridge with email on.
    """

    def __init__(self, api_url: str, group: int, data_dir: Path, speed: float, *,
                 overrides: dict[str, dict[str, Any]] | None = None,
                 env: dict[str, str] | None = None) -> None:
        self.args = [api_url, str(group), str(data_dir), str(free_port()), str(speed)]
        if overrides:
            self.args.append(json.dumps(overrides))
        self.env = {**os.environ, **(env or {})}
        self.url = f"http://{HOST}:{self.args[3]}"
        self.log = open(data_dir / "bridge.log", "ab")
        self.proc: asyncio.subprocess.Process | None = None
        self.totals: Counter[str] = Counter()
        self.current: dict[str, int] = {}
        self.starts = 0

    async def start(self, http: aiohttp.ClientSession) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.bench.delivery_runner", *self.args,
            stdout=asyncio.subprocess.PIPE, stderr=self.log, env=self.env,
            cwd=Path(__file__).parents[2])
        assert self.proc.stdout is not None
        ready = await asyncio.wait_for(self.proc.stdout.readline(), 60)
        if ready.strip() != b"ready":
            raise RuntimeError(f"the bridge did not start; see {self.log.name}")
        self.current = {}
        self.starts += 1

    async def poll(self, http: aiohttp.ClientSession) -> None:
        try:
            async with http.get(f"{self.url}/_bench/stats") as response:
                self.current = await response.json()
        except (aiohttp.ClientError, OSError, json.JSONDecodeError):
            pass

    async def kill(self) -> None:
        """SIGKILL: no drain, no goodbye; counters read up to the last poll are kept."""
        if self.proc is not None:
            self.proc.send_signal(signal.SIGKILL)
            await self.proc.wait()
            self.totals.update(self.current)
            self.proc = None

    def in_flight_at_kills(self) -> int:
        """Deliveries a SIGKILL caught mid-send, as the next life logged them (the log
        outlives a life too short for a poll of its counters)."""
        raw = Path(self.log.name).read_bytes()
        return sum(int(n) for n in _IN_FLIGHT.findall(raw))

    async def stop(self, http: aiohttp.ClientSession) -> dict[str, int]:
        await self.poll(http)
        if self.proc is not None:
            self.proc.send_signal(signal.SIGTERM)
            await self.proc.wait()
            self.totals.update(self.current)
            self.proc = None
        self.log.close()
        return {k: v for k, v in self.totals.items() if not k.startswith("lanes_")}
