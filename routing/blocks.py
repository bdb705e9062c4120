"""Block rules: which keys a patron message is checked against, and how long a block lasts.

Pure functions. An IP is blocked by its range (a /24 for IPv4, a /64 for IPv6), because
one household or one phone moves within its range from hour to hour; the store then
needs only exact matches on ``(kind, value)``.
"""

from __future__ import annotations

import functools
import ipaddress
import re

from routing.model import BlockKind, Channel, Contact, Conversation, Inbound, Patron

__all__ = [
    "DURATION_HELP",
    "BadDuration",
    "block_targets",
    "inbound_keys",
    "ip_range",
    "parse_duration",
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


@functools.lru_cache(maxsize=8192)
def ip_range(ip: str) -> str:
    """The network an address is blocked by; "" when ``ip`` is not an address.

    Remembered: every patron message is checked, and parsing an address costs more than
    the rest of the check (a patron writes many messages from one address)."""
    try:
        address = ipaddress.ip_address(ip.strip())
    except ValueError:
        return ""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    prefix = 24 if address.version == 4 else 64
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


def _contact_key(contact: Contact) -> tuple[BlockKind, str] | None:
    if contact.channel is Channel.EMAIL:
        return (BlockKind.EMAIL, contact.address.lower())
    if contact.channel is Channel.TELEGRAM:
        return (BlockKind.TELEGRAM, contact.address)
    if contact.channel is Channel.WIDGET:
        return (BlockKind.VISITOR, contact.address)
    return None


def inbound_keys(inbound: Inbound, patron: Patron | None) -> list[tuple[BlockKind, str]]:
    """Everything a new message is checked against: its sender, its IP range, its email
    and, for a patron we know, every contact and the email on file."""
    keys: list[tuple[BlockKind, str]] = []
    contacts = [Contact(inbound.channel, inbound.address)]
    if patron is not None:
        contacts.extend(patron.contacts)
    for contact in contacts:
        key = _contact_key(contact)
        if key is not None:
            keys.append(key)
    for email in (inbound.email, patron.email if patron else ""):
        if email:
            keys.append((BlockKind.EMAIL, email.strip().lower()))
    network = ip_range(inbound.page.ip) if inbound.page is not None else ""
    if network:
        keys.append((BlockKind.IP, network))
    return list(dict.fromkeys(keys))


def block_targets(
    patron: Patron, conversation: Conversation, kinds: frozenset[BlockKind] | None = None
) -> list[tuple[BlockKind, str]]:
    """What ``/block`` blocks for this conversation's patron: every way they reached us
    (optionally only some kinds)."""
    keys: list[tuple[BlockKind, str]] = []
    for contact in patron.contacts:
        key = _contact_key(contact)
        if key is not None:
            keys.append(key)
    if patron.email:
        keys.append((BlockKind.EMAIL, patron.email.strip().lower()))
    network = ip_range(conversation.page.ip)
    if network:
        keys.append((BlockKind.IP, network))
    unique = list(dict.fromkeys(keys))
    return [k for k in unique if kinds is None or k[0] in kinds]
