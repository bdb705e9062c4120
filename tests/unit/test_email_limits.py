"""Size limits: a 50 MB mail is parsed in bounded memory and its big file refused."""

from __future__ import annotations

import base64
import os
import tracemalloc

from adapters.email.parse import parse_email

MB = 1024 * 1024


def big_mail(attachment_bytes: int) -> bytes:
    data = base64.encodebytes(os.urandom(attachment_bytes))
    return (
        b"From: Ani <ani@example.com>\r\nTo: help@library.example\r\n"
        b"Subject: scans\r\nMessage-ID: <big@example.com>\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThe scans are attached.\r\n"
        b'--b\r\nContent-Type: application/pdf; name="scans.pdf"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\n" + data.replace(b"\n", b"\r\n")
        + b"--b--\r\n"
    )


class TestLimits:
    def test_fifty_megabytes_refused_with_a_note(self) -> None:
        """A 50 MB mail: text kept, its 37 MB file refused by size, memory near the mail's."""
        raw = big_mail(37 * MB)
        assert len(raw) > 50 * MB
        tracemalloc.start()
        try:
            mail = parse_email(raw, max_attachment_bytes=20 * MB)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        (scans,) = mail.attachments
        assert mail.text == "The scans are attached."
        assert (scans.filename, scans.data) == ("scans.pdf", None)
        assert abs(scans.size - 37 * MB) < 4
        assert scans.refused_reason == f"larger than the limit of {20 * MB} bytes"
        print(f"peak {peak / MB:.1f} MB of Python memory for a {len(raw) / MB:.1f} MB mail")
        assert peak < len(raw)  # never a decoded or re-joined copy of the whole mail

    def test_big_attachment_within_the_limit(self) -> None:
        """A 3 MB file under the limit arrives whole and exact."""
        raw = big_mail(3 * MB)
        mail = parse_email(raw, max_attachment_bytes=20 * MB)
        (scans,) = mail.attachments
        assert scans.data is not None and scans.size == 3 * MB
        start = raw.index(b"base64\r\n\r\n") + 10
        assert scans.data == base64.b64decode(raw[start : raw.rindex(b"--b--")])
