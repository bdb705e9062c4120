"""What the browser fetched, as its own network log (Chrome DevTools Protocol) tells it.

Bytes on the wire are Chromium's ``encodedDataLength`` (headers and the body as sent,
compressed), so a file the browser took from its cache counts nothing, and a 304 counts
only its headers; ``body`` is what came after the headers, the file itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from playwright.async_api import CDPSession, Page

__all__ = ["Fetch", "NetworkLog"]


@dataclass
class Fetch:
    url: str
    started: float  # the browser's monotonic clock, seconds
    wall: float = 0.0  # the wall clock at ``started``, seconds since the epoch
    ended: float = 0.0  # the monotonic clock when the last byte came
    status: int = 0
    wire: int = 0
    headers: int = 0
    cached: bool = False
    done: bool = False

    @property
    def body(self) -> int:
        return 0 if self.cached else max(0, self.wire - self.headers)

    def finished_wall(self, wall: float) -> bool:
        """Whether this request had finished by ``wall`` (seconds since the epoch)."""
        return self.done and self.wall + (self.ended - self.started) <= wall


class NetworkLog:
    def __init__(self, cdp: CDPSession) -> None:
        self.cdp = cdp
        self._by_id: dict[str, Fetch] = {}

    @classmethod
    async def attach(cls, page: Page) -> NetworkLog:
        cdp = await page.context.new_cdp_session(page)
        log = cls(cdp)
        cdp.on("Network.requestWillBeSent", log._sent)
        cdp.on("Network.requestServedFromCache", log._from_cache)
        cdp.on("Network.responseReceived", log._response)
        cdp.on("Network.loadingFinished", log._finished)
        await cdp.send("Network.enable")
        return log

    def fetches(self, part: str = "") -> list[Fetch]:
        """Requests whose URL holds ``part``, in the order they were made."""
        return [f for f in self._by_id.values() if part in f.url]

    def wire(self, part: str = "", before: float | None = None) -> int:
        """Bytes on the wire for requests holding ``part`` (started before ``before``)."""
        return sum(f.wire for f in self.fetches(part) if before is None or f.started <= before)

    def _sent(self, event: dict[str, Any]) -> None:
        self._by_id[event["requestId"]] = Fetch(event["request"]["url"], event["timestamp"],
                                                event.get("wallTime", 0.0))

    def _from_cache(self, event: dict[str, Any]) -> None:
        if fetch := self._by_id.get(event["requestId"]):
            fetch.cached = True

    def _response(self, event: dict[str, Any]) -> None:
        if fetch := self._by_id.get(event["requestId"]):
            response = event["response"]
            fetch.status = response["status"]
            fetch.headers = int(response.get("encodedDataLength", 0))
            fetch.cached = fetch.cached or bool(response.get("fromDiskCache")) \
                or bool(response.get("fromPrefetchCache"))

    def _finished(self, event: dict[str, Any]) -> None:
        if fetch := self._by_id.get(event["requestId"]):
            fetch.wire = 0 if fetch.cached else int(event["encodedDataLength"])
            fetch.ended = event["timestamp"]
            fetch.done = True
