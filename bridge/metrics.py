"""What ``/metrics`` shows, in the Prometheus text format written by prometheus-client.

Each bridge has a registry of its own (tests and benches run several bridges in one
process). Besides the outbox's gauges and counters it keeps two histograms:

- ``pustaka_ack_seconds{channel}``: from a patron's message reaching the router to its
  being stored (the widget's "ack", an email or Telegram message taken in);
- ``pustaka_send_seconds{destination,outcome}``: each send the outbox makes (a Telegram
  call, an SMTP transaction, a push to a widget socket), by where it went and whether
  it was sent or failed.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector

from bridge.web_guard import MetricsGuard
from routing.intake import Accepted, PatronIntake
from routing.model import Channel, Conversation, Delivery, Inbound, Message, Patron
from routing.ports import Sender, Sent
from routing.router import Router

__all__ = ["BridgeMetrics", "TimedRouter", "TimedSender"]

# A commit on a laptop takes about a millisecond; a slow disk or a long lock wait, seconds.
ACK_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# A widget push is sub-millisecond; Telegram and SMTP calls take 50 ms to the 30 s timeout.
SEND_BUCKETS = (0.001, 0.005, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class BridgeMetrics:
    """The bridge's registry: ``watch`` the outbox and the widget hub, time the router
    (``TimedRouter(metrics.ack, …)``) and the senders (``timed``), serve ``handler``."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.ack = Histogram("pustaka_ack_seconds", "Patron message in to stored, by channel",
                             ["channel"], registry=self.registry, buckets=ACK_BUCKETS)
        self.send = Histogram("pustaka_send_seconds", "One send, by destination and outcome",
                              ["destination", "outcome"], registry=self.registry,
                              buckets=SEND_BUCKETS)
        self.pending = Gauge("pustaka_outbox_pending", "Deliveries waiting to be sent",
                             registry=self.registry)

    def watch(self, outbox_stats: Callable[[], Mapping[str, int]],
              connections: Callable[[], int]) -> None:
        """Read the outbox's counters and the open widget sockets at each scrape."""
        self.registry.register(_Snapshot(outbox_stats, connections))

    def timed(self, senders: Mapping[Channel, Sender]) -> dict[Channel, Sender]:
        return {channel: TimedSender(sender, channel.value, self.send)
                for channel, sender in senders.items()}

    def handler(self, guard: MetricsGuard, pending: Callable[[], Awaitable[int]]
                ) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def metrics(request: web.Request) -> web.Response:
            guard.check(request)  # queue sizes and counters are not for the public
            self.pending.set(await pending())
            return web.Response(body=generate_latest(self.registry),
                                headers={"Content-Type": CONTENT_TYPE_LATEST})
        return metrics


class TimedRouter(Router):
    """The router, its intake timing each patron message it takes in (a refusal is not
    timed)."""

    def __init__(self, ack: Histogram, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The same intake, timed: built over the same log with the same policy.
        self.intake = TimedIntake(ack, self.log, **{
            key: kwargs[key] for key in ("policy", "staffed") if key in kwargs})


class TimedIntake(PatronIntake):
    def __init__(self, ack: Histogram, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # One child per channel, looked up once: labels() costs more than observe().
        self._ack = {channel: ack.labels(channel.value) for channel in Channel}

    async def accept(self, inbound: Inbound) -> Accepted:
        started = time.perf_counter()
        accepted = await super().accept(inbound)
        self._ack[inbound.channel].observe(time.perf_counter() - started)
        return accepted


class TimedSender:
    """A sender, timed. Anything else asked of it (``budget_keys``) is the wrapped one's."""

    def __init__(self, inner: Sender, destination: str, histogram: Histogram) -> None:
        self._inner = inner
        self._sent = histogram.labels(destination, "sent")
        self._failed = histogram.labels(destination, "failed")

    async def send(self, delivery: Delivery, message: Message, conversation: Conversation,
                   patron: Patron) -> Sent:
        started = time.perf_counter()
        try:
            sent = await self._inner.send(delivery, message, conversation, patron)
        except BaseException:
            self._failed.observe(time.perf_counter() - started)
            raise
        self._sent.observe(time.perf_counter() - started)
        return sent

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class _Snapshot(Collector):
    """Values read at scrape time: the outbox's counters since start (sent, coalesced,
    retried, failed, rate_limited, possible_duplicates: messages sent again that may
    already have arrived …) and the widget sockets open now. Gauges under the
    names they always had, so existing dashboards keep working."""

    def __init__(self, stats: Callable[[], Mapping[str, int]],
                 connections: Callable[[], int]) -> None:
        self._stats = stats
        self._connections = connections

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily("pustaka_widget_connections", "Open widget sockets",
                                value=self._connections())
        for name, value in sorted(self._stats().items()):
            yield GaugeMetricFamily(f"pustaka_outbox_{name}", f"Outbox {name.replace('_', ' ')}",
                                    value=value)
