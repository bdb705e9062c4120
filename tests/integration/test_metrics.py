"""/metrics as Prometheus reads it: the outbox's figures and the latency histograms."""

from __future__ import annotations

from pathlib import Path

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from bridge.demo import demo_bridge
from tests.eventually import eventually


async def test_a_patron_message_shows_in_the_ack_and_send_histograms(tmp_path: Path) -> None:
    """After one widget message reaches the desk, the text parses as Prometheus
    exposition, ``pustaka_ack_seconds{channel="widget"}`` counts one message and
    ``pustaka_send_seconds{destination="desk",outcome="sent"}`` one send; the outbox
    gauges keep their names."""
    bridge, emulator, _ = await demo_bridge("127.0.0.1", 0, tmp_path, rate_limits=False,
                                            desk_port=0)
    group = bridge.config.telegram.group_id
    try:
        async with aiohttp.ClientSession() as session:
            ws = await session.ws_connect(f"{bridge.url}/widget/ws")
            await ws.send_json({"type": "hello", "token": None})
            await ws.receive_json()
            await ws.send_json({"type": "send", "cid": "c1", "text": "Jam buka?"})
            assert (await ws.receive_json())["type"] == "ack"
            await eventually(lambda: emulator.topics(group) and bridge.worker.stats()["sent"])
            response = await session.get(f"{bridge.url}/metrics")
            text = await response.text()
            await ws.close()
    finally:
        await bridge.stop()
        await emulator.stop()
    assert response.status == 200 and response.content_type == "text/plain"
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(text) for s in family.samples}
    assert samples[("pustaka_ack_seconds_count", (("channel", "widget"),))] == 1
    sent = ("pustaka_send_seconds_count", (("destination", "desk"), ("outcome", "sent")))
    assert samples[sent] == 1
    assert samples[("pustaka_send_seconds_bucket", (("destination", "desk"), ("le", "+Inf"),
                                                    ("outcome", "sent")))] == 1
    assert samples[("pustaka_outbox_sent", ())] == 1
    assert samples[("pustaka_outbox_pending", ())] == 0
    assert samples[("pustaka_widget_connections", ())] == 1
    assert "# TYPE pustaka_ack_seconds histogram" in text
