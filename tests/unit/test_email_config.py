"""The email trust setting: a wrong value is refused naming the key; a right one arrives."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.channels import email_settings
from bridge.config import ConfigError, load_config

ENABLED = ('[email]\nenabled = true\nimap_host = "mx"\nimap_user = "help"\n'
           'smtp_host = "mx"\nfrom_address = "help@library.example"\n')


class TestTrustedAuthservId:
    def test_reaches_the_email_settings(self, tmp_path: Path) -> None:
        """email.trusted_authserv_id from the file is what the intake checks against."""
        path = tmp_path / "pustaka.toml"
        path.write_text(ENABLED + 'trusted_authserv_id = "mx.library.example"\n')
        settings = email_settings(load_config(path, env={}))
        assert settings.trusted_authserv_id == "mx.library.example"

    def test_off_by_default(self) -> None:
        """No value: no check, every From is believed as before."""
        assert email_settings(load_config(None, env={})).trusted_authserv_id == ""

    @pytest.mark.parametrize("value", ["mx.library.example; dmarc=pass", "two words", "(mx)"])
    def test_a_value_that_is_not_one_name_is_refused(self, tmp_path: Path, value: str) -> None:
        """A field fragment or several words is refused with the key named."""
        path = tmp_path / "pustaka.toml"
        path.write_text(ENABLED + f'trusted_authserv_id = "{value}"\n')
        with pytest.raises(ConfigError, match=r"email\.trusted_authserv_id"):
            load_config(path, env={})
