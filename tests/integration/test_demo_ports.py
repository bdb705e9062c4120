"""`pustaka demo`'s desk simulator when the port after the bridge's is taken."""

from __future__ import annotations

import socket
from pathlib import Path

import aiohttp

from bridge.demo import demo_bridge


def _two_free_ports() -> tuple[int, socket.socket]:
    """A free port whose next port is held by a listening socket (returned, to close)."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        holder = socket.socket()
        try:
            holder.bind(("127.0.0.1", port + 1))
        except OSError:
            holder.close()
            continue
        holder.listen()
        return port, holder
    raise RuntimeError("no pair of free ports")


class TestDemoPorts:
    async def test_a_taken_desk_port_gives_the_desk_another(self, tmp_path: Path) -> None:
        """With port + 1 taken, the demo still starts: the bridge on its port, the desk
        simulator on another, and the bridge answers there."""
        port, holder = _two_free_ports()
        try:
            bridge, emulator, desk = await demo_bridge("127.0.0.1", port, tmp_path)
            try:
                assert bridge.url.endswith(f":{port}")
                assert f":{port + 1}/" not in desk
                async with aiohttp.ClientSession() as http:
                    async with http.get(f"{bridge.url}/healthz") as answer:
                        assert answer.status == 200
                    async with http.get(desk) as page:
                        assert page.status == 200
            finally:
                await bridge.stop()
                await emulator.stop()
        finally:
            holder.close()
