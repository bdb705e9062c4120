"""``adapters.widget.quota``: daily byte quotas over the store's key-value state."""

from __future__ import annotations

import pytest

from adapters.widget.quota import QuotaExceeded, QuotaPolicy, UploadQuota


class _State:
    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    async def get_state(self, key: str) -> str | None:
        return self.values.get(key)

    async def set_state(self, key: str, value: str) -> None:
        self.values[key] = value


class _Clock:
    at = 1_750_000_000.0

    def now(self) -> float:
        return self.at


class TestUploadQuota:
    async def test_an_ipv6_subscribers_addresses_share_one_quota(self) -> None:
        """Two addresses in one IPv6 /64 count as one; another /64 has its own quota."""
        quota = UploadQuota(_State(), _Clock(), QuotaPolicy(per_visitor=0, per_ip=100))
        meter = await quota.meter("v1", "2001:db8:1:2::7")
        meter.add(100)
        await meter.charge()
        with pytest.raises(QuotaExceeded) as refused:
            await quota.meter("v2", "2001:db8:1:2:ffff::1")
        assert refused.value.status == 429 and refused.value.retry_after
        await quota.meter("v3", "2001:db8:1:3::7")

    async def test_refused_bytes_cost_nothing_and_charged_ones_are_stored(self) -> None:
        """A released meter gives its bytes back; a charged one is in the state."""
        state = _State()
        quota = UploadQuota(state, _Clock(), QuotaPolicy(per_visitor=100, per_ip=0))
        meter = await quota.meter("v1", "")
        meter.add(90)
        meter.release()
        meter = await quota.meter("v1", "")
        meter.add(60)
        await meter.charge()
        assert list(state.values) == ["upload-bytes:visitor:v1"]
        again = UploadQuota(state, _Clock(), QuotaPolicy(per_visitor=100, per_ip=0))
        meter = await again.meter("v1", "")
        with pytest.raises(QuotaExceeded) as refused:
            meter.add(41)
        assert refused.value.status == 413
