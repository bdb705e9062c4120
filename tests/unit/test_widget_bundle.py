"""The widget's scripts as the bridge assembles them from their sources."""

from __future__ import annotations

import gzip
import json
import re

import brotli
import pytest

from adapters.i18n import Catalog
from adapters.widget.assets import pick_encoding
from adapters.widget.bundle import (
    CHAT_PARTS,
    STATIC_PATH,
    _fill,
    _template_literal,
    bubble_texts,
    build,
    chat_source,
    english,
    js_literal,
)


def _literal(source: str, name: str) -> object:
    """The JSON the bundle wrote as ``const name = …;`` in a script."""
    found = re.search(rf"const {name} = (.*);\n", source)
    assert found, name
    return json.loads(found.group(1))


class TestChatSource:
    def test_every_piece_is_in_the_chat_once_and_in_order(self) -> None:
        """Each source file's own opening lands in the assembled chat, in manifest order."""
        source = chat_source()
        assert source.startswith("/*\n * Pustaka Bridge chat widget")
        assert "const CSS = `\n.panel {" in source
        assert source.rstrip().endswith("})();")
        assert len(CHAT_PARTS) == len(set(CHAT_PARTS))
        assert "/*@" not in source  # every mark was filled

    def test_the_built_in_words_are_the_shipped_english(self) -> None:
        """The chat carries English alone, as adapters/i18n/texts/en.json has it, to fall
        back on; every other language comes from /widget/texts."""
        found = re.search(r"const ENGLISH = readTexts\((.*)\);\n", chat_source())
        assert found and json.loads(found.group(1)) == english()
        assert english()["send"] == "Send" and "errors.other" in english()

    def test_the_styles_cannot_end_their_string(self) -> None:
        """A backtick or ${ in the CSS is escaped, so the styles stay one string."""
        assert _template_literal("a { content: '`${x}`\\2026'; }") == \
            "a { content: '\\`\\${x}\\`\\\\2026'; }"


class TestLoaderSource:
    def test_the_loader_carries_branding_only(self) -> None:
        """Only what the bubble shows is written into the loader, not greetings or limits."""
        loader = build({"library": "Kota", "colour": "#123456", "size": "large",
                        "greeting": {"en": "Hi"}, "max_text": 10}).loader.body.decode()
        assert _literal(loader, "CONFIG") == {"library": "Kota", "colour": "#123456",
                                              "size": "large"}
        assert _literal(loader, "TEXTS") == bubble_texts()
        assert set(bubble_texts()) == set(Catalog.bundled().codes)

    def test_the_librarys_own_bubble_words_go_into_the_loader(self) -> None:
        """With the library's catalog, its [widget.texts] override of `open` is the label
        written into the loader; the other languages keep the shipped words."""
        texts = Catalog.bundled().with_overrides({"fr": {"open": "Parlez à {library}"}})
        loader = build({"languages": ["fr", "de"]}, texts).loader.body.decode()
        assert _literal(loader, "TEXTS") == {
            "fr": {"open": "Parlez à {library}"},
            "de": {"open": Catalog.bundled().language("de").texts["open"]}}

    def test_the_bubble_speaks_the_librarys_languages(self) -> None:
        """Only the library's languages' labels go into the loader, with their direction."""
        loader = build({"languages": ["ar", "de", "xx"], "language": "de"}).loader.body.decode()
        assert _literal(loader, "CONFIG") == {"language": "de"}
        assert _literal(loader, "TEXTS") == {
            "ar": {"open": Catalog.bundled().language("ar").texts["open"], "dir": "rtl"},
            "de": {"open": Catalog.bundled().language("de").texts["open"]}}

    def test_the_loader_names_the_chat_it_was_built_with(self) -> None:
        """The chat's address carries its hash, and the loader pins it with SRI."""
        bundle = build({})
        chat = _literal(bundle.loader.body.decode(), "CHAT")
        assert chat == {"path": STATIC_PATH + bundle.chat.name,
                        "integrity": bundle.chat.integrity}
        assert re.fullmatch(r"chat\.[0-9a-f]{16}\.js", bundle.chat.name)
        assert bundle.static(bundle.chat.name) is bundle.chat
        assert bundle.static("chat.0000000000000000.js") is None

    def test_a_library_name_cannot_end_the_script(self) -> None:
        """A name holding </script> or a line separator stays inside its string."""
        loader = build({"library": "A</script><b>\u2028&"}).loader.body.decode()
        line = next(x for x in loader.splitlines() if "const CONFIG" in x)
        assert "</script>" not in line and "\u2028" not in loader
        assert _literal(loader, "CONFIG") == {"library": "A</script><b>\u2028&"}
        assert js_literal("<!--") == '"\\u003c!--"'

    def test_a_missing_mark_is_a_clear_error(self) -> None:
        """A source without the mark to fill fails the build, naming the mark."""
        with pytest.raises(ValueError, match="/\\*@config\\*/"):
            _fill("const X = 1;", {"config": {}})


class TestAssets:
    def test_the_loader_is_small_and_every_encoding_is_the_same_file(self) -> None:
        """The loader is at most 10 KB compressed; br and gzip unpack to the plain file."""
        bundle = build({"library": "Perpustakaan Kota"})
        for asset in (bundle.loader, bundle.chat):
            assert brotli.decompress(asset.brotli) == asset.body
            assert gzip.decompress(asset.gzip) == asset.body
        assert len(bundle.loader.brotli) <= 10_000
        assert len(bundle.loader.gzip) <= 10_000


class TestPickEncoding:
    @pytest.mark.parametrize(("accept", "chosen"), [
        ("gzip, deflate, br, zstd", "br"),
        ("gzip, deflate", "gzip"),
        ("br;q=0, gzip;q=0.5", "gzip"),
        ("identity", ""),
        ("", ""),
        ("*", "br"),
        ("*;q=0", ""),
        ("br;q=nonsense, gzip", "gzip"),
    ])
    def test_the_best_encoding_the_browser_takes(self, accept: str, chosen: str) -> None:
        """brotli before gzip, neither when refused (q=0) or not named."""
        assert pick_encoding(accept) == chosen
