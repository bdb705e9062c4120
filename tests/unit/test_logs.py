"""The log format's settings and how a line looks in each format."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge.config import ConfigError, load_config
from bridge.logs import formatter
from bridge.redact import MASK, redact_secrets
from routing import logctx


class TestSetting:
    def test_file_and_environment_choose_the_format(self, tmp_path: Path) -> None:
        """``[log] format`` in the file, ``PUSTAKA_LOG_FORMAT`` over it; console by default."""
        path = tmp_path / "pustaka.toml"
        path.write_text('[log]\nformat = "json"\n')
        assert load_config(None, env={}).log.format == "console"
        assert load_config(path, env={}).log.format == "json"
        assert load_config(path, env={"PUSTAKA_LOG_FORMAT": "console"}).log.format == "console"

    def test_an_unknown_format_names_the_key_and_the_choices(self, tmp_path: Path) -> None:
        """``format = "xml"`` stops the start with a message naming log.format."""
        path = tmp_path / "pustaka.toml"
        path.write_text('[log]\nformat = "xml"\n')
        with pytest.raises(ConfigError, match=r"log\.format must be one of \['console', 'json'\]"):
            load_config(path, env={})


@pytest.fixture
def logger() -> Iterator[tuple[logging.Logger, io.StringIO, logging.StreamHandler[io.StringIO]]]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    log = logging.getLogger("tests.logs")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    try:
        yield log, out, handler
    finally:
        log.removeHandler(handler)
        log.propagate = True


class TestLines:
    def test_console_lines_are_key_value_with_the_conversation(self, logger: tuple) -> None:
        """In a terminal: time, level, text, logger, then the bound ids as key=value."""
        log, out, handler = logger
        handler.setFormatter(formatter("console"))
        with logctx.scope(conversation_id="c-9", channel="telegram", patron_id="p-9"):
            log.info("delivery %s failed", "d-1")
        line = out.getvalue()
        assert "[INFO" in line and "delivery d-1 failed" in line and "[tests.logs]" in line
        assert "channel=telegram conversation_id=c-9 patron_id=p-9" in line

    def test_a_crafted_line_break_cannot_forge_a_console_line(self, logger: tuple) -> None:
        """A sender's address with a line break in it is written escaped, on one line."""
        log, out, handler = logger
        handler.setFormatter(formatter("console"))
        log.info("mail from %s refused", "x@example.org\n2026-12-07 [INFO] admin logged in")
        assert out.getvalue().count("\n") == 1
        assert "x@example.org\\n2026-12-07 [INFO] admin logged in" in out.getvalue()

    def test_json_masks_a_secret_passed_as_a_value(self, logger: tuple) -> None:
        """A secret in an exception's text is masked in the JSON line too."""
        log, out, handler = logger
        handler.setFormatter(formatter("json"))
        redact_secrets("smtp-password-long-enough")
        try:
            raise ConnectionError("login smtp-password-long-enough refused")
        except ConnectionError:
            log.exception("smtp failed")
        line = json.loads(out.getvalue())
        assert "smtp-password-long-enough" not in out.getvalue()
        assert MASK in line["exception"] and line["level"] == "ERROR"

    def test_only_known_ids_are_bound(self) -> None:
        """A message's text cannot be bound by mistake: only the three ids are taken."""
        with pytest.raises(ValueError, match="text"), logctx.scope():
            logctx.bind(text="Is the library open?")
