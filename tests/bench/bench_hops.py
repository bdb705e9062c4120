"""How many of our files and functions one patron message passes through on its way to
the desk's topic, and one librarian reply on its way back to the widget (issue 15's
"files and hops" measure).

A profiler hook notes every call into ``routing/``, ``adapters/`` and ``bridge/`` (the
emulator excluded: it stands in for Telegram) made by the tasks that carry the message:
the widget socket's handler and the outbox for the way in, the desk poller and the
outbox for the way back. The loops that only watch (queue view, reminders) are left out.

    python -m tests.bench.bench_hops
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType
from typing import Any

import aiohttp

from bridge.demo import demo_bridge

ROOT = Path(__file__).resolve().parents[2]
OURS = tuple(str(ROOT / part) + "/" for part in ("routing", "adapters", "bridge"))
EMULATOR = str(ROOT / "adapters" / "telegram" / "emulator") + "/"
WATCHERS = {"widget-queue", "reminders", "imap-intake"}


class Trace:
    """Calls into our code, by file and by function, while ``on``."""

    def __init__(self) -> None:
        self.files: set[str] = set()
        self.functions: set[str] = set()
        self.on = False

    def __call__(self, frame: FrameType, event: str, _: Any) -> None:
        if not self.on or event != "call":
            return
        name = frame.f_code.co_filename
        if not name.startswith(OURS) or name.startswith(EMULATOR):
            return
        try:
            task = asyncio.current_task()
        except RuntimeError:
            task = None
        if task is not None and task.get_name() in WATCHERS:
            return
        short = name[len(str(ROOT)) + 1:]
        self.files.add(short)
        self.functions.add(f"{short}:{frame.f_code.co_name}")

    def start(self) -> None:
        self.files.clear()
        self.functions.clear()
        self.on = True

    def stop(self) -> tuple[int, int]:
        self.on = False
        return len(self.files), len(self.functions)


async def main() -> None:
    trace = Trace()
    with tempfile.TemporaryDirectory() as tmp:
        bridge, emulator, _ = await demo_bridge("127.0.0.1", 0, Path(tmp), rate_limits=False,
                                                desk_port=0)
        group = bridge.config.telegram.group_id
        librarian = emulator.add_user("Sari")
        emulator.add_member(group, librarian)
        sys.setprofile(trace)
        try:
            async with aiohttp.ClientSession() as session:
                ws = await session.ws_connect(f"{bridge.url}/widget/ws")
                await ws.send_json({"type": "hello", "token": None})
                await ws.receive_json()
                # A first message opens the topic; the measured one goes into it.
                await ws.send_json({"type": "send", "cid": "c0", "text": "Halo?"})
                while not emulator.topics(group):
                    await asyncio.sleep(0.01)
                thread = emulator.topics(group)[0]["message_thread_id"]
                posts = len(emulator.messages(group, thread))
                trace.start()
                await ws.send_json({"type": "send", "cid": "c1", "text": "Jam buka?"})
                while len(emulator.messages(group, thread)) == posts:
                    await asyncio.sleep(0.005)
                way_in = trace.stop()
                in_files = sorted(trace.files)
                trace.start()
                emulator.user_sends(group, librarian, "Jam 8 sampai 16.",
                                    message_thread_id=thread)
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline:
                    frame = await ws.receive_json()
                    if frame.get("message", {}).get("text") == "Jam 8 sampai 16.":
                        break
                way_back = trace.stop()
                back_files = sorted(trace.files)
                await ws.close()
        finally:
            sys.setprofile(None)
            await bridge.stop()
            await emulator.stop()
    print(f"patron message, widget socket to topic: {way_in[0]} files, {way_in[1]} functions")
    print(f"librarian reply, topic to widget:       {way_back[0]} files, {way_back[1]} functions")
    print("\nfiles on the way in:\n  " + "\n  ".join(in_files))
    print("\nfiles on the way back:\n  " + "\n  ".join(back_files))


if __name__ == "__main__":
    asyncio.run(main())
