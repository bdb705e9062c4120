"""Reading configuration: the TOML file and ``PUSTAKA_*`` variables gathered into
sections, each key checked against its section's fields and coerced to its type.

What a library may set is bridge.config_sections'; the checks across keys and the
public ``load_config`` are bridge.config's.
"""

from __future__ import annotations

import difflib
import tomllib
import types
from collections.abc import Mapping
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import Any, Union, get_args, get_origin, get_type_hints

from bridge.config_sections import Config
from bridge.config_texts import texts_tables
from bridge.config_widget import GreetingRule, PrechatSection, greeting_rules, prechat

__all__ = ["SECRETS", "ConfigError", "build_section", "check_known", "gather_sections",
           "read_toml", "section_types"]


class ConfigError(Exception):
    """A configuration problem, worded for the person who edits the file."""


SECRETS = {"PUSTAKA_TELEGRAM_TOKEN": "telegram_token", "PUSTAKA_SECRET": "secret",
            "PUSTAKA_DIRECTORY_TOKEN": "directory_token", "PUSTAKA_SIP2_PASSWORD": "sip2_password",
            "PUSTAKA_IMAP_PASSWORD": "imap_password", "PUSTAKA_SMTP_PASSWORD": "smtp_password"}
_POSITIVE = {"telegram.messages_per_second", "telegram.group_messages_per_minute",
             "telegram.private_messages_per_second", "telegram.poll_timeout",
             "outbox.concurrency", "outbox.max_attempts", "widget.max_text",
             "widget.messages_per_minute", "outbox.backoff_cap",
             "reminders.first_after_minutes", "reminders.cap_minutes",
             "reminders.check_seconds", "queue.default_wait_minutes", "queue.history",
             "directory.timeout", "email.imap_port", "email.smtp_port", "email.poll_interval",
             "email.max_message_bytes", "email.max_attachment_bytes", "desk.reopen_days",
             "email.fallback_after_minutes", "widget.resume_ttl_days", "files.max_bytes",
             "directory.sip2_port"}
_CHOICES = {"widget.position": {"left", "right", "auto"}, "storage.backend": {"sqlite"},
            "widget.size": {"compact", "normal", "large"},
            "directory.kind": {"none", "csv", "http", "sip2"},
            "email.first_run": {"unseen", "all", "new"}}
_CHOICES["log.format"] = {"console", "json"}  # a line of its own: other choices merge above
SECRETS["PUSTAKA_METRICS_TOKEN"] = "metrics_token"  # a line of its own: other secrets merge above
_POSITIVE |= {"server.max_connections_per_ip", "server.header_timeout",
              "widget.new_visitors_per_ip_hour", "widget.new_conversations_per_ip_hour"}
_POSITIVE |= {"retention.transcripts_days", "retention.visitors_days", "retention.files_days"}


def read_toml(path: Path | None) -> tuple[dict[str, Any], str]:
    """The file's tables and the name errors give it (``defaults`` when there is none)."""
    if path is None:
        return {}, "defaults"
    try:
        return tomllib.loads(path.read_text(encoding="utf-8")), str(path)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None


def gather_sections(raw: dict[str, Any], env: Mapping[str, str], where: str,
                    overrides: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each section's keys: the file's, then the environment's, then the caller's."""
    sections: dict[str, Any] = {}
    for name, value in raw.items():
        check_known(name, section_types(), where)
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: [{name}] must be a table of keys, got {value!r}")
        sections[name] = dict(value)
    for var, value in env.items():
        if not var.startswith("PUSTAKA_") or var in SECRETS:
            continue
        section, _, key = var[len("PUSTAKA_"):].lower().partition("_")
        if section in section_types() and key:
            check_known(key, get_type_hints(section_types()[section]), f"environment {var}",
                        prefix=f"{section}.")
            sections.setdefault(section, {})[key] = value
    for section, values in overrides.items():
        sections.setdefault(section, {}).update(values)
    return sections


def section_types() -> dict[str, type]:
    hints = get_type_hints(Config)
    return {f.name: hints[f.name] for f in fields(Config) if is_dataclass(hints[f.name])}


def check_known(key: str, known: Mapping[str, Any], where: str, prefix: str = "") -> None:
    if key in known:
        return
    if f"PUSTAKA_{prefix}{key}".upper().replace(".", "_") in SECRETS:
        raise ConfigError(f"{where}: {prefix}{key} is a secret; set it in the environment only")
    close = difflib.get_close_matches(key, list(known), n=1)
    hint = f" (did you mean '{prefix}{close[0]}'?)" if close else ""
    raise ConfigError(f"{where}: unknown key '{prefix}{key}'{hint}")


def build_section(cls: type, values: dict[str, Any], section: str, where: str) -> Any:
    hints = get_type_hints(cls)
    for key in values:
        check_known(key, hints, where, prefix=f"{section}.")
    converted = {k: _coerce(v, hints[k], f"{section}.{k}", where) for k, v in values.items()}
    for key, value in converted.items():
        if f"{section}.{key}" in _POSITIVE and value <= 0:
            raise ConfigError(f"{where}: {section}.{key} must be more than 0, got {value!r}")
        allowed = _CHOICES.get(f"{section}.{key}")
        if allowed and value not in allowed:
            raise ConfigError(
                f"{where}: {section}.{key} must be one of {sorted(allowed)}, got {value!r}"
            )
    return cls(**converted)


def _coerce(value: Any, kind: Any, key: str, where: str) -> Any:
    if kind is PrechatSection or kind == tuple[GreetingRule, ...] \
            or kind == dict[str, dict[str, str]]:
        return _coerce_table(value, kind, key, where)
    origin = get_origin(kind)
    if origin is dict:
        if not isinstance(value, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            raise ConfigError(f"{where}: {key} must be a table of texts "
                              f"(in the file: [{key}] then name = \"text\"), got {value!r}")
        return dict(value)
    if origin in (Union, types.UnionType):
        kind = next(a for a in get_args(kind) if a is not type(None))
        origin = get_origin(kind)
    if origin is list:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where}: {key} must be a list of strings, got {value!r}")
        return value
    return _coerce_scalar(value, kind, key, where)


def _coerce_table(value: Any, kind: Any, key: str, where: str) -> Any:
    """The pre-chat form, greeting rules and text tables, each read by its own module."""
    try:
        if kind is PrechatSection:
            return prechat(value, key)
        if kind == tuple[GreetingRule, ...]:
            return greeting_rules(value, key)
        return texts_tables(value, key)
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _coerce_scalar(value: Any, kind: Any, key: str, where: str) -> Any:
    try:
        if kind is bool:
            if isinstance(value, bool):
                return value
            if str(value).lower() in {"1", "true", "yes", "on"}:
                return True
            if str(value).lower() in {"0", "false", "no", "off"}:
                return False
            raise ValueError
        if kind is int and not isinstance(value, bool):
            return int(value)
        if kind is float and not isinstance(value, bool):
            return float(value)
        if kind is str and isinstance(value, str):
            return value
    except (TypeError, ValueError):
        pass
    raise ConfigError(f"{where}: {key} must be {kind.__name__}, got {value!r}")
