"""One file of a widget upload, written to the blob store's spool a chunk at a time and
refused the moment it is too big, over the visitor's quota, or of a type its bytes
contradict or the library does not take (``Uploads`` reads the form around it)."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import BodyPartReader, hdrs

from adapters.blobs import BlobSpool, BlobStore
from adapters.files import SNIFF_BYTES, FilePolicy, human_size, read_type
from adapters.widget.quota import QuotaMeter
from adapters.widget.upload_parts import CHUNK, FileRefused, clean_name, metered
from routing.plain import storable

__all__ = ["SpooledFile", "spool_file"]


@dataclass(frozen=True, slots=True)
class SpooledFile:
    """A checked file waiting in the store's spool for its form to be accepted."""

    name: str
    mime: str
    spool: BlobSpool


async def spool_file(blobs: BlobStore, policy: FilePolicy, part: BodyPartReader, index: int,
                     meter: QuotaMeter | None) -> SpooledFile:
    """Write one file to the spool, refusing it as soon as it is too big or of a
    refused type."""
    name = clean_name(part.filename) or "file"
    declared = part.headers.get(hdrs.CONTENT_TYPE, "")
    limit = policy.max_bytes
    spool = await blobs.spool()
    try:
        head, mime = bytearray(), ""
        while chunk := await part.read_chunk(
                max(CHUNK // 8, min(CHUNK, limit + 1 - spool.size))):
            if spool.size + len(chunk) > limit:
                raise FileRefused("file_too_big",
                                  f"“{name}” is larger than the {human_size(limit)} limit.",
                                  file=name, index=index, status=413)
            if meter is not None:
                metered(meter, len(chunk), name, index)
            if not mime:
                head += chunk
                if len(head) >= SNIFF_BYTES:
                    mime = _checked_type(policy, name, index, head, declared)
            await spool.write(chunk)
        if not spool.size:
            raise FileRefused("empty_file", f"“{name}” is empty.", file=name, index=index)
        mime = mime or _checked_type(policy, name, index, head, declared)
    except BaseException:
        spool.discard()
        raise
    return SpooledFile(name, mime, spool)

def _checked_type(policy: FilePolicy, name: str, index: int, head: bytearray,
                  declared: str) -> str:
    """The file's type: the declared one must agree with the bytes (a program
    declared as a Word document is refused, saying what it is), and be allowed."""
    reading = read_type(bytes(head[:SNIFF_BYTES]), declared)
    if not reading.agrees:
        what = reading.found or "not a type of file the library recognises"
        declared = storable(declared.split(";", 1)[0].strip()[:100])
        raise FileRefused("file_type", f"“{name}” is sent as {declared}, but its bytes "
                          f"are {what}.", file=name, index=index, status=415)
    reason = policy.refusal(reading.mime, 0)
    if reason:
        raise FileRefused("file_type", f"“{name}”: {reason}.", file=name, index=index,
                          status=415)
    return reading.mime
