"""Patrons' languages: the translation files, choosing a language, the library's own texts."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from adapters.i18n import TEXTS_DIR, Catalog, TextsError, pick_language, primary_language
from bridge.config import ConfigError, load_config, widget_texts

SHIPPED = ("ar", "de", "en", "es", "fr", "id", "jv", "ms", "pt", "zh")
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def read(code: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((TEXTS_DIR / f"{code}.json").read_text("utf-8"))
    return data


def copy_texts(tmp_path: Path) -> Path:
    folder = tmp_path / "texts"
    shutil.copytree(TEXTS_DIR, folder)
    return folder


def rewrite(folder: Path, code: str, change: Any) -> Path:
    path = folder / f"{code}.json"
    data = json.loads(path.read_text("utf-8"))
    change(data)
    path.write_text(json.dumps(data, ensure_ascii=False), "utf-8")
    return path


class TestTranslationFiles:
    def test_every_language_is_shipped(self) -> None:
        """The ten languages of the issue each have a file."""
        assert tuple(sorted(p.stem for p in TEXTS_DIR.glob("*.json"))) == SHIPPED

    @pytest.mark.parametrize("code", SHIPPED)
    def test_same_keys_and_placeholders_as_english(self, code: str) -> None:
        """Each file has exactly English's keys, and each text English's placeholders."""
        english, other = read("en"), read(code)
        assert set(other) == set(english)
        for key, text in english.items():
            if key != "_meta":
                assert set(_PLACEHOLDER.findall(other[key])) == set(_PLACEHOLDER.findall(text)), key
                assert other[key].strip(), key

    @pytest.mark.parametrize("code", SHIPPED)
    def test_meta_names_the_language_and_its_direction(self, code: str) -> None:
        """_meta gives the language's own name and its direction: Arabic alone is rtl."""
        meta = read(code)["_meta"]
        assert meta["code"] == code and meta["name"].strip()
        assert meta["dir"] == ("rtl" if code == "ar" else "ltr")

    def test_translations_are_not_english_left_over(self) -> None:
        """No other file keeps English's sentence for a long text (a missed translation)."""
        english = read("en")
        long_keys = [k for k, v in english.items() if k != "_meta" and len(v) > 30]
        for code in SHIPPED[:2] + SHIPPED[3:]:
            same = [k for k in long_keys if read(code)[k] == english[k]]
            assert same == [], (code, same)


class TestLoading:
    def test_the_shipped_files_load(self) -> None:
        """The bundled catalog loads every file, English by default."""
        catalog = Catalog.bundled()
        assert catalog.codes == SHIPPED and catalog.default == "en"
        assert catalog.language("ar").direction == "rtl"
        assert catalog.language("id").name == "Bahasa Indonesia"

    @pytest.mark.parametrize("change,message", [
        (lambda d: d.pop("send"), "key 'send' is missing (it is in en.json)"),
        (lambda d: d.update(sned="x"), "key 'sned' is not in en.json (did you mean 'send'?)"),
        (lambda d: d.update(open="Chat dengan perpustakaan"),
         "key 'open' must have the placeholders {library}, has none"),
        (lambda d: d.update(send=3), "key 'send': the text must be a string, got int"),
        (lambda d: d["_meta"].update(dir="down"), "'_meta.dir' must be \"ltr\" or \"rtl\""),
        (lambda d: d.pop("_meta"), "key '_meta' is missing"),
    ])
    def test_a_broken_file_names_file_and_key(self, tmp_path: Path, change: Any,
                                              message: str) -> None:
        """A file a translator broke is refused at start, naming the file and the key."""
        folder = copy_texts(tmp_path)
        path = rewrite(folder, "id", change)
        with pytest.raises(TextsError) as caught:
            Catalog.load(folder)
        assert str(path) in str(caught.value) and message in str(caught.value)

    def test_invalid_json_names_the_line(self, tmp_path: Path) -> None:
        """A file that is not JSON is refused with its name and the line of the mistake."""
        folder = copy_texts(tmp_path)
        (folder / "fr.json").write_text('{\n  "send": "Envoyer",\n  oops\n}', "utf-8")
        with pytest.raises(TextsError, match=r"fr\.json: not valid JSON: .* line 3"):
            Catalog.load(folder)

    def test_a_new_language_is_a_copied_file(self, tmp_path: Path) -> None:
        """A translator adds a language by copying en.json under a new code."""
        folder = copy_texts(tmp_path)
        rewrite(folder, "en", lambda d: None)
        shutil.copy(folder / "en.json", folder / "nl.json")
        rewrite(folder, "nl", lambda d: (d["_meta"].update(name="Nederlands", code="nl"),
                                         d.update(send="Versturen")))
        catalog = Catalog.load(folder)
        assert "nl" in catalog.codes and catalog.say("nl", "send") == "Versturen"


class TestPicking:
    @pytest.mark.parametrize("preferences,expected", [
        (["pt-BR"], "pt"),
        (["zh-Hans-CN"], "zh"),
        (["zh_TW"], "zh"),
        (["in"], "id"),
        (["jw"], "jv"),
        (["ms-MY"], "ms"),
        (["AR-eg"], "ar"),
        ([None, "", "*", "nl-NL", "fr-CA", "de"], "fr"),  # the first one the library has
        (["x-klingon!"], "en"),
        ([], "en"),
    ])
    def test_bcp47_tags_match_by_their_language(self, preferences: list[Any],
                                                expected: str) -> None:
        """data-lang, then <html lang>, then the browser's: the first one known wins."""
        assert Catalog.bundled().pick(preferences) == expected

    def test_nothing_known_gives_the_library_default(self) -> None:
        """A browser asking only for languages the library lacks gets the library's own."""
        assert pick_language(["nl", "sv"], SHIPPED, "id") == "id"

    def test_a_whole_tag_wins_over_its_language(self) -> None:
        """A file for a regional variant (pt-br) is preferred to the language's."""
        assert pick_language(["pt-BR"], ("pt", "pt-br"), "en") == "pt-br"
        assert primary_language("zh-Hant-TW") == "zh"

    def test_the_picked_language_says_its_direction(self) -> None:
        """An Arabic browser gets rtl; the others ltr."""
        catalog = Catalog.bundled()
        assert catalog.language(catalog.pick(["ar-SA", "en"])).direction == "rtl"
        assert catalog.language(catalog.pick(["de-AT"])).direction == "ltr"


class TestOverrides:
    def test_say_fills_placeholders_with_english_for_unknown(self) -> None:
        """say() words a key in the patron's language; "" or unknown gives the default."""
        catalog = Catalog.bundled()
        assert catalog.say("de", "answering", name="Rina") == "Rina antwortet"
        assert catalog.say("", "answering", name="Rina") == "Rina is answering"
        assert catalog.say("kl", "send") == "Send"

    def test_an_override_replaces_one_text_only(self) -> None:
        """The library's text replaces the shipped one; every other text stays."""
        catalog = Catalog.bundled().with_overrides({"id": {"send": "Kirimkan"}})
        assert catalog.say("id", "send") == "Kirimkan"
        assert catalog.say("id", "save") == "Simpan"
        assert Catalog.bundled().say("id", "send") == "Kirim"

    @pytest.mark.parametrize("overrides,message", [
        ({"id": {"snd": "x"}}, "widget.texts.id: unknown key 'snd' (did you mean 'send'?)"),
        ({"kl": {"send": "x"}}, "widget.texts.kl: no such language; known: ar, de"),
        ({"fr": {"open": "Chat {bibliotheque}"}}, "'open' uses {bibliotheque}"),
    ])
    def test_a_bad_override_names_it(self, overrides: Any, message: str) -> None:
        """An override of a key, language or placeholder that does not exist is refused."""
        with pytest.raises(TextsError, match=re.escape(message)):
            Catalog.bundled().with_overrides(overrides)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "pustaka.toml"
    path.write_text(text, "utf-8")
    return path


class TestConfig:
    def test_texts_and_default_language_from_the_file(self, tmp_path: Path) -> None:
        """[widget.texts.<lang>] overrides, dotted names included; widget.language is the
        default for a patron whose browser asks for none the library has."""
        path = write(tmp_path, '[widget]\nlanguage = "id"\n[widget.texts.id]\nsend = "Kirimkan"\n'
                               'errors.empty = "Kosong!"\n"errors.busy" = "Sibuk."\n')
        catalog = widget_texts(load_config(path, env={}))
        assert catalog.default == "id" and catalog.pick(["nl"]) == "id"
        assert catalog.say("id", "send") == "Kirimkan"
        assert catalog.say("id", "errors.empty") == "Kosong!"
        assert catalog.say("id", "errors.busy") == "Sibuk."

    @pytest.mark.parametrize("text,message", [
        ('[widget.texts.id]\nsnd = "x"\n', "widget.texts.id: unknown key 'snd'"),
        ('[widget.texts.xx]\nsend = "x"\n', "widget.texts.xx: no such language"),
        ('[widget.texts.id]\nsend = 3\n', "widget.texts.id.send must be a text, got 3"),
        ('[widget]\ntexts = "x"\n', "widget.texts must be tables of texts"),
        ('[widget]\nlanguage = "kl"\n', "widget.language must be one of"),
        ('[widget.texts.de]\nopen = "{x}"\n', "'open' uses {x}"),
    ])
    def test_config_mistakes_name_the_key(self, tmp_path: Path, text: str,
                                          message: str) -> None:
        """A wrong override is a config error naming the file and the key."""
        path = write(tmp_path, text)
        with pytest.raises(ConfigError) as caught:
            load_config(path, env={})
        assert str(path) in str(caught.value) and message in str(caught.value)


def test_a_placeholder_may_share_a_name_with_an_argument() -> None:
    """{code} and {lang} fill like any other placeholder (the code mail has {code})."""
    assert "123456" in Catalog.bundled().say("id", "mail.codeText", library="X", code="123456")


def test_greetings_in_every_language_the_library_own_winning(tmp_path: Path) -> None:
    """Each language greets in its texts' words (an override included); a greeting_id
    the library wrote itself wins for Indonesian."""
    from bridge.channels import widget_greetings

    path = write(tmp_path, '[widget]\ngreeting_id = "Selamat datang di Perpustakaan Kota!"\n'
                           '[widget.texts.fr]\ngreeting = "Bienvenue !"\n')
    config = load_config(path, env={})
    greetings = widget_greetings(config, widget_texts(config))
    assert set(greetings) == set(SHIPPED)
    assert greetings["id"] == "Selamat datang di Perpustakaan Kota!"
    assert greetings["fr"] == "Bienvenue !"
    assert greetings["en"] == config.widget.greeting_en
