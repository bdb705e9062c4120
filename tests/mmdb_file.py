"""A minimal MaxMind DB (GeoLite2-City shaped) written by the test itself.

Follows the MaxMind DB format spec (maxmind.github.io/MaxMind-DB): an IPv4 binary
search tree of 24-bit records, a 16-byte separator, the data section, then the
metadata marker and map. Enough for a reader to find a city for a few networks; no
writer package needed.
"""

from __future__ import annotations

import ipaddress
import time
from pathlib import Path
from typing import Any

__all__ = ["write_city_db"]

_MAP, _STRING, _UINT16, _UINT32, _UINT64, _ARRAY = 7, 2, 5, 6, 9, 11


def write_city_db(path: Path, networks: dict[str, dict[str, Any]]) -> Path:
    """Write ``{"203.0.113.0/24": {"city": {"names": {"en": "Bandung"}}, ...}}``."""
    nodes: list[list[tuple[str, Any] | None]] = [[None, None]]
    for cidr, _record in networks.items():
        net = ipaddress.IPv4Network(cidr)
        bits, node = int(net.network_address), 0
        for depth in range(net.prefixlen):
            bit = (bits >> (31 - depth)) & 1
            if depth == net.prefixlen - 1:
                nodes[node][bit] = ("data", cidr)
                break
            here = nodes[node][bit]
            if here is None or here[0] != "node":
                nodes.append([None, None])
                nodes[node][bit] = ("node", len(nodes) - 1)
            node = nodes[node][bit][1]  # type: ignore[index]
    data, offsets = b"", {}
    for cidr, record in networks.items():
        offsets[cidr] = len(data)
        data += _encode(record)
    count = len(nodes)

    def value(entry: tuple[str, Any] | None) -> int:
        if entry is None:
            return count
        return entry[1] if entry[0] == "node" else count + 16 + offsets[entry[1]]

    tree = b"".join(value(left).to_bytes(3, "big") + value(right).to_bytes(3, "big")
                    for left, right in nodes)
    meta = _typed_map({
        "binary_format_major_version": (_UINT16, 2), "binary_format_minor_version": (_UINT16, 0),
        "build_epoch": (_UINT64, int(time.time())), "database_type": (_STRING, "GeoLite2-City"),
        "description": (_MAP, {"en": "test"}), "ip_version": (_UINT16, 4),
        "languages": (_ARRAY, ["en"]), "node_count": (_UINT32, count),
        "record_size": (_UINT16, 24)})
    path.write_bytes(tree + bytes(16) + data + b"\xab\xcd\xefMaxMind.com" + meta)
    return path


def _control(kind: int, size: int) -> bytes:
    if size < 29:
        head, extra = size, b""
    elif size < 285:
        head, extra = 29, bytes([size - 29])
    else:
        head, extra = 30, (size - 285).to_bytes(2, "big")
    if kind <= 7:
        return bytes([(kind << 5) | head]) + extra
    return bytes([head, kind - 7]) + extra


def _encode(value: Any, kind: int | None = None) -> bytes:
    if isinstance(value, dict):
        return _control(_MAP, len(value)) + b"".join(
            _encode(str(k)) + _encode(v) for k, v in value.items())
    if isinstance(value, list):
        return _control(_ARRAY, len(value)) + b"".join(_encode(v) for v in value)
    if isinstance(value, str):
        raw = value.encode()
        return _control(_STRING, len(raw)) + raw
    raw = int(value).to_bytes((int(value).bit_length() + 7) // 8, "big")
    return _control(kind or _UINT32, len(raw)) + raw


def _typed_map(items: dict[str, tuple[int, Any]]) -> bytes:
    return _control(_MAP, len(items)) + b"".join(
        _encode(k) + _encode(v, kind) for k, (kind, v) in items.items())
