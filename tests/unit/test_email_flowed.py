"""format=flowed (RFC 3676) text rejoined as the patron typed it."""

from __future__ import annotations

from adapters.email.flowed import unflow


class TestUnflow:
    def test_soft_breaks_joined(self) -> None:
        """A line ending in a space continues on the next; a hard break stays."""
        assert unflow("Is the room \nfree on Monday?\nThanks") == (
            "Is the room free on Monday?\nThanks")

    def test_signature_separator_is_hard(self) -> None:
        """"-- " ends in a space but never joins the signature to the text."""
        assert unflow("Bye\n-- \nAni") == "Bye\n-- \nAni"

    def test_quote_depths_not_mixed(self) -> None:
        """Quoted flowed lines join within their depth and keep their quote marks."""
        assert unflow("> Your hold \n> is ready.\n>> older \nNew text") == (
            "> Your hold is ready.\n>> older \nNew text")

    def test_delsp_and_space_stuffing(self) -> None:
        """DelSp=yes drops the joining space; a stuffed leading space goes."""
        assert unflow("perpus \ntakaan\n From here", delsp=True) == "perpustakaan\nFrom here"
