"""A patron's request from the dashboard's Privacy page, against the running bridge and
its Bot API emulator: the export holds their messages and files; the erasure leaves nothing
of them in the store, the blobs or the desk's topics, and keeps another patron whole."""

from __future__ import annotations

import io
import json
import sqlite3
import zipfile

from adapters.blobs import BlobStore
from routing.model import Attachment, AttachmentKind, Channel, Inbound
from tests.eventually import eventually
from tests.integration.admin_client import (
    AdminClient,
    StaffBridge,
)

pytest_plugins = ["tests.integration.admin_client"]  # admin_bridge, admin_client, …

FILE = b"%PDF-1.4 the patron's own scan\n"


async def _patron(staff: StaffBridge, visitor: str, text: str, file: bytes = b"") -> str:
    """A widget patron's conversation, posted in its own desk topic; its id."""
    bridge = staff.bridge
    files: tuple[Attachment, ...] = ()
    if file:
        stored = await bridge.parts.blobs.put(file)
        files = (Attachment(AttachmentKind.DOCUMENT, "scan.pdf", "application/pdf",
                            stored.size, stored.digest),)
    accepted = await bridge.parts.router.intake.accept(
        Inbound(Channel.WIDGET, visitor, text, name="Sari", attachments=files))
    conversation_id = accepted.conversation.id

    async def posted() -> bool:
        found = await bridge.store.get_conversation(conversation_id)
        return found is not None and found.desk_thread is not None
    await eventually(posted)
    return conversation_id


def _rows_mentioning(staff: StaffBridge, needle: str) -> list[str]:
    """Every table row anywhere in the database that holds ``needle``."""
    db = sqlite3.connect(staff.bridge.store.path)
    try:
        found = []
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            for row in db.execute(f"SELECT * FROM [{table}]"):
                if needle in repr(row):
                    found.append(f"{table}: {row!r}")
        return found
    finally:
        db.close()


async def test_export_holds_the_patrons_messages_and_files(
        admin_bridge: StaffBridge, admin_client: AdminClient) -> None:
    """The zip has every message of theirs in patron.json and the file's bytes."""
    await _patron(admin_bridge, "visitor-export", "Where is my interlibrary loan?", FILE)
    assert (await admin_client.get("/admin/privacy"))[0] == 200
    async with admin_client.http.post(admin_client.base + "/admin/privacy/export", data={
            "who": "visitor:visitor-export", "csrf": admin_client.csrf}) as answer:
        assert answer.status == 200
        assert answer.headers["Content-Type"] == "application/zip"
        archive = zipfile.ZipFile(io.BytesIO(await answer.read()))
    data = json.loads(archive.read("patron.json"))
    texts = [m["text"] for m in data["tables"]["messages"]]
    assert "Where is my interlibrary loan?" in texts
    assert [archive.read(f"files/{d}") for d in data["files"]] == [FILE]


async def test_erase_leaves_nothing_of_the_patron_and_deletes_their_topic(
        admin_bridge: StaffBridge, admin_client: AdminClient) -> None:
    """After erasure no row holds their words or id, their file is gone, their desk topic
    is deleted in Telegram, the other patron is untouched, and the record keeps counts."""
    gone = await _patron(admin_bridge, "visitor-erase", "Please renew my secret book", FILE)
    kept = await _patron(admin_bridge, "visitor-keep", "Opening hours on Sunday?")
    bridge, group = admin_bridge.bridge, admin_bridge.bridge.config.telegram.group_id
    thread = (await bridge.store.get_conversation(gone)).desk_thread
    kept_thread = (await bridge.store.get_conversation(kept)).desk_thread
    status, html, _ = await admin_client.post("/admin/privacy/erase", {
        "who": "visitor-erase", "confirm": "erase"})
    assert status == 200 and 'id="erased"' in html, html
    assert _rows_mentioning(admin_bridge, "secret book") == []
    assert _rows_mentioning(admin_bridge, gone) == []
    assert _rows_mentioning(admin_bridge, "visitor-erase") == []
    digest = BlobStore(bridge.config.data_dir / "blobs").path(
        __import__("hashlib").sha256(FILE).hexdigest())
    assert not digest.exists()
    topics = {t["message_thread_id"] for t in admin_bridge.emulator.topics(group)}
    assert thread not in topics and kept_thread in topics
    assert await bridge.store.get_conversation(gone) is None
    assert await bridge.store.get_conversation(kept) is not None
    [(_, by, kinds)] = await bridge.store.erasures()
    assert by == "Dewi Admin" and kinds["conversations"] == 1 and kinds["files"] == 1
    assert "telegram_topic" in kinds
    [entry, *_] = await bridge.store.audit_entries()
    assert entry.action == "patron erased" and "secret" not in entry.detail


async def test_erase_needs_the_typed_confirmation(
        admin_bridge: StaffBridge, admin_client: AdminClient) -> None:
    """Without "erase" typed in the box, nothing is deleted."""
    conversation = await _patron(admin_bridge, "visitor-careful", "Hello")
    status, html, _ = await admin_client.post("/admin/privacy/erase", {"who": "visitor-careful"})
    assert status == 400 and "confirm" in html
    assert await admin_bridge.bridge.store.get_conversation(conversation) is not None


async def test_an_unknown_patron_is_named_in_the_answer(admin_client: AdminClient) -> None:
    """Asking for someone the bridge does not know says so, and changes nothing."""
    status, html, _ = await admin_client.post("/admin/privacy/erase", {
        "who": "nobody@example.org", "confirm": "erase"})
    assert status == 404 and "no patron is known by email" in html


async def test_erase_deletes_the_bots_messages_in_the_patrons_own_chat(
        admin_bridge: StaffBridge, admin_client: AdminClient) -> None:
    """A Telegram patron's erasure deletes the librarian's answer the bot sent to their
    private chat, as well as their desk topic."""
    emulator, group = admin_bridge.emulator, admin_bridge.bridge.config.telegram.group_id
    patron = emulator.add_user("Ayu", last_name="Pratiwi")
    emulator.user_sends(patron, patron, "Do you have the 1998 yearbook?")
    thread = await eventually(lambda: [t["message_thread_id"] for t in emulator.topics(group)])
    librarian = next(m["user"]["id"] for m in emulator.members(group)
                     if m["status"] == "creator")
    emulator.user_sends(group, librarian, "Yes, on shelf 4.", message_thread_id=thread[0])

    def answered() -> list[dict[str, object]]:
        return [m for m in emulator.messages(patron) if "shelf 4" in str(m.get("text", ""))]
    await eventually(answered)

    async def recorded() -> bool:  # the outbox wrote down the message id it got back
        counts = await admin_bridge.store.delivery_counts()
        return counts["pending"] == 0
    await eventually(recorded)
    status, html, _ = await admin_client.post("/admin/privacy/erase", {
        "who": f"telegram:{patron}", "confirm": "erase"})
    assert status == 200 and "telegram_telegram" in html, html
    assert answered() == []
    assert thread[0] not in [t["message_thread_id"] for t in emulator.topics(group)]
