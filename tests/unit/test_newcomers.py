"""Per-network budgets: a burst, an even refill, bounded memory; config keys checked."""

from __future__ import annotations

import pytest

from adapters.widget.frames import FrameError
from adapters.widget.newcomers import NetworkBudget
from bridge.config import ConfigError, load_config


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class TestNetworkBudget:
    def test_ten_minutes_worth_at_once_then_an_hours_share_each(self) -> None:
        """60 an hour: 10 at once, then one a minute, and the refusal says so."""
        clock = Clock()
        budget = NetworkBudget(60, "new chats", clock=clock)
        for _ in range(10):
            budget.spend("192.0.2.1")
        with pytest.raises(FrameError) as refused:
            budget.spend("192.0.2.1")
        assert (refused.value.code, refused.value.retry_after) == ("rate_limited", 60)
        assert "in 60 s" in str(refused.value)
        budget.spend("192.0.2.2")  # another address has its own
        clock.now += 60
        budget.spend("192.0.2.1")

    def test_an_ipv6_64_is_one_network(self) -> None:
        """Rotating addresses inside one /64 buys nothing."""
        budget = NetworkBudget(6, "new chats", clock=Clock())
        budget.spend("2001:db8::1")
        with pytest.raises(FrameError):
            budget.spend("2001:db8::ffff:2")

    def test_memory_is_bounded_by_the_most_recent_networks(self) -> None:
        """A flood from many addresses keeps at most ``remember`` buckets."""
        budget = NetworkBudget(6, "new chats", remember=100, clock=Clock())
        for n in range(1000):
            budget.spend(f"10.0.{n // 256}.{n % 256}")
        assert len(budget._buckets) == 100


class TestConfig:
    @pytest.mark.parametrize("section,key", [
        ("server", "max_connections_per_ip"), ("server", "header_timeout"),
        ("widget", "new_visitors_per_ip_hour"), ("widget", "new_conversations_per_ip_hour")])
    def test_limits_must_be_positive(self, section: str, key: str) -> None:
        """A zero limit is refused at load, naming the key."""
        with pytest.raises(ConfigError, match=f"{section}.{key} must be more than 0"):
            load_config(None, env={}, **{section: {key: 0}})

    def test_defaults(self) -> None:
        """The shipped limits."""
        config = load_config(None, env={})
        assert (config.server.max_connections_per_ip, config.server.header_timeout) == (100, 15.0)
        assert (config.widget.new_visitors_per_ip_hour,
                config.widget.new_conversations_per_ip_hour) == (60, 30)
