"""What the bridge says to a patron, in the patron's language: the desk's card line, the
widget's system lines and the mail's own words."""

from __future__ import annotations

from adapters.email.outgoing import content_for
from adapters.email.rating_mail import rating_html, rating_text
from adapters.i18n import Catalog
from adapters.telegram.card_lines import language_line
from adapters.telegram.render import info_card
from adapters.widget.system_lines import worded
from routing.model import (
    Attachment,
    AttachmentKind,
    Channel,
    Conversation,
    Direction,
    Message,
    PageInfo,
    Patron,
)


class TestCardLine:
    def test_a_shipped_language_is_named_for_the_desk(self) -> None:
        """The card names the language in English, in itself, and its code."""
        assert language_line("ar") == "<b>Language:</b> Arabic (العربية, ar)"
        assert language_line("en") == "<b>Language:</b> English"
        assert language_line("") == ""

    def test_a_tag_of_no_file_is_shown_escaped(self) -> None:
        """A browser's raw tag (an old conversation's) is shown as text, markup escaped."""
        assert language_line('x<script>"') == "<b>Language:</b> x&lt;script&gt;&quot;"

    def test_the_card_prefers_the_patron_language(self) -> None:
        """The card says the patron's kept language before the page's raw tag."""
        conversation = Conversation("c1", "p1", Channel.WIDGET,
                                    page=PageInfo(url="https://l.example/", language="id-ID"))
        card = info_card(Patron("p1", language="de"), conversation)
        assert "<b>Language:</b> German (Deutsch, de)" in card and "id-ID" not in card


class TestSystemLines:
    def msg(self, event: str, direction: str = "system") -> dict[str, object]:
        return {"id": "m1", "direction": direction, "event": event, "author": "Sari",
                "text": "Sari closed the conversation"}

    def test_system_lines_are_worded_in_the_patron_language(self) -> None:
        """closed / claimed / reopened / rating_request get the patron's words."""
        texts = Catalog.bundled()
        assert worded(self.msg("closed"), "fr", texts)["text"] == "Cette conversation a été close."
        assert worded(self.msg("claimed"), "zh", texts)["text"] == "Sari正在回复"
        assert worded(self.msg("reopened"), "", texts)["text"] == "The conversation is open again."

    def test_other_lines_are_left_as_they_are(self) -> None:
        """A librarian's reply, or an event the files have no words for, is unchanged."""
        texts = Catalog.bundled()
        reply = self.msg("closed", direction="librarian")
        assert worded(reply, "fr", texts) == reply
        assert worded(self.msg("notice"), "fr", texts) == self.msg("notice")

    def test_overrides_reach_the_system_lines(self) -> None:
        """The library's own words for a line are the ones the patron gets."""
        texts = Catalog.bundled().with_overrides({"id": {"closed": "Sesi selesai."}})
        assert worded(self.msg("closed"), "id", texts)["text"] == "Sesi selesai."


class TestMailWords:
    def test_rating_request_in_the_patron_language_alone(self) -> None:
        """Known language: one block in it; unknown: every library language, in order."""
        assert rating_text(["es"]).startswith("Esta conversación está cerrada.")
        both = rating_text(["en", "id"])
        assert "How did we do?" in both and "Bagaimana layanan kami?" in both
        assert rating_text(["kl"]).startswith("This conversation is now closed.")

    def test_rating_html_escapes_every_text(self) -> None:
        """An override with markup arrives in the mail's HTML as text."""
        texts = Catalog.bundled().with_overrides({"en": {"mail.rateAsk": "<b>Rate</b> us"}})
        html = rating_html(["en"], answer_address="help@l.example", subject="Re: x",
                           texts=texts)
        assert "&lt;b&gt;Rate&lt;/b&gt; us" in html and "<b>Rate</b>" not in html

    async def test_file_lines_come_in_the_patron_language(self) -> None:
        """A file that could not be kept is named in the patron's language."""
        file = Attachment(AttachmentKind.DOCUMENT, "peta.pdf", "application/pdf", 2048,
                          note="terlalu besar")
        message = Message("m1", "c1", Direction.LIBRARIAN, "Ini petanya.",
                          attachments=(file,))
        content = await content_for(message, None, max_bytes=10**6, languages=["id"])
        assert content is not None
        assert "📎 peta.pdf (2 KB) tidak dapat dilampirkan: terlalu besar." in content.text


class TestQueueLines:
    def test_the_queue_line_comes_in_every_language(self) -> None:
        """The queue frame carries the line in each language; English and Indonesian say
        what they said before."""
        from adapters.widget.queue_view import queue_frame
        from routing.queue import QueueSpot, spot_text

        spot = QueueSpot(position=3, waiting=5, wait=360.0)
        text = queue_frame("c1", spot)["text"]
        assert set(text) == set(Catalog.bundled().codes)
        assert text["en"] == spot_text(spot, "en") and text["id"] == spot_text(spot, "id")
        assert text["fr"] == "Vous êtes numéro 3 dans la file. Attente estimée : environ 6 minutes."
        first = queue_frame("c1", QueueSpot(position=1, waiting=1, wait=None))["text"]
        assert first["de"] == ("Sie sind als Nächstes an der Reihe. "
                               "Die Wartezeit lässt sich gerade nicht schätzen.")
