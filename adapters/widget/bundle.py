"""The widget's served scripts, assembled from the sources in ``static/`` by Python alone.

The sources are pieces of one closure, kept in small files by concern (texts, storage,
DOM helpers, views, transport, …) and joined in the order below; the styles are a plain
CSS file that becomes a string. No Node toolchain runs at install time: the bridge
assembles the scripts when it starts, and ``python -m adapters.widget.bundle DIR`` writes
them out for a web server that serves them itself.
"""

from __future__ import annotations

from importlib import resources
from importlib.abc import Traversable

__all__ = ["CHAT_PARTS", "chat_source"]

# The chat, in the order its pieces must run. "styles.css" becomes the CSS constant.
CHAT_PARTS = ("head.js", "texts.js", "storage.js", "dom.js", "config.js", "state.js",
              "styles.css", "ui.js", "messages.js", "sending.js", "forms.js", "frames.js",
              "transport.js", "boot.js")

_STYLES_HEAD = ("  // ---- styles -------------------------------------------------------------"
                "------------\n\n  const CSS = `\n")


def _static() -> Traversable:
    return resources.files("adapters.widget").joinpath("static")


def chat_source() -> str:
    """The whole chat as one script."""
    folder = _static().joinpath("chat")
    pieces = []
    for name in CHAT_PARTS:
        text = folder.joinpath(name).read_text(encoding="utf-8")
        if name.endswith(".css"):
            text = _STYLES_HEAD + _template_literal(text) + "`;\n\n"
        pieces.append(text)
    return "".join(pieces)


def _template_literal(css: str) -> str:
    """CSS placed inside a JS template literal: nothing in it may end or interpolate it."""
    return css.replace("\\", "\\\\").replace("`", "\\`").replace("${", "\\${")
