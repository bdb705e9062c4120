"""Configuration: every mistake names the key and where it was made."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.config import ConfigError, disk_floor, load_config


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "pustaka.toml"
    path.write_text(text)
    return path


class TestLoadConfig:
    def test_defaults_need_no_file(self) -> None:
        """With no file and no environment every key has a working default."""
        config = load_config(None, env={})
        assert config.widget.max_text == 4000 and config.public_url == "http://127.0.0.1:8080"

    def test_file_values_are_typed(self, tmp_path: Path) -> None:
        """Values from the file arrive with their declared types."""
        path = write(tmp_path, '[telegram]\ngroup_id = -100123\n[widget]\nposition = "left"\n')
        config = load_config(path, env={})
        assert config.telegram.group_id == -100123 and config.widget.position == "left"

    def test_environment_wins_and_is_coerced(self, tmp_path: Path) -> None:
        """PUSTAKA_<SECTION>_<KEY> overrides the file and is converted to the key's type."""
        path = write(tmp_path, "[widget]\nmax_text = 100\n")
        config = load_config(path, env={"PUSTAKA_WIDGET_MAX_TEXT": "250",
                                        "PUSTAKA_WIDGET_ALLOWED_ORIGINS": "https://a, https://b"})
        assert config.widget.max_text == 250
        assert config.widget.allowed_origins == ["https://a", "https://b"]

    def test_secrets_come_from_the_environment(self) -> None:
        """The bot token and signing secret are read from the environment only."""
        config = load_config(None, env={"PUSTAKA_TELEGRAM_TOKEN": "1:abc", "PUSTAKA_SECRET": "x"})
        assert config.telegram_token == "1:abc" and config.secret == "x"
        assert "1:abc" not in repr(config)

    @pytest.mark.parametrize("text,message", [
        ('[widget]\ncolr = "red"\n', "unknown key 'widget.colr' (did you mean 'widget.colour'?)"),
        ("[widgets]\n", "unknown key 'widgets' (did you mean 'widget'?)"),
        ('[widget]\nmax_text = "many"\n', "widget.max_text must be int, got 'many'"),
        ('[widget]\nposition = "top"\n',
         "widget.position must be one of ['auto', 'left', 'right']"),
        ("[telegram]\ngroup_id = [1]\n", "telegram.group_id must be int"),
        ('[telegram]\ntoken = "1:abc"\n', "telegram.token is a secret"),
        ("[widget\n", "is not valid TOML"),
        ('widget = "x"\n', "[widget] must be a table"),
        ('[hours]\nmon = "22:00-02:00"\n', "hours.mon: '22:00-02:00' crosses midnight"),
        ('[hours]\nmonday = "08:00-16:00"\n', "unknown key 'hours.monday' (did you mean"),
        ('[directory]\nkind = "ldap"\n', "directory.kind must be one of"),
        ('[directory]\ntoken = "x"\n', "directory.token is a secret"),
    ])
    def test_file_mistakes_name_the_key(self, tmp_path: Path, text: str, message: str) -> None:
        """Each mistake in the file is an error naming the file and the key."""
        path = write(tmp_path, text)
        with pytest.raises(ConfigError) as caught:
            load_config(path, env={})
        assert message in str(caught.value) and str(path) in str(caught.value)

    def test_environment_mistakes_name_the_variable(self) -> None:
        """A misspelt environment variable is named, with the key it probably meant."""
        with pytest.raises(ConfigError) as caught:
            load_config(None, env={"PUSTAKA_WIDGET_COLOR": "red"})
        assert str(caught.value) == ("environment PUSTAKA_WIDGET_COLOR: unknown key "
                                     "'widget.color' (did you mean 'widget.colour'?)")

    def test_missing_file_is_named(self, tmp_path: Path) -> None:
        """A config path that does not exist says so."""
        with pytest.raises(ConfigError, match="does not exist"):
            load_config(tmp_path / "nope.toml", env={})

    def test_the_shipped_example_is_valid(self) -> None:
        """The example written by `pustaka init` loads without error."""
        example = Path(__file__).parents[2] / "bridge" / "pustaka.example.toml"
        assert load_config(example, env={}).telegram.group_id < 0

    def test_directory_token_comes_from_the_environment(self) -> None:
        """The member directory's bearer token is a secret read from the environment."""
        config = load_config(None, env={"PUSTAKA_DIRECTORY_TOKEN": "s3cret"})
        assert config.directory_token == "s3cret" and "s3cret" not in repr(config)


class TestUploadLimits:
    def test_quotas_and_the_disk_floor_have_defaults_and_read_both_forms(self) -> None:
        """files.min_free_disk takes bytes with a unit or a percentage; quotas are bytes."""
        files = load_config(None, env={}).files
        assert (files.visitor_bytes_per_day, files.ip_bytes_per_day) == (200 * 2**20, 2**30)
        assert disk_floor(files.min_free_disk) == (0, 5.0)
        assert disk_floor("2 GB") == (2 * 2**30, 0.0)
        assert disk_floor("500MB") == (500 * 2**20, 0.0)
        env = {"PUSTAKA_FILES_IP_BYTES_PER_DAY": "0", "PUSTAKA_FILES_MIN_FREE_DISK": "1048576"}
        files = load_config(None, env=env).files
        assert files.ip_bytes_per_day == 0 and disk_floor(files.min_free_disk) == (2**20, 0.0)

    @pytest.mark.parametrize("value", ["100%", "-1", "lots", "5 XB", "inf GB"])
    def test_a_bad_disk_floor_names_the_key(self, value: str) -> None:
        """A floor that is neither bytes nor a share below 100 % is refused by name."""
        with pytest.raises(ConfigError, match=r"files\.min_free_disk"):
            load_config(None, env={}, files={"min_free_disk": value})

    def test_a_negative_quota_names_the_key(self) -> None:
        """A quota below 0 is refused; 0 means no quota."""
        with pytest.raises(ConfigError, match=r"files\.visitor_bytes_per_day"):
            load_config(None, env={}, files={"visitor_bytes_per_day": -5})
