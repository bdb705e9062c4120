"""The data directory, database, WAL, blobs and secret are private after a real start."""

from __future__ import annotations

import logging
import sqlite3
import stat
from pathlib import Path

import pytest

from bridge.demo import demo_bridge
from bridge.filemodes import private_secret


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def modes_in(folder: Path) -> dict[str, int]:
    return {p.name: mode(p) for p in folder.iterdir()}


async def start_and_stop(data: Path) -> None:
    bridge, emulator, _ = await demo_bridge("127.0.0.1", 0, data, rate_limits=False,
                                            desk_port=0)
    try:
        assert (data / "pustaka.db-wal").exists() and (data / "pustaka.db-shm").exists()
        modes = modes_in(data)
    finally:
        await bridge.stop()
        await emulator.stop()
    assert modes == {"pustaka.db": 0o600, "pustaka.db-wal": 0o600, "pustaka.db-shm": 0o600,
                     "secret": 0o600, "blobs": 0o700}
    assert mode(data) == 0o700


async def test_a_first_start_creates_every_file_private(tmp_path: Path) -> None:
    """A fresh data directory comes out 0700 with the database, WAL, shm and secret 0600."""
    await start_and_stop(tmp_path / "data")


async def test_an_old_install_is_tightened_and_the_change_logged(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Files an older version left world-readable are made private at start, and logged."""
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    data.chmod(0o755)
    sqlite3.connect(data / "pustaka.db").close()
    (data / "pustaka.db").chmod(0o644)
    (data / "secret").write_text("an-old-secret-kept-from-2025")
    (data / "secret").chmod(0o644)
    (data / "blobs").mkdir()
    (data / "blobs").chmod(0o755)
    with caplog.at_level(logging.WARNING, logger="bridge.filemodes"):
        await start_and_stop(data)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for name, was in (("", "755"), ("/pustaka.db", "644"), ("/secret", "644"),
                      ("/blobs", "755")):
        assert f"{data}{name} {was} -> " in logged, logged
    assert (data / "secret").read_text() == "an-old-secret-kept-from-2025"


def test_the_secret_is_written_once_and_kept(tmp_path: Path) -> None:
    """A generated secret is 0600 from creation, leaves no temporary file, and is reused."""
    path = tmp_path / "d" / "secret"
    value, made = private_secret(path)
    assert made and len(value) >= 40 and mode(path) == 0o600
    assert private_secret(path) == (value, False)
    assert sorted(p.name for p in path.parent.iterdir()) == ["secret"]
