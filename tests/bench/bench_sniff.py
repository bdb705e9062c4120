"""What puremagic's signatures say about the test suite's files, beside the hand-written
magic table they replaced (issue 15), and what a reading costs.

    PYTHONPATH=. python -m tests.bench.bench_sniff

For each sample: the declared type, what the old table kept, what ``read_type`` keeps,
whether the declared type agrees with the bytes (a widget upload that does not is
refused), and what the bytes are. Then the time of one reading of a 4 KB head.
"""

from __future__ import annotations

import time

from adapters.files import SNIFF_BYTES, read_type
from tests.integration.test_widget_file_types import EXE, OLE, _docx
from tests.integration.test_widget_files import HTML, PDF, PNG
from tests.unit.test_fuzz_uploads import _HEADS

_OLD_MAGIC = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"),
              (b"GIF87a", "image/gif"), (b"GIF89a", "image/gif"), (b"%PDF-", "application/pdf"),
              (b"OggS", "audio/ogg"), (b"ID3", "audio/mpeg"), (b"PK\x03\x04", "application/zip"))


def old_sniff(head: bytes, declared: str = "") -> str:
    """adapters/files.py's sniff before puremagic (commit e1ec063), for comparison."""
    declared = declared.split(";", 1)[0].strip().lower()
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp":
        return declared if declared.startswith(("video/", "audio/")) else "video/mp4"
    if head[:4] == b"\x1aE\xdf\xa3":
        return declared if declared.startswith(("video/", "audio/")) else "video/webm"
    for magic, mime in _OLD_MAGIC:
        if head.startswith(magic):
            if mime == "application/zip" and declared.startswith("application/vnd."):
                return declared
            if mime == "audio/ogg" and declared.startswith(("audio/", "video/")):
                return declared
            return mime
    if declared.startswith(("image/", "audio/", "video/")) or declared == "application/pdf":
        return "application/octet-stream"
    return declared or "application/octet-stream"


DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
SAMPLES = [
    ("PNG as image/png", PNG, "image/png"),
    ("PDF as octet-stream", PDF, "application/octet-stream"),
    ("HTML as image/png", HTML, "image/png"),
    ("HTML as text/plain", HTML, "text/plain"),
    ("EXE as application/msword", EXE, "application/msword"),
    ("EXE as text/plain", EXE, "text/plain"),
    ("EXE undeclared", EXE, ""),
    ("Word 97 as msword", OLE, "application/msword"),
    ("DOCX as its type", _docx(), DOCX),
    ("DOCX as application/zip", _docx(), "application/zip"),
    ("JPEG as image/png", _HEADS[5], "image/png"),
    ("GIF as image/gif", _HEADS[3], "image/gif"),
    ("MZ head as image/png", _HEADS[2], "image/png"),
    ("ELF as application/pdf", b"\x7fELF\x02\x01\x01" + b"\x00" * 60, "application/pdf"),
    ("text as text/plain", b"Call number: 025.04 ISO\n", "text/plain"),
    ("M4A as audio/mp4", b"\x00\x00\x00\x20ftypM4A " + b"\x00" * 60, "audio/mp4"),
    ("HEIC as image/heic", b"\x00\x00\x00\x18ftypheic" + b"\x00" * 60, "image/heic"),
    ("SVG as image/png", b'<svg xmlns="http://www.w3.org/2000/svg"><script/></svg>',
     "image/png"),
]


def main() -> None:
    print(f"{'sample':28} {'old table':26} {'puremagic keeps':26} agrees  bytes are")
    for label, data, declared in SAMPLES:
        head = data[:SNIFF_BYTES]
        reading = read_type(head, declared)
        print(f"{label:28} {old_sniff(head[:64], declared)[:26]:26} {reading.mime[:26]:26} "
              f"{'yes' if reading.agrees else 'NO ':6} {reading.found[:70]}")
    head = (EXE * 20)[:SNIFF_BYTES]
    for name, call in (("old table, 64 B", lambda: old_sniff(head[:64], "application/msword")),
                       ("puremagic, 4 KB", lambda: read_type(head, "application/msword"))):
        rounds = 2000
        started = time.perf_counter()
        for _ in range(rounds):
            call()
        print(f"{name}: {(time.perf_counter() - started) / rounds * 1e6:.1f} µs a reading")


if __name__ == "__main__":
    main()
