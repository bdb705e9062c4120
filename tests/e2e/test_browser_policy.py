"""The browser tests' policy when Chromium is missing: they fail unless skipped on purpose.

Each check runs one real browser test in a child pytest whose ``PUSTAKA_CHROMIUM`` points
at a binary that is not there, as on a CI machine without Debian's Chromium.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BROWSER_TEST = ("tests/e2e/test_widget_browser.py::"
                "test_question_reaches_the_desk_and_the_answer_comes_back")


def _run_without_chromium(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    child_env = {k: v for k, v in os.environ.items() if k != "PUSTAKA_SKIP_BROWSER"}
    child_env |= {"PUSTAKA_CHROMIUM": str(tmp_path / "no-chromium"), **env}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rfEs", "-p", "no:cacheprovider",
         BROWSER_TEST], cwd=ROOT, env=child_env, capture_output=True, text=True,
        timeout=150, check=False)


def test_a_missing_chromium_fails_the_browser_tests_and_says_why(tmp_path: Path) -> None:
    """Without Chromium and without PUSTAKA_SKIP_BROWSER, a browser test fails, naming the
    missing binary and the way to skip on purpose, instead of skipping silently."""
    run = _run_without_chromium(tmp_path)
    assert run.returncode != 0, run.stdout
    assert "1 error" in run.stdout and "skipped" not in run.stdout, run.stdout
    assert f"needs Debian's Chromium at {tmp_path / 'no-chromium'}" in run.stdout
    assert "PUSTAKA_SKIP_BROWSER=1" in run.stdout


def test_pustaka_skip_browser_skips_them_on_request(tmp_path: Path) -> None:
    """With PUSTAKA_SKIP_BROWSER=1 the same browser test is skipped, and says it was asked."""
    run = _run_without_chromium(tmp_path, PUSTAKA_SKIP_BROWSER="1")
    assert run.returncode == 0, run.stdout
    assert "1 skipped" in run.stdout, run.stdout
    assert "PUSTAKA_SKIP_BROWSER=1: browser tests skipped on request" in run.stdout
