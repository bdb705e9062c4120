"""Typed configuration from a TOML file plus environment variables.

Every key can be set in the file (``[widget] colour = "#0b5394"``) or in the environment
(``PUSTAKA_WIDGET_COLOUR``); the environment wins. Secrets (the bot token, the signing
secret) come only from the environment. Every error names the key and says what is wrong.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from adapters.i18n import Catalog
from bridge.config_read import (
    SECRETS,
    ConfigError,
    build_section,
    gather_sections,
    read_toml,
    section_types,
)
from bridge.config_sections import (
    Config,
    DirectorySection,
    EmailSection,
    FilesSection,
    RetentionSection,
    WidgetSection,
)
from bridge.config_texts import texts_catalog
from routing.hours import DAYS, OpeningHours

# The sections are bridge.config_sections'; named here too, where callers have found them.
__all__ = ["Config", "ConfigError", "EmailSection", "FilesSection", "RetentionSection",
           "WidgetSection", "disk_floor", "load_config", "opening_hours", "widget_texts"]


def load_config(
    path: Path | None = None, env: Mapping[str, str] | None = None, **overrides: Any
) -> Config:
    """Read ``path`` (optional), then the environment; raise ConfigError on any bad key."""
    env = os.environ if env is None else env
    raw, where = read_toml(path)
    sections = gather_sections(raw, env, where, overrides)
    config = Config(**{name: build_section(cls, sections.get(name, {}), name, where)
                       for name, cls in section_types().items()})
    try:
        _check_across(config)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    secrets: dict[str, Any] = {name: env.get(var, "") for var, name in SECRETS.items()}
    return replace(config, **secrets)


def _check_kinds(kinds: list[str]) -> None:
    if not kinds or any(not re.fullmatch(r"[a-z][a-z0-9_/-]{0,30}", k) for k in kinds) \
            or len(set(kinds)) != len(kinds):
        raise ConfigError("desk.question_kinds must be distinct lower-case words like "
                          f"\"reference\" (at least one), got {kinds!r}")


def _check_across(config: Config) -> None:
    """What a key's type cannot say: addresses, hours, files, texts that must agree."""
    _check_networks("server.metrics_allow", config.server.metrics_allow)
    opening_hours(config)  # a bad hours.* value fails at load, naming the key
    _check_email(config.email)
    _check_branding(config.widget)
    _check_sip2(config.directory)
    _check_files(config.files)
    _check_geoip(config.widget.geoip_db)
    _check_kinds(config.desk.question_kinds)
    if not 0 <= config.retention.run_at_hour <= 23:
        raise ConfigError("retention.run_at_hour must be an hour from 0 to 23, "
                          f"got {config.retention.run_at_hour!r}")
    widget_texts(config)


def _check_branding(widget: WidgetSection) -> None:
    """What the bubble shows is checked here, so a typo fails at start, not in a browser."""
    if not re.fullmatch(r"#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})", widget.colour):
        raise ConfigError(f"widget.colour must be a colour like #0b5394, got {widget.colour!r}")
    if widget.logo and not re.fullmatch(r"https?://[^\s\"'<>]+", widget.logo):
        raise ConfigError(f"widget.logo must be an http(s) address, got {widget.logo!r}")
    label = widget.launcher_label
    if len(label) > 40 or any(c in label for c in "\r\n"):
        raise ConfigError("widget.launcher_label must be one line of at most 40 characters, "
                          f"got {label!r}")
    for key in ("offset_x", "offset_y"):
        if not 0 <= getattr(widget, key) <= 400:
            raise ConfigError(f"widget.{key} must be from 0 to 400 pixels, "
                              f"got {getattr(widget, key)!r}")


def _check_email(email: EmailSection) -> None:
    if not email.enabled:
        return
    for key in ("imap_host", "imap_user", "smtp_host", "from_address"):
        if not getattr(email, key):
            raise ConfigError(f"email.{key} is not set, and email.enabled is true")
    for key in ("from_address", "help_address"):
        value = getattr(email, key)
        if value and ("@" not in value or any(c in value for c in "\r\n <>,")):
            raise ConfigError(f"email.{key} must be one plain address, got {value!r}")
    trusted = email.trusted_authserv_id
    if trusted and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,253}", trusted):
        raise ConfigError("email.trusted_authserv_id must be the one name (like mx.library"
                          f".example) the mail server writes first in its fields, got {trusted!r}")


def _check_sip2(directory: DirectorySection) -> None:
    if directory.kind != "sip2":
        return
    if not directory.sip2_host:
        raise ConfigError("directory.sip2_host is not set, and directory.kind is \"sip2\"")
    if directory.sip2_port > 65535:
        raise ConfigError(f"directory.sip2_port must be a TCP port, got {directory.sip2_port}")
    for key in ("sip2_user", "sip2_location", "sip2_institution"):
        if any(c in getattr(directory, key) for c in "|\r\n\0"):
            raise ConfigError(f"directory.{key} must not contain |, line breaks or NUL")


def _check_geoip(path: str) -> None:
    """A configured GeoLite2 file must open now, not fail at the first /visitors."""
    if not path:
        return
    import maxminddb  # only a library that sets geoip_db reads one

    try:
        maxminddb.open_database(str(Path(path).expanduser())).close()
    except FileNotFoundError:
        raise ConfigError(f"widget.geoip_db: no file at {path}") from None
    except (OSError, ValueError, maxminddb.InvalidDatabaseError) as exc:
        raise ConfigError(f"widget.geoip_db: {path} is not a MaxMind DB file ({exc})") from None


def _check_files(files: FilesSection) -> None:
    for key in ("visitor_bytes_per_day", "ip_bytes_per_day"):
        if getattr(files, key) < 0:
            raise ConfigError(f"files.{key} must be 0 (no quota) or more, "
                              f"got {getattr(files, key)!r}")
    disk_floor(files.min_free_disk)


def disk_floor(value: str) -> tuple[int, float]:
    """``files.min_free_disk`` as (bytes, percent): "5%", "2 GB", "500MB", "1048576"."""
    text = str(value).strip().upper().replace(" ", "")
    try:
        if text.endswith("%"):
            percent = float(text[:-1])
            if 0 <= percent < 100:
                return 0, percent
        else:
            unit = next((u for u in _UNITS if text.endswith(u)), "")
            number = float(text[: len(text) - len(unit)])
            if number >= 0:
                return int(number * _UNITS.get(unit, 1)), 0.0
    except (ValueError, OverflowError):
        pass
    raise ConfigError("files.min_free_disk must be bytes (\"2 GB\", \"500 MB\") or a share "
                      f"of the disk below 100% (\"5%\"), got {value!r}")


_UNITS = {"TB": 1024**4, "GB": 1024**3, "MB": 1024**2, "KB": 1024, "B": 1}


def _check_networks(key: str, networks: list[str]) -> None:
    for network in networks:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError:
            raise ConfigError(f"{key}: {network!r} is not an address or network "
                              "(e.g. 10.0.5.0/24)") from None


def opening_hours(config: Config) -> OpeningHours:
    h = config.hours
    try:
        return OpeningHours.from_config({d: getattr(h, d) for d in DAYS},
                                        config.library.timezone, h.closures)
    except ValueError as exc:  # the message starts with the key: "hours.mon: ..."
        raise ConfigError(str(exc)) from None


def widget_texts(config: Config) -> Catalog:
    """The shipped translations, the library's overrides in (``bridge/config_texts.py``)."""
    try:
        return texts_catalog(config.widget.language, config.widget.texts)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
