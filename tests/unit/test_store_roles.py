"""Adapters change state only through the router or a port made for it: none writes a
link, a patron, a librarian or a conversation itself, and none keeps a conversation's or a message's
state under a key of the key-value table."""

from __future__ import annotations

import re
from pathlib import Path

ADAPTERS = Path(__file__).resolve().parents[2] / "adapters"
CORE = ADAPTERS.parent / "routing"
_DIRECT = re.compile(
    r"store\.(save_link|save_patron|save_librarian|save_conversation|append|save_block"
    r"|remove_block)\(")
# Key prefixes the key-value table held for a conversation, a message or a contact before
# migration 0007 (a quoted prefix ending in "." or ":").
_OWNED_KEYS = re.compile(
    r"\"(telegram\.desk\.card|email\.thread|email\.ack|tg\.posts|telegram\.patron"
    r"|widget-visitor-generation|email-proof)[.a-z_]*[.:][\"{]")


def _sources() -> list[Path]:
    return [p for p in ADAPTERS.rglob("*.py") if "emulator" not in p.parts]


def test_no_adapter_writes_records_itself() -> None:
    """No adapter module writes a link, a patron, a librarian, a conversation, a
    message or a block on the store itself."""
    found = [f"{p.relative_to(ADAPTERS)}:{n}" for p in _sources()
             for n, line in enumerate(p.read_text().splitlines(), 1) if _DIRECT.search(line)]
    assert found == []


def test_no_owned_state_is_kept_as_a_key() -> None:
    """State of a conversation or message (DeskState) or of a contact (ContactStates) is
    kept in no key of the key-value table, by an adapter or by the core."""
    found = [str(p.relative_to(ADAPTERS.parent)) for p in [*_sources(), *CORE.rglob("*.py")]
             if _OWNED_KEYS.search(p.read_text())]
    assert found == []
