"""The texts patrons read, one JSON file per language, checked when the bridge starts.

A translation file is ``texts/<code>.json``: a flat object of ``key: text`` and a
``_meta`` object (``name`` in the language itself, ``english_name``, ``dir`` "ltr" or
"rtl", and hints for translators). Every file must have exactly the keys of ``en.json``
and, in each text, the same ``{placeholders}``: a file that does not is refused at start
with an error naming the file and the key, never found by a patron. A library changes
any text in its config (``[widget.texts.<code>]``); ``with_overrides`` checks those the
same way and names the config key that is wrong.
"""

from __future__ import annotations

import difflib
import functools
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from adapters.i18n.choose import pick_language

__all__ = ["REFERENCE", "TEXTS_DIR", "Catalog", "Language", "TextsError", "placeholders"]

TEXTS_DIR = Path(__file__).with_name("texts")
REFERENCE = "en"  # the language every other file is checked against
_CODE = re.compile(r"[a-z]{2,3}(?:-[a-z0-9]{2,8})*")
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
_DIRECTIONS = ("ltr", "rtl")


class TextsError(ValueError):
    """A translation file or an override that cannot be used; the message names it."""


def placeholders(text: str) -> frozenset[str]:
    return frozenset(_PLACEHOLDER.findall(text))


@dataclass(frozen=True)
class Language:
    code: str
    name: str  # in the language itself: "Bahasa Indonesia"
    english_name: str
    direction: str  # "ltr" or "rtl"
    texts: Mapping[str, str] = field(repr=False)
    meta: Mapping[str, Any] = field(repr=False, default_factory=dict)

    def json(self) -> dict[str, Any]:
        """The file as the widget reads it: ``_meta`` first, then every text."""
        meta = {**self.meta, "code": self.code, "name": self.name,
                "english_name": self.english_name, "dir": self.direction}
        return {"_meta": meta, **self.texts}


class Catalog:
    """Every language's texts, complete and checked; ``default`` is the library's."""

    def __init__(self, languages: Mapping[str, Language], default: str = REFERENCE) -> None:
        if REFERENCE not in languages:
            raise TextsError(f"the texts have no {REFERENCE}.json, which every file is "
                             "checked against")
        if default not in languages:
            raise TextsError(f"no translation file for the default language {default!r}; "
                             f"known: {', '.join(sorted(languages))}")
        self._languages = dict(languages)
        self.default = default

    @classmethod
    def load(cls, folder: Path = TEXTS_DIR, default: str = REFERENCE) -> Catalog:
        """Read and check every ``<code>.json`` in ``folder``."""
        raw = {path: _read(path) for path in sorted(folder.glob("*.json"))}
        reference = next((d for p, d in raw.items() if p.stem == REFERENCE), None)
        if reference is None:
            raise TextsError(f"{folder}: no {REFERENCE}.json, which every file is checked "
                             "against")
        english = _texts(folder / f"{REFERENCE}.json", reference)
        keys = {key: placeholders(text) for key, text in english.items()}
        languages = {p.stem: _language(p, data, keys) for p, data in raw.items()}
        return cls(languages, default)

    @staticmethod
    @functools.cache
    def bundled() -> Catalog:
        """The files shipped with the bridge, English by default (read once)."""
        return Catalog.load()

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(sorted(self._languages))

    def language(self, code: str) -> Language:
        """The language ``code``, or the default one when there is none such."""
        return self._languages.get(code) or self._languages[self.default]

    def pick(self, preferences: Iterable[object]) -> str:
        """The first preferred language the library has (BCP 47), else its default."""
        return pick_language(preferences, self._languages, self.default)

    def say(self, lang: str, key: str, /, **values: object) -> str:
        """The text ``key`` in ``lang`` (the default language for "" or one not known),
        its placeholders filled; a placeholder without a value becomes ""."""
        template = self.language(lang or self.default).texts[key]
        return _PLACEHOLDER.sub(lambda m: str(values.get(m.group(1), "")), template)

    def with_overrides(self, overrides: Mapping[str, Mapping[str, str]],
                       where: str = "widget.texts") -> Catalog:
        """A catalog with the library's own texts in place of the shipped ones."""
        changed = dict(self._languages)
        reference = self._languages[REFERENCE].texts
        for code, texts in overrides.items():
            if code not in self._languages:
                raise TextsError(f"{where}.{code}: no such language; known: "
                                 f"{', '.join(self.codes)}")
            for key, text in texts.items():
                _check_override(f"{where}.{code}", key, text, reference)
            language = changed[code]
            changed[code] = Language(language.code, language.name, language.english_name,
                                     language.direction, {**language.texts, **texts},
                                     language.meta)
        return Catalog(changed, self.default)

    def with_default(self, default: str) -> Catalog:
        return Catalog(self._languages, default)


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise TextsError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise TextsError(f"{path}: not valid JSON: {exc.msg} at line {exc.lineno}, "
                         f"column {exc.colno}") from None
    if not isinstance(data, dict):
        raise TextsError(f"{path}: must be one JSON object of \"key\": \"text\"")
    return data


def _texts(path: Path, data: Mapping[str, Any]) -> dict[str, str]:
    texts = {}
    for key, text in data.items():
        if key == "_meta":
            continue
        if not isinstance(text, str):
            raise TextsError(f"{path}: key {key!r}: the text must be a string, got "
                             f"{type(text).__name__}")
        texts[key] = text
    return texts


def _language(path: Path, data: Mapping[str, Any],
              keys: Mapping[str, frozenset[str]]) -> Language:
    code = path.stem
    if not _CODE.fullmatch(code):
        raise TextsError(f"{path}: the file name must be a language code such as id.json")
    meta = data.get("_meta")
    if not isinstance(meta, dict):
        raise TextsError(f"{path}: key '_meta' is missing (the language's name and 'dir')")
    name, direction = meta.get("name"), meta.get("dir", "ltr")
    if not isinstance(name, str) or not name.strip():
        raise TextsError(f"{path}: key '_meta.name' must be the language's own name")
    if direction not in _DIRECTIONS:
        raise TextsError(f"{path}: key '_meta.dir' must be \"ltr\" or \"rtl\", got "
                         f"{direction!r}")
    texts = _texts(path, data)
    for key in keys:
        if key not in texts:
            raise TextsError(f"{path}: key {key!r} is missing (it is in en.json)")
        if placeholders(texts[key]) != keys[key]:
            raise TextsError(f"{path}: key {key!r} must have the placeholders "
                             f"{_shown(keys[key])}, has {_shown(placeholders(texts[key]))}")
    for key in texts:
        if key not in keys:
            raise TextsError(f"{path}: key {key!r} is not in en.json{_hint(key, keys)}")
    english = meta.get("english_name")
    return Language(code, name.strip(), english if isinstance(english, str) else name,
                    direction, texts, dict(meta))


def _check_override(where: str, key: str, text: object, reference: Mapping[str, str]) -> None:
    if key not in reference:
        raise TextsError(f"{where}: unknown key '{key}'{_hint(key, reference)}")
    if not isinstance(text, str):
        raise TextsError(f"{where}: '{key}' must be a text, got {text!r}")
    extra = placeholders(text) - placeholders(reference[key])
    if extra:
        raise TextsError(f"{where}: '{key}' uses {_shown(extra)}, which this text does not "
                         f"have; it may use {_shown(placeholders(reference[key]))}")


def _hint(key: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(key, list(known), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _shown(names: Iterable[str]) -> str:
    listed = ", ".join("{" + n + "}" for n in sorted(names))
    return listed or "none"
