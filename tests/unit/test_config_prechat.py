"""``[widget.prechat]`` and ``[[widget.greetings]]``: read from the file, every mistake
named by its key."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.config import ConfigError, load_config
from bridge.config_widget import Topic

GOOD = """
[widget.prechat]
show = "always"
fields = ["name", "email", "member_number", "question", "topic"]
required = ["name", "question", "topic"]
topics = [{label = "Borrowing", tag = "borrowing"},
          {label = "Research help", tag = "research-help"}]

[[widget.greetings]]
pages = "/cgi-bin/koha/opac-search.pl*"
after_seconds = 20
text = "Cannot find it? Ask us."
texts = { id = "Tidak ketemu? Tanya kami." }

[[widget.greetings]]
pages = ["/e-resources", "/e-resources/*"]
after_seconds = 5.5
text = "Trouble getting in? We can help."
"""


def load(tmp_path: Path, text: str):  # type: ignore[no-untyped-def]
    path = tmp_path / "pustaka.toml"
    path.write_text(text)
    return load_config(path, env={})


class TestPrechat:
    def test_default_is_todays_after_hours_form(self) -> None:
        """With nothing set the form shows after hours, asking name, email and question."""
        p = load_config(None, env={}).widget.prechat
        assert (p.show, p.fields, p.required, p.topics) == (
            "after_hours", ("name", "email", "question"), ("name", "email", "question"), ())

    def test_a_full_table_is_read(self, tmp_path: Path) -> None:
        """Show, fields, required and topics arrive as written, the rules with them."""
        w = load(tmp_path, GOOD).widget
        assert w.prechat.show == "always" and w.prechat.required == ("name", "question", "topic")
        assert w.prechat.topics[1] == Topic("Research help", "research-help")
        assert w.greetings[0].texts == (("", "Cannot find it? Ask us."),
                                        ("id", "Tidak ketemu? Tanya kami."))
        assert w.greetings[1].pages == ("/e-resources", "/e-resources/*")
        assert w.greetings[1].after_seconds == 5.5

    @pytest.mark.parametrize(("table", "named"), [
        ('show = "sometimes"', "widget.prechat.show"),
        ('fields = ["name", "phone", "question"]', "widget.prechat.fields: unknown field 'phone'"),
        ('fields = ["name", "question"]\nrequired = ["email"]', "widget.prechat.required: 'email'"),
        ('fields = ["name"]', "widget.prechat.fields must include \"question\""),
        ('fields = ["question", "topic"]', "widget.prechat.topics lists none"),
        ('topics = [{label = "Borrowing", tag = "Borrow ing"}]', "widget.prechat.topics[0].tag"),
        ('topics = [{label = "", tag = "x"}]', "widget.prechat.topics[0].label"),
        ('colour = "red"', "unknown key 'widget.prechat.colour'"),
    ])
    def test_mistakes_name_the_key(self, tmp_path: Path, table: str, named: str) -> None:
        """Each mistake fails at start with the key it is in and the file it came from."""
        with pytest.raises(ConfigError) as caught:
            load(tmp_path, "[widget.prechat]\n" + table + "\n")
        assert named in str(caught.value) and "pustaka.toml" in str(caught.value)


class TestGreetings:
    @pytest.mark.parametrize(("rule", "named"), [
        ('pages = "opac"\ntext = "Hi"', "widget.greetings[0].pages"),
        ('pages = "/a b"\ntext = "Hi"', "widget.greetings[0].pages"),
        ('pages = "/x"\nafter_seconds = -1\ntext = "Hi"', "widget.greetings[0].after_seconds"),
        ('pages = "/x"', "widget.greetings[0].text"),
        ('pages = "/x"\ntext = "Hi"\ntexts = { "in dia" = "x" }', "widget.greetings[0].texts"),
        ('pages = "/x"\ntext = "Hi"\nwhen = 3', "unknown key 'widget.greetings[0].when'"),
    ])
    def test_mistakes_name_the_rule_and_key(self, tmp_path: Path, rule: str, named: str) -> None:
        """A bad rule fails at start naming its place in the list and its key."""
        with pytest.raises(ConfigError, match=r"pustaka\.toml") as caught:
            load(tmp_path, "[[widget.greetings]]\n" + rule + "\n")
        assert named in str(caught.value)

    def test_no_rules_by_default(self) -> None:
        """Without [[widget.greetings]] no greeting opens the chat by itself."""
        assert load_config(None, env={}).widget.greetings == ()
