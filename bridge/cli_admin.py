"""``pustaka user …`` (staff accounts of the dashboard) and ``pustaka patron …`` (a
patron's request: export, erase). ``bridge.cli`` registers them with two lines."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
import time
from pathlib import Path
from typing import Any

from telegram.error import TelegramError

from bridge.admin.passwords import password_problem
from bridge.admin.patron_requests import erase_patron, export_zip, find_patron
from bridge.admin.staff import (
    add_staff,
    disable_staff,
    link_staff,
    set_staff_password,
    telegram_user_id,
)
from bridge.config import ConfigError, load_config
from bridge.store.sqlite import SqliteStore

__all__ = ["COMMANDS", "register", "run"]

COMMANDS = ("user", "patron")


def register(sub: Any) -> None:
    """Adds ``user`` and ``patron`` to the ``pustaka`` command's subparsers."""
    common = argparse.ArgumentParser(add_help=False)  # --config after the verb, as elsewhere
    common.add_argument("--config", type=Path, default=None,
                        help="the bridge's pustaka.toml (default: ./pustaka.toml, or none "
                             "with --data-dir)")
    common.add_argument("--data-dir", type=Path, default=None,
                        help="work on this data directory instead of the config's "
                             "[storage] data_dir, e.g. pustaka demo's pustaka-demo-data")
    user = sub.add_parser("user", help="staff accounts of the dashboard (/admin)")
    verbs = user.add_subparsers(dest="verb", required=True)
    add = verbs.add_parser("add", parents=[common], help="a new account; asks its password")
    add.add_argument("name")
    add.add_argument("--role", choices=("admin", "librarian"), required=True)
    add.add_argument("--telegram-id", type=_telegram_id, default=None,
                     help="the librarian's Telegram user id, so reports name one person")
    add.add_argument("--password-stdin", action="store_true",
                     help="read the password from the first line of standard input")
    verbs.add_parser("list", parents=[common],
                     help="every account, its role and whether it is disabled")
    disable = verbs.add_parser("disable", parents=[common],
                               help="no more sign-ins; signed out everywhere now")
    disable.add_argument("name")
    link = verbs.add_parser("link", parents=[common],
                            help="link an account to a Telegram user, so reports name it")
    link.add_argument("name")
    to = link.add_mutually_exclusive_group(required=True)
    to.add_argument("--telegram-id", type=_telegram_id, help="the librarian's Telegram user id")
    to.add_argument("--unlink", action="store_true", help="remove the account's link")
    passwd = verbs.add_parser("passwd", parents=[common], help="set an account's password")
    passwd.add_argument("name")
    passwd.add_argument("--password-stdin", action="store_true")
    patron = sub.add_parser("patron", help="a patron's request: export or erase their data")
    actions = patron.add_subparsers(dest="verb", required=True)
    export = actions.add_parser("export", parents=[common],
                                help="everything held about them, as a zip")
    export.add_argument("who", help="email address, Telegram user id or visitor id")
    export.add_argument("--out", type=Path, default=None, help="the zip (default patron-<id>.zip)")
    erase = actions.add_parser("erase", parents=[common],
                               help="delete them everywhere the bridge can")
    erase.add_argument("who")
    erase.add_argument("--yes", action="store_true", help="do not ask for confirmation")


def _telegram_id(text: str) -> int:
    """A Telegram user id as the dashboard's form takes it (a positive whole number)."""
    try:
        found = telegram_user_id(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if found is None:
        raise argparse.ArgumentTypeError("a Telegram user id is a positive whole number")
    return found


def _config(args: argparse.Namespace) -> Any:
    """The config file (none when only --data-dir is given), with --data-dir over it."""
    path = args.config
    if path is None and args.data_dir is None:
        path = Path("pustaka.toml")
    if args.data_dir is None:
        return load_config(path)
    if not args.data_dir.is_dir():
        raise ConfigError(f"--data-dir {args.data_dir} is not a directory")
    if not (args.data_dir / "pustaka.db").is_file():  # a typo must not make a new store
        raise ConfigError(f"--data-dir {args.data_dir} holds no pustaka.db: is it the data "
                          "folder the bridge (or `pustaka demo`) uses? Start it once first.")
    return load_config(path, storage={"data_dir": str(args.data_dir)})


def run(args: argparse.Namespace) -> int:
    config = _config(args)
    if args.command == "patron" and args.verb == "erase" and not args.yes and input(
            f"Erase {args.who} everywhere the bridge can? Type 'erase': ") != "erase":
        print("pustaka: nothing erased", file=sys.stderr)
        return 1
    try:
        return asyncio.run(_run(args, config))
    except (ValueError, LookupError) as exc:
        print(f"pustaka: {str(exc).strip(chr(39))}", file=sys.stderr)
        return 1


async def _run(args: argparse.Namespace, config: Any) -> int:
    store = SqliteStore(config.data_dir / "pustaka.db")
    await store.open()
    try:
        if args.command == "user":
            return await _user(args, store)
        return await _patron(args, config, store)
    finally:
        await store.close()


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    if not sys.stdin.isatty():
        raise ValueError("no terminal to ask the password on: use --password-stdin")
    first = getpass.getpass("Password: ")
    if problem := password_problem(first):
        raise ValueError(problem)
    if getpass.getpass("Again: ") != first:
        raise ValueError("the two passwords differ; nothing was changed")
    return first


async def _user(args: argparse.Namespace, store: SqliteStore) -> int:
    if args.verb == "list":
        for a in await store.accounts():
            linked = f" telegram:{a.telegram_id}" if a.telegram_id else ""
            print(f"{a.name}\t{a.role}\t{'disabled' if a.disabled else 'active'}{linked}")
        return 0
    if args.verb == "add":
        account = await add_staff(store, args.name, args.role,
                                  _password(args.password_stdin), telegram_id=args.telegram_id)
        print(f"pustaka: added {account.role} {account.name!r}; sign in at /admin")
    elif args.verb == "link":
        await link_staff(store, args.name, None if args.unlink else args.telegram_id)
        print(f"pustaka: {'unlinked' if args.unlink else 'linked'} {args.name!r}"
              + ("" if args.unlink else f" to Telegram user {args.telegram_id}"))
    elif args.verb == "disable":
        await disable_staff(store, args.name)
        print(f"pustaka: disabled {args.name!r} and ended its sessions")
    else:
        await set_staff_password(store, args.name, _password(args.password_stdin))
        print(f"pustaka: changed the password of {args.name!r}")
    linked = f" to telegram {args.telegram_id}" if args.verb == "link" and not args.unlink \
        else ""
    await store.record_audit_cli(f"user {args.verb}", args.name + linked)
    return 0


async def _patron(args: argparse.Namespace, config: Any, store: SqliteStore) -> int:
    patron_id = await find_patron(store, args.who)
    if args.verb == "export":
        out = args.out or Path(f"patron-{patron_id}.zip")
        out.write_bytes(await export_zip(store, _blobs(config), patron_id))
        out.chmod(0o600)  # a patron's data: only whoever ran the export reads it
        await store.record_audit_cli("patron exported", f"patron {patron_id}")
        print(f"pustaka: wrote {out}")
        return 0
    bot = await _bot(config)
    try:
        erased = await erase_patron(store, _blobs(config), bot, config.telegram.group_id,
                                    patron_id, by=f"cli:{getpass.getuser()}", now=time.time())
    finally:
        if bot is not None:
            await bot.shutdown()
    await store.record_audit_cli("patron erased", ", ".join(
        f"{k} {n}" for k, n in sorted(erased.counts.items())))
    print("pustaka: erased " + (", ".join(f"{k} {n}" for k, n in sorted(
        erased.counts.items())) or "nothing"))
    return 0


def _blobs(config: Any) -> Any:
    from adapters.blobs import BlobStore
    return BlobStore(config.data_dir / "blobs")


async def _bot(config: Any) -> Any:
    """The bot, to delete what it posted; None (and a warning) without a token."""
    if not config.telegram_token:
        print("pustaka: PUSTAKA_TELEGRAM_TOKEN is not set: the desk's Telegram topics stay; "
              "delete them by hand", file=sys.stderr)
        return None
    from bridge.channels import make_bot
    bot = make_bot(config)
    try:
        await bot.initialize()
    except TelegramError as exc:
        print(f"pustaka: Telegram refused the bot ({exc}); its topics stay", file=sys.stderr)
        return None
    return bot
