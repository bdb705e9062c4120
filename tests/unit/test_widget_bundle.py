"""The widget's scripts as the bridge assembles them from their sources."""

from __future__ import annotations

from adapters.widget.bundle import CHAT_PARTS, chat_source


class TestChatSource:
    def test_every_piece_is_in_the_chat_once_and_in_order(self) -> None:
        """Each source file's own opening lands in the assembled chat, in manifest order."""
        source = chat_source()
        assert source.startswith("/*\n * Pustaka Bridge chat widget")
        assert "const CSS = `\n:host { all: initial; }" in source
        assert source.rstrip().endswith("})();")
        assert len(CHAT_PARTS) == len(set(CHAT_PARTS))

    def test_the_styles_cannot_end_their_string(self) -> None:
        """A backtick or ${ in the CSS is escaped, so the styles stay one string."""
        from adapters.widget.bundle import _template_literal

        assert _template_literal("a { content: '`${x}`\\2026'; }") == \
            "a { content: '\\`\\${x}\\`\\\\2026'; }"
