"""[retention]: its defaults, the environment, and bad values named."""

from __future__ import annotations

import pytest

from bridge.config import ConfigError, load_config


def test_defaults_and_environment() -> None:
    """365/30/90 days and topics kept closed by default; the environment overrides."""
    config = load_config(None, env={"PUSTAKA_RETENTION_TRANSCRIPTS_DAYS": "730",
                                    "PUSTAKA_RETENTION_DELETE_TOPICS": "yes"})
    retention = config.retention
    assert (retention.transcripts_days, retention.visitors_days, retention.files_days,
            retention.delete_topics, retention.run_at_hour) == (730, 30, 90, True, 3)


@pytest.mark.parametrize(("values", "said"), [
    ({"visitors_days": 0}, "retention.visitors_days must be more than 0"),
    ({"files_days": "soon"}, "retention.files_days"),
    ({"run_at_hour": 24}, "retention.run_at_hour must be an hour from 0 to 23"),
    ({"transcript_days": 10}, "did you mean 'retention.transcripts_days'"),
])
def test_bad_values_are_named(values: dict[str, object], said: str) -> None:
    """A wrong value stops the start with the key in the message."""
    with pytest.raises(ConfigError, match=said.replace("(", r"\(")):
        load_config(None, env={}, retention=values)
