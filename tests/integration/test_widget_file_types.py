"""A file's declared type must agree with its bytes (issue 11 item 13), over the real
widget server: a Windows program sent as a Word document is refused saying what it is,
and genuine files of the library's allowed types still go through."""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from adapters.files import FilePolicy
from tests.integration.test_widget_files import LIMIT, PDF, PNG, FileRig, form, upload
from tests.integration.test_widget_offline import Tab

EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 48 + b"PE\x00\x00" * 50
OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 500  # a Word 97-2003 document's start
ALLOWED = ("image/*", "application/pdf", "text/plain", "application/msword",
           "application/vnd.openxmlformats-officedocument.*", "application/zip")


def _docx() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
    return buffer.getvalue()


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[FileRig]:
    rig = FileRig(tmp_path, policy=FilePolicy(LIMIT, ALLOWED))
    await rig.start()
    yield rig
    await rig.stop()


@pytest.fixture
async def tab(rig: FileRig) -> AsyncIterator[tuple[aiohttp.ClientSession, Tab]]:
    async with aiohttp.ClientSession(rig.url) as http:
        ws = await http.ws_connect("/widget/ws")
        tab = Tab(ws)
        await tab.hello()
        yield http, tab
        await ws.close()


async def test_a_program_sent_as_a_word_document_is_refused(
    rig: FileRig, tab: tuple[aiohttp.ClientSession, Tab]
) -> None:
    """An .exe (MZ bytes) declared application/msword is refused with 415 file_type,
    naming the file, the declared type and what the bytes are; nothing is stored."""
    http, patron = tab
    status, error = await upload(http, patron.token, form(
        "u1", "my essay", ("essay.doc", EXE, "application/msword")))
    assert (status, error["code"], error["file"]) == (415, "file_type", "essay.doc")
    assert "application/msword" in error["message"]
    assert "Windows" in error["message"] and "portable-executable" in error["message"]
    assert await rig.blobs.get(hashlib.sha256(EXE).hexdigest()) is None


async def test_genuine_files_of_allowed_types_go_through(
    rig: FileRig, tab: tuple[aiohttp.ClientSession, Tab]
) -> None:
    """A Word 97 document, a .docx (a zip), a JPEG-less PNG, a PDF and a text file, each
    declared as what it is, are kept under their declared types."""
    http, patron = tab
    files = [("a.doc", OLE, "application/msword"),
             ("b.docx", _docx(),
              "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
             ("c.png", PNG, "image/png"), ("d.pdf", PDF, "application/pdf"),
             ("e.txt", b"Call number: 025.04 ISO\n", "text/plain")]
    status, ack = await upload(http, patron.token, form("u1", "", *files))
    assert status == 200, ack
    assert [f["mime"] for f in ack["message"]["attachments"]] == [m for _, _, m in files]
