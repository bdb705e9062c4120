"""The pure parts of files over Telegram: how a message's files become posts, what a
Telegram message carries, and how album items are gathered (and survive a restart)."""

from __future__ import annotations

from typing import Any

import pytest
from telegram import Message as TgMessage
from telegram import Update

from adapters.telegram.albums import ALBUMS_KEY, AlbumGatherer
from adapters.telegram.files import clean_name, file_of
from adapters.telegram.files_send import cost, method_for, plan, visible_length
from routing.model import Attachment, AttachmentKind
from tests.unit.fakes import FakeStore

MB = 1024 * 1024


def attachment(kind: str, name: str = "f", mime: str = "", size: int = 1000,
               kept: bool = True, note: str = "") -> Attachment:
    mime = mime or {"photo": "image/jpeg", "voice": "audio/ogg", "audio": "audio/mpeg",
                    "video": "video/mp4"}.get(kind, "application/pdf")
    return Attachment(AttachmentKind(kind), name, mime, size,
                      ("ab" * 32) if kept else "", note)


class TestPlan:
    def test_one_photo_carries_the_text_as_caption(self) -> None:
        """Text and one photo are one post: the photo, the text its caption."""
        posts = plan("Is this it?", [attachment("photo")])
        assert [(len(p.files), p.text) for p in posts] == [(1, "Is this it?")]
        assert cost(posts) == 1

    def test_an_album_costs_one_message_per_item(self) -> None:
        """Three photos are one album with the caption on it, costing three messages."""
        posts = plan("Pages", [attachment("photo", str(i)) for i in range(3)])
        assert [(len(p.files), p.text) for p in posts] == [(3, "Pages")]
        assert cost(posts) == 3

    def test_kinds_that_cannot_share_an_album_are_split(self) -> None:
        """Photos and videos share an album; documents, audio and voice notes go apart,
        each group where it first appeared, the caption on the first."""
        files = [attachment("photo", "p"), attachment("document", "d1"),
                 attachment("video", "v"), attachment("voice", "n"),
                 attachment("document", "d2"), attachment("audio", "a")]
        posts = plan("Look", files)
        assert [[a.name for a in p.files] for p in posts] == [
            ["p", "v"], ["d1", "d2"], ["n"], ["a"]]
        assert [p.text for p in posts] == ["Look", "", "", ""]
        assert cost(posts) == 6

    def test_more_than_ten_go_as_two_albums(self) -> None:
        """Twelve documents are an album of ten and one of two."""
        posts = plan("", [attachment("document", str(i)) for i in range(12)])
        assert [len(p.files) for p in posts] == [10, 2]

    def test_a_long_text_goes_first_on_its_own(self) -> None:
        """A text past 1,024 characters is a message of its own before the files."""
        posts = plan("x" * 1025, [attachment("photo")])
        assert [(len(p.files), len(p.text)) for p in posts] == [(0, 1025), (1, 0)]

    def test_what_cannot_go_is_a_line_of_text(self) -> None:
        """A refused file and one past 50 MB become escaped lines after the text."""
        posts = plan("Here", [attachment("document", "a<b>.zip", kept=False, size=25 * MB,
                                         note="too large"),
                              attachment("video", "film.mp4", size=60 * MB)])
        assert posts[0].files == ()
        assert posts[0].text == ("Here\n📎 a&lt;b&gt;.zip (25.0 MB): too large\n"
                                 "📎 film.mp4 (60.0 MB): kept in the bridge")

    def test_nothing_to_show_is_no_post(self) -> None:
        """No text and no files: nothing is sent."""
        assert plan("  ", []) == []


class TestShapes:
    def test_methods_follow_what_telegram_can_show(self) -> None:
        """A GIF, an 11 MB photo, a WebM voice note and an AVI video go as documents."""
        assert method_for(attachment("photo", mime="image/png")) == "photo"
        assert method_for(attachment("photo", mime="image/gif")) == "document"
        assert method_for(attachment("photo", size=11 * MB)) == "document"
        assert method_for(attachment("voice", mime="audio/webm")) == "document"
        assert method_for(attachment("video", mime="video/x-msvideo")) == "document"

    def test_visible_length_counts_what_telegram_counts(self) -> None:
        """Tags do not count, an entity is one character, an emoji two UTF-16 units."""
        assert visible_length("<b>Ana</b> &amp; 😀") == len("Ana & ") + 2

    def test_names_are_shown_never_paths(self) -> None:
        """Folders, control characters and leading dots go; a long name keeps its type."""
        assert clean_name("../../etc/passwd") == "passwd"
        assert clean_name("C:\\Users\\x\\scan\x00.pdf") == "scan.pdf"
        assert clean_name("...") == "file"
        long = clean_name("a" * 300 + ".pdf")
        assert len(long) <= 120 and long.endswith("….pdf")

    def test_the_largest_photo_size_is_taken(self) -> None:
        """Of a photo's sizes the largest is fetched, named after the message."""
        msg = TgMessage.de_json(_message(photo=[
            {"file_id": "small", "file_unique_id": "s", "width": 90, "height": 60},
            {"file_id": "large", "file_unique_id": "l", "width": 1280, "height": 853,
             "file_size": 123456}]), None)
        found = file_of(msg)
        assert found is not None and (found.file_id, found.size) == ("large", 123456)
        assert found.kind is AttachmentKind.PHOTO and found.name == "photo-5.jpg"


class Ticks:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _message(message_id: int = 5, user: int = 7, group: str | None = None,
             **content: Any) -> dict[str, Any]:
    msg: dict[str, Any] = {"message_id": message_id, "date": 1_700_000_000,
                           "chat": {"id": user, "type": "private", "first_name": "Ana"},
                           "from": {"id": user, "is_bot": False, "first_name": "Ana"},
                           **content}
    if group:
        msg["media_group_id"] = group
    return msg


def _update(update_id: int, **kwargs: Any) -> Update:
    return Update.de_json({"update_id": update_id, "message": _message(**kwargs)}, None)


class TestAlbumGatherer:
    async def test_items_go_together_once_quiet(self) -> None:
        """Items of one album are held until the quiet window passes, then go as one."""
        ticks, store = Ticks(), FakeStore()
        albums = AlbumGatherer(store, None, quiet=1.0, clock=ticks)  # type: ignore[arg-type]
        assert await albums.hold(_update(1, message_id=10, group="g", caption="Pages"))
        ticks.now += 0.5
        assert await albums.hold(_update(2, message_id=11, group="g"))
        ticks.now += 0.9
        assert albums.due() == []
        assert albums.wait() == pytest.approx(0.1)  # the window runs from the last item
        ticks.now += 0.2
        [held] = albums.due()
        assert [u.update_id for u in held.updates] == [1, 2]
        await albums.done(held)
        assert albums.wait() is None and store.state[ALBUMS_KEY] == ""

    async def test_what_the_sender_sends_next_waits_behind_the_album(self) -> None:
        """A line typed after an album goes after it; other people are not held."""
        ticks, store = Ticks(), FakeStore()
        albums = AlbumGatherer(store, None, quiet=1.0, clock=ticks)  # type: ignore[arg-type]
        await albums.hold(_update(1, message_id=10, group="g"))
        assert await albums.hold(_update(2, message_id=11, text="and this"))
        assert not await albums.hold(_update(3, message_id=12, user=8, text="someone else"))
        assert not await albums.hold(_update(4, message_id=13, user=9, text="hi"))
        assert albums.due() == []
        ticks.now += 1.0
        assert [[u.update_id for u in h.updates] for h in albums.due()] == [[1], [2]]

    async def test_a_restart_loses_nothing_and_doubles_nothing(self) -> None:
        """Held items survive a restart; the same updates delivered again are held once."""
        ticks, store = Ticks(), FakeStore()
        first = AlbumGatherer(store, None, quiet=1.0, clock=ticks)  # type: ignore[arg-type]
        await first.hold(_update(1, message_id=10, group="g", caption="Pages"))
        await first.hold(_update(2, message_id=11, group="g"))
        again = AlbumGatherer(store, None, quiet=1.0, clock=ticks)  # type: ignore[arg-type]
        await again.load()
        for update in (_update(1, message_id=10, group="g", caption="Pages"),
                       _update(2, message_id=11, group="g"),
                       _update(3, message_id=12, group="g")):
            assert await again.hold(update)
        ticks.now += 1.0
        [held] = again.due()
        assert [u.update_id for u in held.updates] == [1, 2, 3]
        assert held.updates[0].message is not None
        assert held.updates[0].message.caption == "Pages"
