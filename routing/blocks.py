"""Block rules: which keys a patron message is checked against, and what ``/block`` blocks.

Pure functions. A block hits only whom the librarian meant: ``/block`` blocks the
patron's own ways of reaching us (their widget visitor id, Telegram user, and an email
address they wrote from or proved), never an address a patron merely typed (anyone can
type anyone's) and never a network. An IP address (``ip``) or its range (``range``: a /24
for IPv4, a /64 for IPv6) is blocked only when the librarian asks, because one address
is often a whole library, school or mobile carrier. The store needs only exact matches
on ``(kind, value)``.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Iterable

from routing.model import BlockKind, Channel, Contact, Conversation, Inbound, Patron

__all__ = [
    "DURATION_HELP",
    "NETWORK_WORDS",
    "BadDuration",
    "block_targets",
    "inbound_keys",
    "ip_address",
    "ip_range",
    "parse_duration",
    "parsed_address",
    "shared_address",
]

DURATION_HELP = "1h, 12h, 1d, 7d, 30d, 2w or forever"
_DURATION = re.compile(r"^(\d{1,4})([mhdw])$")
_UNIT = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_FOREVER = ("forever", "permanent", "always")
_MAX_SECONDS = 3650 * 86400


class BadDuration(ValueError):
    pass


def parse_duration(text: str) -> float | None:
    """Seconds for "1h", "1d", "7d" ... ; None for "forever". Raises BadDuration."""
    word = text.strip().lower()
    if word in _FOREVER:
        return None
    match = _DURATION.match(word)
    if match is None or int(match.group(1)) == 0:
        raise BadDuration(f"{text!r} is not a duration; use {DURATION_HELP}")
    return float(min(int(match.group(1)) * _UNIT[match.group(2)], _MAX_SECONDS))


NETWORK_WORDS = {"ip": BlockKind.IP, "range": BlockKind.RANGE}  # /block 1d ip|range


@functools.lru_cache(maxsize=8192)
def parsed_address(ip: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address ``ip`` names ("::ffff:1.2.3.4" is 1.2.3.4), or None.

    Remembered: every patron message is checked, and parsing an address costs more
    than the rest of the check (a patron writes many messages from one address)."""
    try:
        address = ipaddress.ip_address(ip.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@functools.lru_cache(maxsize=8192)
def ip_address(ip: str) -> str:
    """The address as an ``ip`` block stores it ("::ffff:1.2.3.4" is "1.2.3.4"); ""
    when ``ip`` is not an address. Remembered: writing an address out costs as much
    as parsing it, and a new patron's first two messages both need it."""
    address = parsed_address(ip)
    return "" if address is None else str(address)


@functools.lru_cache(maxsize=8192)
def ip_range(ip: str) -> str:
    """The network a ``range`` block covers; "" when ``ip`` is not an address."""
    address = parsed_address(ip)
    if address is None:
        return ""
    prefix = 24 if address.version == 4 else 64
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


def _network_keys(ip: str, kinds: Iterable[BlockKind]) -> list[tuple[BlockKind, str]]:
    keys = []
    for kind in kinds:
        value = ip_address(ip) if kind is BlockKind.IP else ip_range(ip)
        if value:
            keys.append((kind, value))
    return keys


def _contact_key(contact: Contact) -> tuple[BlockKind, str] | None:
    if contact.channel is Channel.EMAIL:
        return (BlockKind.EMAIL, contact.address.lower())
    if contact.channel is Channel.TELEGRAM:
        return (BlockKind.TELEGRAM, contact.address)
    if contact.channel is Channel.WIDGET:
        return (BlockKind.VISITOR, contact.address)
    return None


def inbound_keys(inbound: Inbound, patron: Patron | None) -> list[tuple[BlockKind, str]]:
    """Everything a new message is checked against: its sender, every contact of the
    patron we know it as, and its IP address and range. A typed email address is not
    one of them: it proves nothing about who writes."""
    ip = inbound.page.ip if inbound.page is not None else ""
    return list(_keys(Contact(inbound.channel, inbound.address),
                      patron.contacts if patron is not None else (), ip))


@functools.lru_cache(maxsize=16384)
def _keys(
    sender: Contact, contacts: tuple[Contact, ...], ip: str
) -> tuple[tuple[BlockKind, str], ...]:
    """Remembered: every patron message is checked, a patron writes many from one
    address, and the keys depend on these three alone (never on the blocks, which the
    store is asked each time, so a block or an unblock counts from the next message)."""
    keys = [key for key in map(_contact_key, (sender, *contacts)) if key is not None]
    if ip:
        keys.extend(_network_keys(ip, (BlockKind.IP, BlockKind.RANGE)))
    return tuple(dict.fromkeys(keys))


def block_targets(
    patron: Patron, conversation: Conversation,
    networks: frozenset[BlockKind] = frozenset(),
) -> list[tuple[BlockKind, str]]:
    """What ``/block`` blocks for this conversation's patron: the ways they reached us
    (their contacts; an email address joins those only once it wrote to us or was
    proved), plus the conversation's IP address or range when ``networks`` asks."""
    keys = [key for key in map(_contact_key, patron.contacts) if key is not None]
    keys.extend(_network_keys(conversation.page.ip, sorted(networks)))
    return list(dict.fromkeys(keys))


def shared_address(
    conversations: Iterable[Conversation], *, at_least: int = 5
) -> tuple[str, int] | None:
    """(address, patrons) when every one of at least ``at_least`` widget patrons seems to
    write from one address: a proxy the bridge does not trust (``server.trusted_proxies``),
    so it sees the proxy instead of each patron, and an ``ip`` block would hit everyone."""
    seen: dict[str, str] = {}  # patron id -> the address of their latest conversation
    for conversation in conversations:
        if conversation.origin is Channel.WIDGET and conversation.page.ip:
            seen.setdefault(conversation.patron_id, ip_address(conversation.page.ip)
                            or conversation.page.ip)
    addresses = set(seen.values())
    if len(seen) >= at_least and len(addresses) == 1:
        return addresses.pop(), len(seen)
    return None
