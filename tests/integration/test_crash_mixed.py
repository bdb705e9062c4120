"""The mixed crash run of tests/bench/bench_delivery.py (c), made small enough for a test.

The bridge runs in its own process with email on; widget patrons (websockets), email
patrons (mails APPENDed to a real Dovecot, replies at a real aiosmtpd) and Telegram
patrons (private chats in the emulator) write while librarians answer in the topics,
and the bridge is SIGKILLed twice and restarted. Time runs 20 times fast (the group
takes 20 posts per 3 real seconds; tests/bench/delivery_rig.py explains the scaling).
Copies are counted by the bench, not asserted: a crash between "sent" and "recorded"
may resend one, by design.
"""

from __future__ import annotations

from tests.bench.crash_mixed import CrashPlan, mixed_crash_run

PLAN = CrashPlan(speed=20.0, widgets=2, emails=2, telegrams=2, messages=3, answers=2,
                 kills=2, seed=7)


async def test_a_bridge_killed_twice_loses_nothing_on_any_channel() -> None:
    """With the bridge SIGKILLed twice mid-run, every patron message on every channel
    ends in its topic in order, and every librarian reply reaches its patron in order."""
    run = await mixed_crash_run(PLAN)
    assert [c.name for c in run.channels] == ["widget", "email", "telegram"]
    for channel in run.channels:
        assert channel.sent == PLAN.messages * channel.patrons, channel.name
        assert channel.desk.missing == [], channel.name
        assert channel.desk.out_of_order == [] and channel.desk.split == [], channel.name
        assert channel.replies["sent"] == PLAN.answers * channel.patrons, channel.name
        assert channel.replies["reached"] == channel.replies["sent"], channel.name
        assert channel.replies["out_of_order"] == 0, channel.name
    assert run.unthreaded == 0  # every reply mail is filed under the patron's own mail
