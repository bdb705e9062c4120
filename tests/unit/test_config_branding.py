"""The widget's branding keys: what the bubble shows is checked when the bridge starts."""

from __future__ import annotations

import re

import pytest

from bridge.config import ConfigError, load_config


class TestBranding:
    def test_branding_keys_come_from_the_environment(self) -> None:
        """Size, label and offsets are read like every other key."""
        config = load_config(env={"PUSTAKA_WIDGET_SIZE": "large",
                                  "PUSTAKA_WIDGET_LAUNCHER_LABEL": "Tanya kami",
                                  "PUSTAKA_WIDGET_OFFSET_X": "0", "PUSTAKA_WIDGET_OFFSET_Y": "48"})
        widget = config.widget
        assert (widget.size, widget.launcher_label, widget.offset_x, widget.offset_y) == \
            ("large", "Tanya kami", 0, 48)

    @pytest.mark.parametrize(("key", "value", "message"), [
        ("SIZE", "huge", "widget.size must be one of ['compact', 'large', 'normal']"),
        ("OFFSET_X", "401", "widget.offset_x must be from 0 to 400 pixels"),
        ("OFFSET_Y", "-1", "widget.offset_y must be from 0 to 400 pixels"),
        ("COLOUR", "red", "widget.colour must be a colour like #0b5394"),
        ("COLOUR", "#12345g", "widget.colour must be a colour like #0b5394"),
        ("LOGO", "javascript:alert(1)", "widget.logo must be an http(s) address"),
        ("LAUNCHER_LABEL", "x" * 41, "widget.launcher_label must be one line"),
        ("LAUNCHER_LABEL", "Ask\nus", "widget.launcher_label must be one line"),
    ])
    def test_a_bad_branding_value_stops_the_start_naming_its_key(
        self, key: str, value: str, message: str
    ) -> None:
        """A value the bubble could not show fails at load, with the key in the message."""
        with pytest.raises(ConfigError, match=re.escape(message)):
            load_config(env={f"PUSTAKA_WIDGET_{key}": value})
