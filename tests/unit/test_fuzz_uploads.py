"""Property-based fuzzing of the widget's upload form reader: multipart bodies with odd
part names, file names, encodings, types and sizes, read through aiohttp's own request
and multipart parsing. Every form is an Upload or a FileRefused; nothing else escapes,
and a refused form leaves no half-written file behind."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import StreamReader
from aiohttp.base_protocol import BaseProtocol
from aiohttp.test_utils import make_mocked_request
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from multidict import CIMultiDict

from adapters.blobs import BlobStore
from adapters.files import FilePolicy
from adapters.widget.uploads import FileRefused, Upload, Uploads

FUZZ = settings(max_examples=100, deadline=None, derandomize=bool(os.environ.get("CI")),
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
BOUNDARY = "----pustakaFuzzBoundary7MA4YWxk"
_POLICY = FilePolicy(max_bytes=150)
_HEADS = [b"\x89PNG\r\n\x1a\n" + b"\x00" * 60, b"%PDF-1.7\n" + b"1" * 60,
          b"MZ\x90\x00" + b"\x00" * 60, b"GIF89a", b"", b"\xff\xd8\xff\xe0" + b"J" * 60]


@pytest.fixture(scope="module")
def blob_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield tmp_path_factory.mktemp("blobs")


def _quoted(name: bytes) -> bytes:
    return name.replace(b"\\", b"\\\\").replace(b'"', b"%22")


@st.composite
def part(draw: st.DrawFn, names: st.SearchStrategy[bytes]) -> bytes:
    field = draw(st.sampled_from([b"cid", b"text", b"file", b"file", b"other", b""]))
    disposition = b'form-data; name="' + field + b'"'
    if field == b"file" or draw(st.booleans()):
        filename = draw(names)
        if draw(st.booleans()):
            disposition += b'; filename="' + _quoted(filename) + b'"'
        else:  # RFC 5987, as some clients write non-ASCII names
            disposition += b"; filename*=UTF-8''" + filename.hex().encode()
    headers = [b"Content-Disposition: " + disposition]
    if draw(st.booleans()):
        headers.append(b"Content-Type: " + draw(st.sampled_from(
            [b"image/png", b"application/pdf", b"application/msword", b"text/plain",
             b"application/octet-stream", b"", b"image/png; charset=\xff"])))
    if draw(st.integers(0, 9)) == 0:
        headers.append(b"Content-Transfer-Encoding: base64")
    body = (draw(st.text(max_size=80)).encode("utf-8") if field in (b"cid", b"text")
            else draw(st.sampled_from(_HEADS)) + draw(st.binary(max_size=200)))
    return b"\r\n".join(headers) + b"\r\n\r\n" + body


def _form(parts: list[bytes], closed: bool = True) -> bytes:
    sep = b"--" + BOUNDARY.encode()
    body = b"".join(sep + b"\r\n" + p + b"\r\n" for p in parts)
    return body + (sep + b"--\r\n" if closed else b"")


async def _read(blob_root: Path, body: bytes, length: bool) -> Upload | FileRefused:
    loop = asyncio.get_running_loop()
    payload = StreamReader(BaseProtocol(loop), 2**16, loop=loop)
    payload.feed_data(body)
    payload.feed_eof()
    headers = CIMultiDict({"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"})
    if length:
        headers["Content-Length"] = str(len(body))
    request = make_mocked_request("POST", "/widget/api/upload", headers=headers,
                                  payload=payload)
    uploads = Uploads(BlobStore(blob_root), _POLICY,
                      max_files=3, max_text=40)
    try:
        upload = await uploads.read(request, "visitor-1")
    except FileRefused as refused:
        return refused
    uploads.discard(upload)
    return upload


def _check(blob_root: Path, body: bytes, length: bool) -> Upload | FileRefused:
    result = asyncio.run(_read(blob_root, body, length))
    if isinstance(result, FileRefused):
        assert result.code and str(result) and 400 <= result.status < 600
    else:
        assert 0 < len(result.cid) <= 64 and 1 <= len(result.files) <= 3
        for file in result.files:
            # The type is read from the bytes, and only an allowed one is kept.
            assert file.name and not _POLICY.refusal(file.mime, 1)
            file.name.encode("utf-8")  # the download header is built from it
    leftovers = [p for p in blob_root.rglob("*") if p.is_file()]
    assert not leftovers, f"files left behind: {leftovers}"
    return result


_TEXT_NAMES = st.text(max_size=60).map(lambda s: s.encode("utf-8"))


@FUZZ
@given(parts=st.lists(part(_TEXT_NAMES), max_size=5), closed=st.booleans(),
       length=st.booleans())
@example(parts=[b'Content-Disposition: form-data; name="cid"\r\n\r\nc1',
                b'Content-Disposition: form-data; name="file"; filename="a.png"\r\n'
                b"Content-Type: image/png\r\n\r\n" + _HEADS[0]], closed=True, length=True)
def test_any_form_is_read_or_refused(blob_root: Path, parts: list[bytes], closed: bool,
                                     length: bool) -> None:
    """Any multipart form with UTF-8 names is an Upload of allowed files or a FileRefused."""
    _check(blob_root, _form(parts, closed), length)


@FUZZ
@given(st.binary(max_size=400))
def test_any_body_is_read_or_refused(blob_root: Path, body: bytes) -> None:
    """Arbitrary bytes under a multipart Content-Type are read or refused, never raised."""
    _check(blob_root, body, True)


def test_invalid_utf8_file_name(blob_root: Path) -> None:
    """A file name that is not UTF-8 is cleaned to something that can be sent back."""
    parts = [b'Content-Disposition: form-data; name="cid"\r\n\r\nc1',
             b'Content-Disposition: form-data; name="file"; filename="\xff.png"\r\n'
             b"Content-Type: image/png\r\n\r\n" + _HEADS[0]]
    _check(blob_root, _form(parts), True)
