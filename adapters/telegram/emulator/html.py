"""Telegram's HTML parse mode, as the Bot API applies it (entities.py: how they are counted).

The parser follows tdlib's ``parse_html``: the same tags, the same four named HTML
entities plus numeric ones, and the same error wording, so a message our renderer
builds is refused here exactly when Telegram would refuse it. Offsets and lengths of
entities are in UTF-16 code units, as in the Bot API.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from adapters.telegram.emulator.entities import Entity, auto_entities, trim_text, utf16_len

# Entity, auto_entities, trim_text and utf16_len are emulator.entities'; named here too.
__all__ = [
    "Entity",
    "EntityParseError",
    "auto_entities",
    "parse_html",
    "trim_text",
    "utf16_len",
]


_TAGS = frozenset(
    "a b strong i em s strike del u ins tg-spoiler tg-emoji span pre code blockquote".split()
)
_SIMPLE = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "u": "underline",
    "ins": "underline",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
}
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_SPACE = " \t\r\n\f\v"
_LINK = re.compile(
    r"^(?:(?:https?|tg|ton)://\S+|[a-z0-9][a-z0-9.-]*\.[a-z]{2,}(?:[/?#]\S*)?)$", re.I
)


class EntityParseError(ValueError):
    """The text is not valid Telegram HTML; ``str()`` is tdlib's own wording."""


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


def _entity_at(text: str, pos: int) -> tuple[str, int] | None:
    """Decode an HTML entity at ``pos`` (which holds ``&``); ``None`` keeps the ``&``."""
    end = pos + 1
    if text[end : end + 1] == "#":
        end += 1
        hexa = text[end : end + 1] == "x"
        end += hexa
        digits = "0123456789abcdefABCDEF" if hexa else "0123456789"
        start = end
        while end < len(text) and text[end] in digits:
            end += 1
        if end == start or end - pos >= 10:
            return None
        code = int(text[start:end], 16 if hexa else 10)
        if code == 0 or code >= 0x10FFFF or 0xD800 <= code <= 0xDFFF:
            return None
        char = chr(code)
    else:
        while end < len(text) and text[end].isascii() and text[end].isalpha():
            end += 1
        name = text[pos + 1 : end]
        if name not in _NAMED:
            return None
        char = _NAMED[name]
    if text[end : end + 1] == ";":
        end += 1
    return char, end


@dataclass(slots=True)
class _Open:
    tag: str
    argument: str
    offset: int  # UTF-16 offset into the plain text
    start: int  # index into the plain text, for an <a> without href


def parse_html(source: str) -> tuple[str, list[Entity]]:
    """Turn Telegram HTML into plain text and Bot API ``MessageEntity`` dicts."""
    # Longer than 40 lines on purpose: one scanner loop, step for step as tdlib's
    # parse_html, so its error texts and offsets can be checked against the original.
    out: list[str] = []
    plain_len = 0  # characters in out
    offset = 0  # UTF-16 units in out
    stack: list[_Open] = []
    entities: list[Entity] = []
    i, n = 0, len(source)
    while i < n:
        ch = source[i]
        if ch == "&":
            decoded = _entity_at(source, i)
            if decoded is not None:
                out.append(decoded[0])
                plain_len += 1
                offset += utf16_len(decoded[0])
                i = decoded[1]
                continue
        if ch != "<":
            out.append(ch)
            plain_len += 1
            offset += 2 if ord(ch) > 0xFFFF else 1
            i += 1
            continue
        begin = i
        i += 1
        if source[i : i + 1] != "/":
            i, opened = _start_tag(source, begin, i)
            stack.append(_Open(opened[0], opened[1], offset, plain_len))
            continue
        if not stack:
            offset_bytes = _byte_offset(source, begin)
            raise EntityParseError(f"Unexpected end tag at byte offset {offset_bytes}")
        i += 1
        name_start = i
        while i < n and source[i] not in _SPACE and source[i] != ">":
            i += 1
        end_name = source[name_start:i].lower()
        while i < n and source[i] in _SPACE:
            i += 1
        if i >= n or source[i] != ">":
            raise EntityParseError(f"Unclosed end tag at byte offset {_byte_offset(source, begin)}")
        i += 1
        top = stack.pop()
        if end_name and end_name != top.tag:
            raise EntityParseError(
                f"Unmatched end tag at byte offset {_byte_offset(source, begin)}, "
                f'expected "</{top.tag}>", found "</{end_name}>"'
            )
        if offset > top.offset:
            _close(top, offset - top.offset, "".join(out)[top.start :], entities)
    if stack:
        raise EntityParseError(
            f'Can\'t find end tag corresponding to start tag "{stack[-1].tag}"'
        )
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


def _start_tag(source: str, begin: int, i: int) -> tuple[int, tuple[str, str]]:
    # Kept whole like tdlib's own start-tag scan (see parse_html), errors in its order.
    n = len(source)
    while i < n and source[i] not in _SPACE and source[i] != ">":
        i += 1
    if i >= n:
        raise EntityParseError(f"Unclosed start tag at byte offset {_byte_offset(source, begin)}")
    tag = source[begin + 1 : i].lower()
    where = f"at byte offset {_byte_offset(source, begin)}"
    if tag not in _TAGS:
        raise EntityParseError(f'Unsupported start tag "{tag}" {where}')
    argument = ""
    while i < n and source[i] != ">":
        while i < n and source[i] in _SPACE:
            i += 1
        if i < n and source[i] == ">":
            break
        name_start = i
        while i < n and source[i] not in _SPACE and source[i] not in "=>":
            i += 1
        attribute = source[name_start:i].lower()
        if not attribute:
            raise EntityParseError(f'Empty attribute name in the tag "{tag}" {where}')
        while i < n and source[i] in _SPACE:
            i += 1
        if i >= n or source[i] != "=":
            if tag == "blockquote" and attribute == "expandable":
                argument = "1"
                continue
            raise EntityParseError(
                f'Expected equal sign in declaration of an attribute of the tag "{tag}" {where}'
            )
        i += 1
        while i < n and source[i] in _SPACE:
            i += 1
        if i >= n:
            raise EntityParseError(f'Unclosed start tag "{tag}" {where}')
        i, value = _attribute_value(source, i)
        if i >= n:
            raise EntityParseError(f"Unclosed start tag {where}")
        if tag == "a" and attribute == "href":
            argument = value
        elif tag == "code" and attribute == "class" and value.startswith("language-"):
            argument = value[len("language-") :]
        elif tag == "span" and attribute == "class" and value.startswith("tg-"):
            argument = value[3:]
        elif tag == "tg-emoji" and attribute == "emoji-id":
            argument = value
    if tag == "span" and argument != "spoiler":
        raise EntityParseError(f'Tag "span" must have class "tg-spoiler" {where}')
    return i + 1, (tag, argument)


def _attribute_value(source: str, i: int) -> tuple[int, str]:
    n = len(source)
    if source[i] not in "'\"":
        start = i
        while i < n and (source[i].isalnum() or source[i] in ".-"):
            i += 1
        if i < n and source[i] not in _SPACE and source[i] != ">":
            offset = _byte_offset(source, start)
            raise EntityParseError(f"Unexpected end of name token at byte offset {offset}")
        return i, source[start:i].lower()
    quote = source[i]
    i += 1
    value: list[str] = []
    while i < n and source[i] != quote:
        if source[i] == "&":
            decoded = _entity_at(source, i)
            if decoded is not None:
                value.append(decoded[0])
                i = decoded[1]
                continue
        value.append(source[i])
        i += 1
    return i + (i < n), "".join(value)


def _close(top: _Open, length: int, inner: str, entities: list[Entity]) -> None:
    def make(kind: str) -> Entity:
        return {"type": kind, "offset": top.offset, "length": length}

    last = entities[-1] if entities else None
    same_span = last is not None and (last["offset"], last["length"]) == (top.offset, length)
    if top.tag in _SIMPLE:
        entities.append(make(_SIMPLE[top.tag]))
    elif top.tag == "blockquote":
        entities.append(make("expandable_blockquote" if top.argument else "blockquote"))
    elif top.tag == "tg-emoji":
        entities.append({**make("custom_emoji"), "custom_emoji_id": top.argument})
    elif top.tag == "a":
        url = top.argument or inner
        if url.lower().startswith("tg://user?id="):
            entities.append({**make("text_mention"), "url": url})
        elif _LINK.match(url):
            entities.append({**make("text_link"), "url": url if "://" in url else f"http://{url}"})
    elif top.tag == "pre":
        # <pre><code class="language-x">: the inner code closed first and carries the language
        if last is not None and same_span and last["type"] == "code" and "language" in last:
            last["type"] = "pre"
        else:
            entities.append(make("pre"))
    elif top.tag == "code":
        if last is not None and same_span and last["type"] == "pre":
            if top.argument:
                last["language"] = top.argument
        else:
            entity = make("code")
            if top.argument:
                entity["language"] = top.argument
            entities.append(entity)
