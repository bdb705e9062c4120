"""strip_reply on body layouts the corpus files do not already show."""

from __future__ import annotations

from adapters.email.htmltext import html_to_text
from adapters.email.quotes import strip_reply


class TestHeaders:
    def test_apple_mail_indonesian(self) -> None:
        """Apple Mail's "Pada <date>, pukul <time>, <name> menulis:" is a reply header."""
        body = (
            "Baik, terima kasih infonya.\n\n"
            "Dikirim dari iPhone saya\n\n"
            "> Pada 6 Jun 2024, pukul 15.02, Perpustakaan Kota Pustaka "
            "<help@library.example> menulis:\n>\n> Selamat siang,\n"
        )
        assert strip_reply(body) == "Baik, terima kasih infonya."

    def test_outlook_original_message(self) -> None:
        """Old Outlook's "-----Original Message-----" separator cuts the quote."""
        body = (
            "Yes, Thursday suits me.\n\n-----Original Message-----\n"
            "From: help@library.example\nSent: 3 June 2024 10:00\nSubject: Visit\n\nWhen?"
        )
        assert strip_reply(body) == "Yes, Thursday suits me."

    def test_outlook_indonesian_pesan_asli(self) -> None:
        """Indonesian Outlook's "-----Pesan Asli-----" separator cuts the quote."""
        assert strip_reply("Oke.\n\n-----Pesan Asli-----\nDari: x\n") == "Oke."

    def test_german_from_the_library(self) -> None:
        """A language mail-parser-reply knows (German) is stripped with its patterns."""
        body = (
            "Danke, ich komme morgen vorbei.\n\n"
            "Am Mo., 3. Juni 2024 um 14:05 Uhr schrieb Perpustakaan <help@library.example>:\n"
            "> Guten Tag,\n"
        )
        assert strip_reply(body) == "Danke, ich komme morgen vorbei."

    def test_french_from_the_library(self) -> None:
        """French "Le ... a écrit :" is stripped with the library's pattern."""
        body = (
            "Merci beaucoup.\n\n"
            "Le lun. 3 juin 2024 à 14:05, Perpustakaan <help@library.example> a \u00e9crit :\n"
            "> Bonjour,\n"
        )
        assert strip_reply(body) == "Merci beaucoup."

    def test_bottom_posted(self) -> None:
        """An answer written under the quote it answers is what is kept."""
        body = (
            "On Mon, 3 Jun 2024 at 14:05, Library <help@library.example> wrote:\n"
            "> Which branch?\n\nThe one in Jalan Merdeka, please.\n"
        )
        assert strip_reply(body) == "The one in Jalan Merdeka, please."

    def test_forward_is_kept(self) -> None:
        """A forwarded mail is the patron's point: its header block is not cut away."""
        body = (
            "See the notice below, is it from you?\n\n"
            "---------- Forwarded message ---------\n"
            "From: Notices <no-reply@opac.example>\nDate: Mon, 3 Jun 2024\n"
            "Subject: Overdue\nTo: me@example.com\n\nYour book is overdue.\n"
        )
        assert strip_reply(body).endswith("Your book is overdue.")


class TestSignatures:
    def test_hyphen_list_is_kept(self) -> None:
        """A list of books written with "- " is the question, not a signature."""
        body = "Can I borrow these?\n- Bumi Manusia\n- Laskar Pelangi\n- Cantik Itu Luka"
        assert strip_reply(body) == body

    def test_sentence_after_thanks_is_kept(self) -> None:
        """"Thanks," opening a sentence that goes on is not a sign-off."""
        body = "Hello,\n\nThanks, and one more question: do you have\nthe 2019 edition?"
        assert strip_reply(body) == body

    def test_dash_dash_signature(self) -> None:
        """Everything under an RFC 3676 "-- " line goes."""
        body = "Is the library open at 7?\n\n-- \nAnita Putri\n+62 812 0000 0000"
        assert strip_reply(body) == "Is the library open at 7?"

    def test_never_empty(self) -> None:
        """A body that is nothing but a quote is kept whole rather than emptied."""
        body = "On Mon, 3 Jun 2024, Library <help@library.example> wrote:\n> Hello"
        assert strip_reply(body) == body


class TestRobustness:
    def test_long_line_starting_like_a_header(self) -> None:
        """A 200 kB line starting "On " (quadratic for the library's regex) is returned whole."""
        body = "On " + "a " * 100_000
        assert strip_reply(body) == body.strip()

    def test_html_quote_becomes_quote_lines(self) -> None:
        """HTML blockquotes turn into "> " lines, which the stripper then cuts."""
        html = (
            "<p>Sounds good.</p><div>On Mon, 3 Jun 2024 at 14:05, Library wrote:</div>"
            "<blockquote><p>Your hold is ready.</p></blockquote>"
        )
        text = html_to_text(html)
        assert "> Your hold is ready." in text
        assert strip_reply(text) == "Sounds good."


class TestHtml:
    def test_unclosed_head(self) -> None:
        """HTML whose <head> is never closed still gives its body's text."""
        html = "<html><head><title>Mail</title><meta charset=utf-8><body><p>Hello</p>"
        assert html_to_text(html + "<p>A&amp;B<br>line</p></body></html>") == (
            "Hello\n\nA&B\nline")

    def test_lists_tables_links(self) -> None:
        """List items are marked, table cells spaced, link targets kept visible."""
        html = ('<ul><li>One</li><li>Two</li></ul><table><tr><td>a</td><td>b</td></tr>'
                '</table><a href="https://opac.example/a">the record</a>')
        assert html_to_text(html) == "- One\n- Two\na b\nthe record (https://opac.example/a)"
