"""``pustaka user …`` and ``pustaka patron …`` run as a librarian's admin runs them, in a
subprocess, against a data directory on disk."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from bridge.store.sqlite import SqliteStore
from routing.model import Channel, Inbound
from routing.ports import SystemClock
from routing.router import Router

ROOT = Path(__file__).resolve().parents[2]


def pustaka(config: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PUSTAKA_")}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run([sys.executable, "-m", "bridge.cli", *args, "--config", str(config)],
                          input=stdin, capture_output=True, text=True, env=env, timeout=120,
                          check=False)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "pustaka.toml"
    path.write_text(f'[storage]\ndata_dir = "{tmp_path / "data"}"\n')
    (tmp_path / "data").mkdir()
    return path


def _accounts(config: Path) -> list[str]:
    return pustaka(config, "user", "list").stdout.splitlines()


def test_user_add_list_passwd_disable(config: Path) -> None:
    """An account is added with a hashed password, listed, re-passworded and disabled."""
    added = pustaka(config, "user", "add", "Dewi", "--role", "admin", "--password-stdin",
                    stdin="correct horse battery\n")
    assert added.returncode == 0, added.stderr
    assert _accounts(config) == ["Dewi\tadmin\tactive"]
    assert pustaka(config, "user", "passwd", "Dewi", "--password-stdin",
                   stdin="another long password\n").returncode == 0
    assert pustaka(config, "user", "link", "Dewi", "--telegram-id", "77").returncode == 0
    assert _accounts(config) == ["Dewi\tadmin\tactive telegram:77"]
    assert pustaka(config, "user", "link", "Dewi", "--unlink").returncode == 0
    assert pustaka(config, "user", "disable", "Dewi").returncode == 0
    assert _accounts(config) == ["Dewi\tadmin\tdisabled"]
    raw = (config.parent / "data" / "pustaka.db").read_bytes()
    assert b"correct horse" not in raw and b"$argon2id$" in raw


def test_a_short_password_or_a_second_account_of_one_name_is_refused(config: Path) -> None:
    """Bad input gets a clear sentence and a non-zero exit, and creates nothing."""
    short = pustaka(config, "user", "add", "Rina", "--role", "librarian", "--password-stdin",
                    stdin="short\n")
    assert short.returncode == 1 and "at least 10 characters" in short.stderr
    assert pustaka(config, "user", "add", "Rina", "--role", "librarian", "--password-stdin",
                   stdin="long enough password\n").returncode == 0
    again = pustaka(config, "user", "add", "rina", "--role", "admin", "--password-stdin",
                    stdin="long enough password\n")
    assert again.returncode == 1 and "exists already" in again.stderr


def test_patron_export_and_erase_from_the_command_line(config: Path, tmp_path: Path) -> None:
    """The export has the patron's message; after erase the store has none of it."""
    async def seed() -> None:
        store = SqliteStore(config.parent / "data" / "pustaka.db")
        await store.open()
        try:
            router = Router(store, SystemClock())
            await router.intake.accept(Inbound(Channel.EMAIL, "sari@example.org",
                                               "My card is lost", name="Sari"))
        finally:
            await store.close()
    asyncio.run(seed())
    out = tmp_path / "sari.zip"
    exported = pustaka(config, "patron", "export", "sari@example.org", "--out", str(out))
    assert exported.returncode == 0, exported.stderr
    data = json.loads(zipfile.ZipFile(out).read("patron.json"))
    assert data["tables"]["messages"][0]["text"] == "My card is lost"
    erased = pustaka(config, "patron", "erase", "sari@example.org", "--yes")
    assert erased.returncode == 0, erased.stderr
    assert "conversations 1" in erased.stdout
    assert b"My card is lost" not in (config.parent / "data" / "pustaka.db").read_bytes()
    again = pustaka(config, "patron", "export", "sari@example.org")
    assert again.returncode == 1 and "no patron is known" in again.stderr


def pustaka_in(cwd: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """``pustaka`` run from ``cwd`` with no --config: what a demo's user types."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PUSTAKA_")}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run([sys.executable, "-m", "bridge.cli", *args], cwd=cwd, input=stdin,
                          capture_output=True, text=True, env=env, timeout=120, check=False)


def test_data_dir_works_without_a_config_file(tmp_path: Path) -> None:
    """--data-dir points user and patron at a data directory (the demo's) with no
    pustaka.toml: the account lands in that directory's database, the patron is found."""
    data = tmp_path / "pustaka-demo-data"
    data.mkdir()

    async def seed() -> None:
        store = SqliteStore(data / "pustaka.db")
        await store.open()
        try:
            await Router(store, SystemClock()).intake.accept(
                Inbound(Channel.EMAIL, "sari@example.org", "Where is my hold?", name="Sari"))
        finally:
            await store.close()
    asyncio.run(seed())
    added = pustaka_in(tmp_path, "user", "add", "Dewi", "--role", "librarian",
                       "--telegram-id", "4242", "--password-stdin", "--data-dir", str(data),
                       stdin="correct horse battery\n")
    assert added.returncode == 0, added.stderr
    listed = pustaka_in(tmp_path, "user", "list", "--data-dir", str(data))
    assert listed.stdout.splitlines() == ["Dewi\tlibrarian\tactive telegram:4242"]
    assert not (tmp_path / "data").exists()  # not the default [storage] data_dir
    out = tmp_path / "sari.zip"
    exported = pustaka_in(tmp_path, "patron", "export", "sari@example.org", "--out", str(out),
                          "--data-dir", str(data))
    assert exported.returncode == 0, exported.stderr
    assert b"Where is my hold?" in zipfile.ZipFile(out).read("patron.json")
    missing = pustaka_in(tmp_path, "user", "list", "--data-dir", str(tmp_path / "nowhere"))
    assert missing.returncode == 2 and "is not a directory" in missing.stderr
    without = pustaka_in(tmp_path, "user", "list")
    assert without.returncode == 2 and "pustaka.toml does not exist" in without.stderr
    empty = tmp_path / "typo"
    empty.mkdir()
    wrong = pustaka_in(tmp_path, "user", "add", "Eve", "--role", "admin", "--password-stdin",
                       "--data-dir", str(empty), stdin="correct horse battery\n")
    assert wrong.returncode == 2 and "holds no pustaka.db" in wrong.stderr
    assert not (empty / "pustaka.db").exists()  # a typo makes no new, unused store
    for bad in ("-5", "0", "99999999999999999999999", "12a"):
        refused = pustaka_in(tmp_path, "user", "link", "Dewi", "--telegram-id", bad,
                             "--data-dir", str(data))
        assert refused.returncode == 2 and "Telegram user id" in refused.stderr, bad
