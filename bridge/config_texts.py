"""The ``[widget.texts.<language>]`` tables of the config, and the catalog they make.

Kept beside ``config.py``, which turns the ``ValueError``s here into ``ConfigError``s.
A dotted name in a table (``errors.empty = "…"``, which TOML reads as a table inside the
table) is the flat key "errors.empty" of the translation files, so both spellings work.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adapters.i18n import Catalog, TextsError

__all__ = ["texts_catalog", "texts_tables"]


def texts_tables(value: Any, key: str) -> dict[str, dict[str, str]]:
    """One table of texts per language, each flattened to the files' keys."""
    if not isinstance(value, dict):
        raise ValueError(f"{key} must be tables of texts, one per language "
                         f"(in the file: [{key}.id] then name = \"text\"), got {value!r}")
    return {lang: _flat(texts, f"{key}.{lang}") for lang, texts in value.items()}


def _flat(value: Any, key: str, prefix: str = "") -> dict[str, str]:
    if not isinstance(value, dict):
        raise ValueError(f"{key} must be a table of texts "
                         f"(in the file: [{key}] then name = \"text\"), got {value!r}")
    flat: dict[str, str] = {}
    for name, text in value.items():
        if isinstance(text, dict):
            flat.update(_flat(text, key, f"{prefix}{name}."))
        elif isinstance(text, str):
            flat[f"{prefix}{name}"] = text
        else:
            raise ValueError(f"{key}.{prefix}{name} must be a text, got {text!r}")
    return flat


def texts_catalog(language: str, overrides: Mapping[str, Mapping[str, str]]) -> Catalog:
    """The shipped files with ``language`` as the default and the overrides in."""
    bundled = Catalog.bundled()
    if language not in bundled.codes:
        raise ValueError(f"widget.language must be one of the languages with a translation "
                         f"file ({', '.join(bundled.codes)}), got {language!r}")
    try:
        return bundled.with_default(language).with_overrides(overrides)
    except TextsError as exc:
        raise ValueError(str(exc)) from None
