"""The Telegram Bot API emulator: its own package, apart from the Telegram adapter.

The real python-telegram-bot talks to it in ``pustaka demo`` and in tests through its
``base_url``; README.md in this folder says which Bot API behaviours it reproduces.
Callers import what they need from here, not from the modules inside::

    from adapters.telegram.emulator import BotApiEmulator, FaultPlan
"""

from adapters.telegram.emulator.faults import FAULT_KINDS, FaultKind, FaultPlan
from adapters.telegram.emulator.server import BotApiEmulator

__all__ = ["FAULT_KINDS", "BotApiEmulator", "FaultKind", "FaultPlan"]
