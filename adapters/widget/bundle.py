"""The widget's served scripts, assembled from the sources in ``static/`` by Python alone.

Two files reach the browser:
- the **loader** (``loader/loader.js`` with ``loader/launcher.css``), served as
  ``widget.js`` at the address libraries embed. It carries the library's branding and the
  bubble's label (and direction) in each of the library's languages, from the library's
  catalog (the translation files in ``adapters/i18n/texts`` with its ``[widget.texts]``
  overrides in), written in as JSON, so it draws the bubble without
  asking anything else; it is small, and cached briefly since its address never changes.
- the **chat** (the pieces in ``chat/``, joined in ``CHAT_PARTS`` order into one closure,
  with English from ``adapters/i18n/texts/en.json`` written in as the words it falls back
  on, and ``chat/styles.css``), served under a name carrying a
  hash of its content, so browsers keep it for a year and a new version is a new name.

No Node toolchain runs at install time: the bridge assembles and compresses (brotli and
gzip) both files when it starts; ``python -m adapters.widget.bundle DIR`` writes them out
for a web server that serves them itself.
"""

from __future__ import annotations

import base64
import functools
import gzip
import hashlib
import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path
from typing import Any

import brotli

from adapters.i18n import Catalog

__all__ = ["CHAT_PARTS", "STATIC_PATH", "Asset", "Bundle", "bubble_texts", "build",
           "chat_source", "english", "loader_source"]

# The chat, in the order its pieces must run. "styles.css" becomes the CSS constant.
CHAT_PARTS = ("head.js", "texts.js", "storage.js", "dom.js", "config.js", "state.js",
              "styles.css", "ui.js", "messages.js", "sending.js", "forms.js", "transcript.js",
              "prechat.js", "frames.js", "transport.js", "boot.js")
LOADER_PARTS = ("loader.js", "greetings.js", "presence.js")  # greeting rules, presence beacon
STATIC_PATH = "/widget/static/"  # where the versioned files are served
# What the loader needs of the library's settings: the bubble, and the greeting rules it
# runs on every page (a timer each, so the chat is fetched only when one fires).
BRANDING = ("library", "colour", "position", "logo", "size", "launcher_label",
            "offset_x", "offset_y", "greetings", "language")
_STYLES_HEAD = ("  // ---- styles -------------------------------------------------------------"
                "------------\n\n  const CSS = `\n")


@dataclass(frozen=True)
class Asset:
    """One served file, in every encoding it is served in."""

    name: str
    body: bytes
    gzip: bytes
    brotli: bytes
    content_type: str = "application/javascript; charset=utf-8"

    @functools.cached_property
    def digest(self) -> str:
        return hashlib.sha256(self.body).hexdigest()

    @property
    def integrity(self) -> str:
        """The Subresource Integrity value a <script> that loads this file carries."""
        return "sha384-" + base64.b64encode(hashlib.sha384(self.body).digest()).decode()

    @classmethod
    def of(cls, name: str, text: str) -> Asset:
        body = text.encode("utf-8")
        return cls(name, body, gzip.compress(body, 9, mtime=0),
                   brotli.compress(body, mode=brotli.MODE_TEXT, quality=11))


@dataclass(frozen=True)
class Bundle:
    loader: Asset  # served as /widget.js
    chat: Asset  # served as STATIC_PATH + chat.name

    def static(self, name: str) -> Asset | None:
        return self.chat if name == self.chat.name else None


def build(settings: Mapping[str, Any], texts: Catalog | None = None) -> Bundle:
    """Both files for a library whose public widget settings are ``settings``; the bubble
    speaks ``texts`` (the library's catalog, its ``[widget.texts]`` overrides in)."""
    chat = chat_asset()
    return Bundle(Asset.of("widget.js", loader_source(settings, chat, texts)), chat)


@functools.cache
def chat_asset() -> Asset:
    """The chat, built once per process: it depends on nothing but its sources."""
    text = chat_source()
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
    return Asset.of(f"chat.{digest}.js", text)


def _static() -> Traversable:
    return resources.files("adapters.widget").joinpath("static")


def english() -> dict[str, str]:
    """The chat's built-in words: the shipped English file, flat as the server sends it."""
    return dict(Catalog.bundled().language("en").texts)


def bubble_texts(languages: Any = None,
                 texts: Catalog | None = None) -> dict[str, dict[str, str]]:
    """The bubble's label in each of ``languages`` (default: every one of ``texts``, else
    the shipped files) that has a translation, and ``dir`` for a right-to-left one
    (``data-position="auto"``). With the library's catalog, its own label is the label."""
    catalog = texts or Catalog.bundled()
    codes = languages if isinstance(languages, list | tuple) and languages else catalog.codes
    found = [catalog.language(code) for code in codes if code in catalog.codes]
    return {lang.code: {"open": lang.texts["open"]} | ({"dir": "rtl"} if lang.direction == "rtl"
                                                      else {}) for lang in found}


def chat_source() -> str:
    """The whole chat as one script."""
    folder = _static().joinpath("chat")
    pieces = []
    for name in CHAT_PARTS:
        text = folder.joinpath(name).read_text(encoding="utf-8")
        if name.endswith(".css"):
            text = _STYLES_HEAD + _template_literal(text) + "`;\n\n"
        pieces.append(text)
    return _fill("".join(pieces), {"texts": english()})


def loader_source(settings: Mapping[str, Any], chat: Asset, texts: Catalog | None = None) -> str:
    """The loader, with the branding, the chat's address and the bubble's words in it."""
    folder = _static().joinpath("loader")
    source = "".join(folder.joinpath(name).read_text(encoding="utf-8") for name in LOADER_PARTS)
    css = folder.joinpath("launcher.css").read_text(encoding="utf-8")
    return _fill(source, {
        "config": {key: settings[key] for key in BRANDING if key in settings},
        "chat": {"path": STATIC_PATH + chat.name, "integrity": chat.integrity},
        "texts": bubble_texts(settings.get("languages"), texts),
        "css": css,
    })


def _fill(source: str, values: Mapping[str, Any]) -> str:
    """Put each value, as a JS literal, in place of the ``/*@name*/<default>`` mark."""
    for name, value in values.items():
        mark = f"/*@{name}*/"
        start = source.find(mark)
        if start < 0:
            raise ValueError(f"the widget source has no {mark} to fill")
        end = _literal_end(source, start + len(mark))
        source = source[:start] + js_literal(value) + source[end:]
    return source


def _literal_end(source: str, at: int) -> int:
    """Where the default after a mark ends: a string, or an object up to its matching }."""
    if source[at] == '"':
        return source.index('"', at + 1) + 1
    depth = 0
    for i in range(at, len(source)):
        depth += {"{": 1, "}": -1}.get(source[i], 0)
        if depth == 0:
            return i + 1
    raise ValueError("a mark's default object never closes")


def js_literal(value: Any) -> str:
    """JSON that stays one literal wherever a script puts it: no ``</script>``, no HTML
    comment, no line separator that older parsers end a string at."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def _template_literal(css: str) -> str:
    """CSS placed inside a JS template literal: nothing in it may end or interpolate it."""
    return css.replace("\\", "\\\\").replace("`", "\\`").replace("${", "\\${")


def write(folder: Path, settings: Mapping[str, Any]) -> list[Path]:
    """Write the served files and their .br/.gz twins into ``folder``."""
    bundle = build(settings)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for asset in (bundle.loader, bundle.chat):
        for suffix, data in (("", asset.body), (".gz", asset.gzip), (".br", asset.brotli)):
            path = folder / (asset.name + suffix)
            path.write_bytes(data)
            written.append(path)
    return written


if __name__ == "__main__":  # python -m adapters.widget.bundle DIR [settings.json]
    given = json.loads(Path(sys.argv[2]).read_text()) if len(sys.argv) > 2 else {}
    for path in write(Path(sys.argv[1]), given):
        print(path, path.stat().st_size)
