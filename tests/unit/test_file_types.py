"""``adapters.files.read_type``: a declared type against puremagic's signatures."""

from __future__ import annotations

import pytest

from adapters.files import read_type, sniff

EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 100
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 60
ZIP = b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + b"\x00" * 60


class TestReadType:
    def test_a_program_declared_as_a_document_disagrees_and_says_what_it_is(self) -> None:
        """MZ bytes declared application/msword: not agreed, found names a Windows program."""
        reading = read_type(EXE, "application/msword")
        assert not reading.agrees
        assert "portable-executable" in reading.mime and "Windows" in reading.found

    @pytest.mark.parametrize("declared", [
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.oasis.opendocument.text", "application/zip"])
    def test_zip_based_types_are_believed(self, declared: str) -> None:
        """Office files are zips: a declared member of the zip family keeps its type."""
        reading = read_type(ZIP, declared)
        assert (reading.mime, reading.agrees) == (declared, True)

    def test_an_image_is_what_its_bytes_say(self) -> None:
        """A PNG declared image/jpeg agrees (an image) but is kept as image/png."""
        reading = read_type(PNG, "image/jpeg")
        assert reading.agrees and reading.mime == "image/png"

    def test_text_without_a_signature_is_believed_only_as_text(self) -> None:
        """Plain text declared text/plain agrees; the same bytes declared a PDF do not;
        undeclared bytes are octet-stream."""
        assert read_type(b"Call number 025.04\n", "text/plain").agrees
        assert not read_type(b"Call number 025.04\n", "application/pdf").agrees
        assert read_type(b"Call number 025.04\n", "").mime == "application/octet-stream"
        assert not read_type(b"\x00\x01binary", "text/plain").agrees

    def test_sniff_keeps_its_contract(self) -> None:
        """sniff: an image/png that starts like a PDF is a PDF; aliases are normalised."""
        assert sniff(b"%PDF-1.7\n" + b"1" * 60, "image/png") == "application/pdf"
        assert sniff(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"J" * 60, "image/jpg") == "image/jpeg"
