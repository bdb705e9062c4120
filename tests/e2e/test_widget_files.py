"""Files, the queue line, and edited or withdrawn replies in a real browser: Debian's
headless Chromium on the sample library page, the real bridge (with the widget's files
and queue wired in bridge/app.py) and the Bot API emulator as the librarians' group."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, expect

from adapters.blobs import BlobStore
from routing.model import AttachmentKind
from tests.e2e.conftest import Desk, Visitor, eventually
from tests.e2e.test_widget_browser import LIBRARIAN, STORED, ask, open_chat, shown, state

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

PICKER = 'input[part="file-input"]'
CHIP = '[part="chip"]'
INPUT = 'textarea[part="input"]'
ERROR = '[part="error"]'
QUEUE = '[part="queue"]'
PDF = b"%PDF-1.4\n% Pustaka reading list\n" + b"1 0 obj << /Type /Catalog >> endobj\n" * 300


def png(width: int, height: int) -> bytes:
    """A real PNG of coloured noise, stored uncompressed so it is big (about 3 bytes a pixel)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))
    rows = b"".join(b"\x00" + bytes((x * 7 + y * 13 + x * y) % 256 for x in range(width * 3))
                    for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(rows, 0)) + chunk(b"IEND", b""))


async def files_ready(page: Page) -> None:
    """The bridge offers files (its app.py wires them in): the attach button is there."""
    assert (await state(page))["files"], "bridge/app.py does not give the widget its files"


async def attach(page: Page, name: str, mime: str, data: bytes) -> None:
    await page.locator(PICKER).set_input_files({"name": name, "mimeType": mime, "buffer": data})


async def conversation_of(desk: Desk, page: Page) -> str:
    patron = await desk.patron_of(page)
    conversation = await desk.bridge.store.latest_conversation(patron.id)
    assert conversation is not None
    return conversation.id


async def librarian_post(desk: Desk, thread: int, text: str) -> dict[str, Any]:
    """The librarian answers in the topic; returns the Telegram message they posted."""
    return desk.emulator.user_sends(desk.group, desk.librarian, text, message_thread_id=thread)


async def test_a_patron_sends_an_image_and_sees_it_in_the_chat(
    visitor: Visitor, desk: Desk
) -> None:
    """An image chosen with the labelled attach button shows as a chip, goes up with its
    caption (bigger than any JSON frame may be), and is shown in the chat as a thumbnail
    loaded through its signed link; the store keeps the very same bytes and the desk's
    topic gets it as a photo with the caption."""
    image = png(160, 160)
    assert len(image) > 64 * 1024
    page = await visitor()
    await open_chat(page)
    await files_ready(page)
    await expect(page.locator('button[part="attach"]')).to_have_attribute(
        "aria-label", "Attach a file")
    await attach(page, "reading-room.png", "image/png", image)
    await expect(page.locator(CHIP)).to_contain_text("reading-room.png")
    await page.locator(INPUT).fill("Is this seat free?")
    await page.locator(INPUT).press("Enter")
    sent = page.locator(f'{STORED}[data-direction="patron"]')
    await expect(sent.locator('[part="text"]')).to_have_text("Is this seat free?")
    thumb = sent.locator('img[part="image"]')
    await expect(thumb).to_have_attribute("alt", "reading-room.png")
    await page.wait_for_function(
        "() => document.querySelector('pustaka-chat').shadowRoot"
        ".querySelector('img[part=image]')?.naturalWidth === 160")
    await expect(page.locator(CHIP)).to_have_count(0)
    assert (await state(page))["pending"] == 0
    history = await desk.bridge.store.history(await conversation_of(desk, page))
    (kept,) = history[0].attachments
    assert (kept.kind, kept.mime, kept.name) == (AttachmentKind.PHOTO, "image/png",
                                                 "reading-room.png")
    assert await BlobStore(desk.bridge.config.data_dir / "blobs").get(kept.digest) == image
    photos = await eventually(lambda: [m for t in desk.topics()
                                       for m in desk.emulator.messages(desk.group, t)
                                       if m.get("photo")])
    assert "Is this seat free?" in photos[0].get("caption", "")


async def test_pasted_and_dropped_images_become_chips_that_can_be_removed(
    visitor: Visitor
) -> None:
    """A pasted image and a dropped one both join the tray; the chip's labelled remove
    button takes one away again, from the keyboard."""
    page = await visitor()
    await open_chat(page)
    await files_ready(page)
    await page.evaluate("""(bytes) => {
        const root = document.querySelector('pustaka-chat').shadowRoot;
        const file = (name) => new File([new Uint8Array(bytes)], name, {type: 'image/png'});
        const pasted = new DataTransfer();
        pasted.items.add(file('pasted.png'));
        root.querySelector('textarea[part=input]').dispatchEvent(
            new ClipboardEvent('paste', {clipboardData: pasted, bubbles: true, cancelable: true}));
        const dropped = new DataTransfer();
        dropped.items.add(file('dropped.png'));
        const panel = root.querySelector('[part=panel]');
        const drag = {dataTransfer: dropped, bubbles: true, cancelable: true};
        panel.dispatchEvent(new DragEvent('dragover', drag));
        panel.dispatchEvent(new DragEvent('drop', drag));
    }""", list(png(4, 4)))
    await expect(page.locator(CHIP)).to_have_count(2)
    await expect(page.locator(CHIP).nth(0)).to_contain_text("pasted.png")
    await expect(page.locator(CHIP).nth(1)).to_contain_text("dropped.png")
    remove = page.locator('button[aria-label="Remove pasted.png"]')
    await remove.focus()
    await page.keyboard.press("Enter")
    await expect(page.locator(CHIP)).to_have_count(1)
    await expect(page.locator(CHIP)).to_contain_text("dropped.png")


async def test_a_disguised_file_is_refused_by_name_and_the_caption_is_kept(
    visitor: Visitor, desk: Desk
) -> None:
    """HTML named like a PNG is refused by the bridge, which reads its bytes; the widget
    names the file, gives the caption back to the composer and sends nothing."""
    page = await visitor()
    await open_chat(page)
    await files_ready(page)
    await attach(page, "cat.png", "image/png", b"<html><script>alert(1)</script></html>")
    await page.locator(INPUT).fill("Look at my cat")
    await page.locator(INPUT).press("Enter")
    await expect(page.locator(ERROR)).to_have_text(
        "“cat.png” is a type of file we do not accept.")
    await expect(page.locator(INPUT)).to_have_value("Look at my cat")
    assert await shown(page) == []
    assert desk.topics() == []


async def test_a_librarians_document_downloads_the_same_bytes(
    visitor: Visitor, desk: Desk, tmp_path: Path
) -> None:
    """A document a librarian sends in the topic shows as a link with its name and size,
    and clicking it downloads exactly the bytes the librarian sent."""
    page = await visitor()
    await open_chat(page)
    await ask(page, "Can you send me the reading list?")
    topic = await desk.topic_with("Can you send me the reading list?")
    desk.emulator.user_sends_file(desk.group, desk.librarian, "Daftar bacaan.pdf", PDF,
                                  mime_type="application/pdf", caption="Here it is.",
                                  message_thread_id=topic)
    link = page.locator(LIBRARIAN).locator('a[part="file"]')
    await expect(link).to_contain_text("Daftar bacaan.pdf")
    await expect(link).to_contain_text("11 KB")
    async with page.expect_download() as info:
        await link.click()
    download = await info.value
    assert download.suggested_filename == "Daftar bacaan.pdf"
    saved = tmp_path / "saved.pdf"
    await download.save_as(saved)
    assert saved.read_bytes() == PDF


async def test_an_edit_changes_the_bubble_and_a_withdrawal_removes_it(
    visitor: Visitor, desk: Desk
) -> None:
    """A librarian's edit replaces the reply's text in its own bubble, marked edited; a
    /delete on it leaves only the "withdrawn" line; both hold after a reload."""
    page = await visitor()
    await open_chat(page)
    await ask(page, "When does the library open?")
    topic = await desk.topic_with("When does the library open?")
    posted = await librarian_post(desk, topic, "We open at 8.")
    reply = page.locator(LIBRARIAN)
    await expect(reply.locator('[part="text"]')).to_have_text("We open at 8.")
    reply_id = await reply.get_attribute("data-id")
    desk.emulator.user_edits(desk.group, posted["message_id"], "We open at 9.")
    await expect(reply.locator('[part="text"]')).to_have_text("We open at 9.")
    await expect(reply.locator('[part="edited"]')).to_have_text("(edited)")
    assert await reply.get_attribute("data-id") == reply_id
    await expect(page.locator(LIBRARIAN)).to_have_count(1)
    await page.reload()
    await page.wait_for_function("() => window.PustakaChat && window.PustakaChat.state().connected")
    await open_chat(page)
    await expect(page.locator(LIBRARIAN).locator('[part="text"]')).to_have_text("We open at 9.")
    await expect(page.locator(LIBRARIAN).locator('[part="edited"]')).to_have_count(1)
    desk.emulator.user_sends(desk.group, desk.librarian, "/delete", message_thread_id=topic,
                             reply_to_message_id=posted["message_id"])
    gone = page.locator(f'[data-id="{reply_id}"]')
    await expect(gone).to_have_attribute("data-withdrawn", "")
    await expect(gone).to_have_text("This message was withdrawn by the library.")
    assert "librarian: We open at 9." not in await shown(page)
    await page.reload()
    await page.wait_for_function("() => window.PustakaChat && window.PustakaChat.state().connected")
    await open_chat(page)
    await expect(page.locator(f'[data-id="{reply_id}"]')).to_have_text(
        "This message was withdrawn by the library.")
    assert not [line for line in await shown(page) if "We open" in line]


async def test_the_queue_line_shows_while_waiting_and_goes_with_the_answer(
    visitor: Visitor, desk: Desk
) -> None:
    """Two patrons waiting see their places (next, then number 2, in their own language),
    the first one's line goes as soon as the librarian answers, and the second moves up."""
    first = await visitor()
    await open_chat(first)
    await ask(first, "First question")
    line = first.locator(QUEUE)
    await expect(line).to_contain_text("You are next in line.")
    second = await visitor(locale="id-ID")
    await open_chat(second)
    await expect(second.locator('button[part="attach"]')).to_have_attribute(
        "aria-label", "Lampirkan berkas")
    await ask(second, "Pertanyaan kedua")
    await expect(second.locator(QUEUE)).to_contain_text("Anda nomor 2 dalam antrean.")
    await expect(second.locator(QUEUE)).to_contain_text("Perkiraan waktu tunggu")
    desk.reply(await desk.topic_with("First question"), "Here is your answer.")
    await expect(first.locator(LIBRARIAN).locator('[part="text"]')).to_have_text(
        "Here is your answer.")
    await expect(line).to_be_hidden()
    assert (await state(first))["queue"] is None
    await expect(second.locator(QUEUE)).to_contain_text("Anda berikutnya dalam antrean.")
