"""``[widget.prechat]`` and ``[[widget.greetings]]``: the pre-chat form and the greeting
rules, read and checked at start so a typo fails then, naming the key, not in a browser.

Greeting rules match pages by a glob on the address's path and query (``*`` is any run
of characters, everything else is itself): a glob cannot hang a patron's browser as a
careless regular expression can, and a librarian can read it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

__all__ = ["FIELDS", "GreetingRule", "PrechatSection", "Topic", "greeting_rules", "prechat"]

FIELDS = ("name", "email", "member_number", "question", "topic")
SHOW = ("always", "after_hours", "never")
TAG = re.compile(r"[a-z0-9_-]{1,32}")
_LANG = re.compile(r"[a-z]{2,3}(-[a-z0-9]{2,8})?")
_MAX_RULES = 20


@dataclass(frozen=True)
class Topic:
    label: str
    tag: str


@dataclass(frozen=True)
class PrechatSection:
    show: str = "after_hours"  # always | after_hours | never
    fields: tuple[str, ...] = ("name", "email", "question")
    required: tuple[str, ...] = ("name", "email", "question")
    topics: tuple[Topic, ...] = ()

    def public(self) -> dict[str, Any]:
        return {"show": self.show, "fields": list(self.fields), "required": list(self.required),
                "topics": [{"label": t.label, "tag": t.tag} for t in self.topics]}


@dataclass(frozen=True)
class GreetingRule:
    pages: tuple[str, ...]  # globs on path + query
    after_seconds: float
    texts: tuple[tuple[str, str], ...]  # (language, text); "" the default

    def public(self) -> dict[str, Any]:
        return {"pages": list(self.pages), "after": self.after_seconds,
                "texts": {lang or "": text for lang, text in self.texts}}


def prechat(value: Any, key: str = "widget.prechat") -> PrechatSection:
    """``[widget.prechat]`` as a checked section; raises ValueError naming the key."""
    table = _table(value, key, {"show", "fields", "required", "topics"})
    show = table.get("show", "after_hours")
    if show not in SHOW:
        raise ValueError(f"{key}.show must be one of {list(SHOW)}, got {show!r}")
    fields = _names(table.get("fields", list(PrechatSection.fields)), f"{key}.fields")
    required = _names(table.get("required", [f for f in PrechatSection.required
                                             if f in fields]), f"{key}.required")
    if "question" not in fields:
        raise ValueError(f"{key}.fields must include \"question\": the form sends the "
                         "patron's first message")
    for name in required:
        if name not in fields:
            raise ValueError(f"{key}.required: {name!r} is not in {key}.fields")
    topics = _topics(table.get("topics", []), f"{key}.topics")
    if "topic" in fields and not topics:
        raise ValueError(f"{key}.fields has \"topic\" but {key}.topics lists none")
    return PrechatSection(show, tuple(fields), tuple(required), topics)


def greeting_rules(value: Any, key: str = "widget.greetings") -> tuple[GreetingRule, ...]:
    """``[[widget.greetings]]`` as checked rules; raises ValueError naming the key."""
    if not isinstance(value, list) or len(value) > _MAX_RULES:
        raise ValueError(f"{key} must be a list of at most {_MAX_RULES} tables "
                         f"(in the file: [[{key}]]), got {value!r}")
    return tuple(_rule(item, f"{key}[{i}]") for i, item in enumerate(value))


def _rule(value: Any, key: str) -> GreetingRule:
    table = _table(value, key, {"pages", "after_seconds", "text", "texts"})
    pages = table.get("pages")
    pages = [pages] if isinstance(pages, str) else pages
    if not isinstance(pages, list) or not pages:
        raise ValueError(f"{key}.pages must be a glob like \"/opac/search*\" or a list of "
                         f"them, got {table.get('pages')!r}")
    for page in pages:
        if not isinstance(page, str) or not re.fullmatch(r"[/*][^\s<>\"'`\\]{0,199}", page):
            raise ValueError(f"{key}.pages: {page!r} must start with / or * and hold no "
                             "spaces, quotes or backslashes (at most 200 characters)")
    after = table.get("after_seconds", 0)
    if isinstance(after, bool) or not isinstance(after, int | float) or not 0 <= after <= 3600:
        raise ValueError(f"{key}.after_seconds must be a number from 0 to 3600, got {after!r}")
    texts: list[tuple[str, Any]] = [("", table.get("text"))]
    extra = table.get("texts", {})
    if not isinstance(extra, dict):
        raise ValueError(f"{key}.texts must be a table of language = \"text\", got {extra!r}")
    for lang, text in extra.items():
        if not _LANG.fullmatch(lang):
            raise ValueError(f"{key}.texts: {lang!r} is not a language code like \"id\"")
        texts.append((lang, text))
    for lang, text in texts:
        name = f"{key}.texts.{lang}" if lang else f"{key}.text"
        if not isinstance(text, str) or not text.strip() or len(text) > 500:
            raise ValueError(f"{name} must be a text of 1 to 500 characters, got {text!r}")
    return GreetingRule(tuple(pages), float(after), tuple((lang, str(t)) for lang, t in texts))


def _table(value: Any, key: str, known: set[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"{key} must be a table, got {value!r}")
    for name in value:
        if name not in known:
            raise ValueError(f"unknown key '{key}.{name}' (known: {', '.join(sorted(known))})")
    return value


def _names(value: Any, key: str) -> list[str]:
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, list):
        raise ValueError(f"{key} must be a list of field names, got {value!r}")
    for name in value:
        if name not in FIELDS:
            raise ValueError(f"{key}: unknown field {name!r} (fields: {', '.join(FIELDS)})")
    return list(dict.fromkeys(value))


def _topics(value: Any, key: str) -> tuple[Topic, ...]:
    if not isinstance(value, list) or len(value) > 30:
        raise ValueError(f"{key} must be a list of at most 30 {{label, tag}} tables")
    topics: list[Topic] = []
    for i, item in enumerate(value):
        table = _table(item, f"{key}[{i}]", {"label", "tag"})
        label, tag = table.get("label"), table.get("tag")
        if not isinstance(label, str) or not 0 < len(label.strip()) <= 60:
            raise ValueError(f"{key}[{i}].label must be a text of 1 to 60 characters, "
                             f"got {label!r}")
        if not isinstance(tag, str) or not TAG.fullmatch(tag):
            raise ValueError(f"{key}[{i}].tag must be 1 to 32 of a-z, 0-9, _ and -, "
                             f"got {tag!r}")
        if any(t.tag == tag for t in topics):
            raise ValueError(f"{key}[{i}].tag {tag!r} is given twice")
        topics.append(Topic(label.strip(), tag))
    return tuple(topics)
