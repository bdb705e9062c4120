"""Where a request comes from: the one reading of a client's address, and the network a
per-address budget counts it under.

``X-Forwarded-For`` is a list each proxy appends the peer it saw to. Only the entries
our own proxies (``server.trusted_proxies``) appended are true; anything to their left
was written by whoever sent the request, so it may be anything. The client is therefore
the rightmost hop that is not one of our proxies. The leftmost entry, which a client
sets freely, is never believed. Every reader of a client address (the widget's
WebSocket and HTTP calls, the connection guard, ``/metrics``) asks ``client_ip``.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable

from routing.blocks import parsed_address

__all__ = ["TrustedProxies", "client_ip", "network_key"]

_MAX_ADDRESS = 64

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class TrustedProxies:
    """The proxies whose ``X-Forwarded-For`` we believe: addresses or networks
    ("10.0.5.0/24"); an entry that is neither is compared as written."""

    def __init__(self, entries: Iterable[str] = ()) -> None:
        self._names: set[str] = set()
        self._networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for entry in entries:
            self._names.add(entry.strip())
            try:
                self._networks.append(ipaddress.ip_network(entry.strip(), strict=False))
            except ValueError:
                pass

    def __bool__(self) -> bool:
        return bool(self._names)

    def __contains__(self, hop: object) -> bool:
        if not isinstance(hop, str) or not self._names:
            return False
        if hop.strip() in self._names:
            return True
        address = parsed_address(hop)
        return address is not None and any(address in net for net in self._networks)


def client_ip(remote: str | None, forwarded: str | None, proxies: TrustedProxies) -> str:
    """The client's address: the peer, or, when the peer is a trusted proxy, the
    rightmost ``X-Forwarded-For`` hop that is not a trusted proxy (the leftmost hop when
    every one is). Addresses come back normalized; a hop that is no address comes back
    as written, cut to 64 characters."""
    hop = (remote or "").strip()
    if forwarded and hop in proxies:
        hops = [h.strip() for h in forwarded.split(",") if h.strip()]
        while hops and hop in proxies:
            hop = hops.pop()
    address = parsed_address(hop)
    return str(address) if address is not None else hop[:_MAX_ADDRESS]


@functools.lru_cache(maxsize=8192)
def network_key(ip: str) -> str:
    """What a per-address budget counts a client under: its IPv4 address (/32), or its
    IPv6 /64, which one subscriber usually holds whole (counting single IPv6 addresses
    would give one machine 2**64 budgets). Text that is no address is its own key."""
    address = parsed_address(ip)
    if address is None:
        return ip[:_MAX_ADDRESS]
    if address.version == 4:
        return str(address)
    return str(ipaddress.ip_network(f"{address}/64", strict=False))
