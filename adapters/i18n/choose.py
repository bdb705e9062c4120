"""Which of the library's languages a patron gets, from what their page and browser say.

Pure. Preferences come in order (the widget's ``data-lang``, the page's ``<html lang>``,
then ``navigator.languages``); each is a BCP 47 tag matched first whole ("pt-br", for a
file of its own one day), then by its primary language subtag, so ``pt-BR`` → ``pt`` and
``zh-Hans-CN`` → ``zh``. Old and three-letter codes browsers and catalogues still send
(``in`` for Indonesian, ``jw`` for Javanese, ISO 639-2 ``ind``, ``msa``…) count as the
two-letter code. Nothing matching gives the library's default.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable

__all__ = ["normal_tag", "pick_language", "primary_language"]

_TAG = re.compile(r"[a-z]{1,8}(?:-[a-z0-9]{1,8})*")
# Deprecated two-letter codes and ISO 639-2 (B and T) codes of the shipped languages.
_ALIASES = {
    "in": "id", "ind": "id", "jw": "jv", "jav": "jv", "msa": "ms", "may": "ms", "zsm": "ms",
    "eng": "en", "spa": "es", "fra": "fr", "fre": "fr", "deu": "de", "ger": "de",
    "por": "pt", "ara": "ar", "arb": "ar", "zho": "zh", "chi": "zh", "cmn": "zh",
}


def normal_tag(tag: object) -> str:
    """A tag in lower case with hyphens ("pt_BR" → "pt-br"); "" for anything that is not
    a well-formed tag (a wildcard, an empty string, not a string at all)."""
    if not isinstance(tag, str):
        return ""
    text = tag.strip().replace("_", "-").lower()[:35]
    return text if _TAG.fullmatch(text) else ""


def primary_language(tag: object) -> str:
    """The primary language subtag, aliases resolved: "zh-Hans-CN" → "zh", "in" → "id"."""
    first = normal_tag(tag).split("-", 1)[0]
    return _ALIASES.get(first, first)


def pick_language(preferences: Iterable[object], available: Collection[str],
                  default: str) -> str:
    """The first preference the library has a language for, else ``default``."""
    for tag in preferences:
        whole = normal_tag(tag)
        if whole and whole in available:
            return whole
        primary = primary_language(whole)
        if primary and primary in available:
            return primary
    return default
