"""Debian's Chromium for the tests that drive a real browser: found, or a clear failure.

A machine without Chromium must not turn the browser tests green by skipping them, so a
missing browser fails them; only ``PUSTAKA_SKIP_BROWSER=1``, set on purpose, skips them.
``PUSTAKA_CHROMIUM`` names another binary (the policy's own test uses it to fake a
machine without one).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

__all__ = ["CHROMIUM", "SKIP_BROWSER", "require_chromium"]

SKIP_BROWSER = "PUSTAKA_SKIP_BROWSER"
CHROMIUM = Path(os.environ.get("PUSTAKA_CHROMIUM", "/usr/bin/chromium"))
_HAVE_CHROMIUM = CHROMIUM.is_file()  # looked up once, outside any event loop


def require_chromium() -> Path:
    """Chromium's path; skips when ``PUSTAKA_SKIP_BROWSER=1``, fails when it is missing."""
    if os.environ.get(SKIP_BROWSER) == "1":
        pytest.skip(f"{SKIP_BROWSER}=1: browser tests skipped on request")
    if not _HAVE_CHROMIUM:
        pytest.fail(f"this test needs Debian's Chromium at {CHROMIUM}, which is missing: "
                    "install it (apt-get install chromium, or bash tests/run.sh), or set "
                    f"{SKIP_BROWSER}=1 to skip the browser tests on purpose", pytrace=False)
    return CHROMIUM
