"""The demo's configuration: a library's own file and ``PUSTAKA_*`` variables, with the
demo's embedded desk, address and data directory on top.

A library tries its colours, texts, hours and directory before going live. What cannot
work on one machine without accounts is replaced, and each replacement is named in a
sentence the demo prints: the Telegram token and group (the emulator's demo desk), the
address and data directory (the demo's flags), email (off: no real mailbox is touched)
and the allowed origins (the sample page must be able to embed the widget).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bridge.config import Config, load_config

__all__ = ["DEMO_LIBRARY", "demo_config"]

# The sample library's name and time zone, unless a file or a variable says otherwise.
DEMO_LIBRARY = {"name": "Perpustakaan Kota Pustaka", "timezone": "Asia/Jakarta"}


def demo_config(
    path: Path | None,
    env: Mapping[str, str],
    forced: dict[str, dict[str, Any]],
    overrides: dict[str, dict[str, Any]] | None = None,
    *,
    token: str,
) -> tuple[Config, list[str]]:
    """Load ``path`` and ``env`` as `pustaka run` does, then put ``forced`` (the demo's own
    server, storage and telegram keys), ``overrides`` and the demo desk's bot ``token`` on top.

    Returns the config and one sentence for each setting of the library's the demo replaced.
    A bad or unknown key raises the same ConfigError as `pustaka run`.
    """
    own = load_config(path, env=env)  # the library's settings alone: errors name its file
    sections: dict[str, dict[str, Any]] = {
        # With a file the library is exactly as `pustaka run` would have it.
        "library": {} if path is not None else {
            key: value for key, value in DEMO_LIBRARY.items()
            if getattr(own.library, key) == getattr(Config().library, key)},
        **{name: dict(values) for name, values in forced.items()},
    }
    notes = _replaced(own, path)
    sections["email"] = {"enabled": False}
    sections["widget"] = {"allowed_origins": []}
    sections.setdefault("server", {})["public_url"] = ""
    for section, values in (overrides or {}).items():
        sections[section] = {**sections.get(section, {}), **values}
    demo_env = {**env, "PUSTAKA_TELEGRAM_TOKEN": token}
    return load_config(path, env=demo_env, **sections), notes


def _replaced(own: Config, path: Path | None) -> list[str]:
    """Sentences for what the demo replaces of the library's own settings."""
    defaults = Config()
    if path is None and own == defaults:
        return []  # neither a file nor a variable the bridge reads: nothing replaced
    notes = ["the Telegram token and group are the demo's own (an emulated desk on this "
             "machine); your bot and group are not contacted"]
    if own.server != defaults.server:
        notes.append("the address is the demo's --host/--port (server.* is not used)")
    if own.storage != defaults.storage:
        notes.append("records go to the demo's --data-dir (storage.data_dir is not used)")
    if own.email.enabled:
        notes.append("email is off in the demo: no real mailbox is read or written")
    if own.widget.allowed_origins:
        notes.append("widget.allowed_origins is lifted so the sample page can embed the chat")
    return notes

