"""The `pustaka` command: run, demo, check, init."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from importlib import resources
from pathlib import Path

from telegram.error import TelegramError

from bridge import cli_admin, logs, redact
from bridge.app import Bridge, serve_until_signalled
from bridge.channels import make_bot
from bridge.check import check_addresses, check_desk, recent_conversations
from bridge.config import Config, ConfigError, load_config
from bridge.demo import run_demo

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # Before any library logs a URL holding the bot token; again once [log] is read.
    logs.configure(args.log_format or "console", verbose=args.verbose)
    try:
        if args.command == "init":
            return _init(args.path)
        if args.command in cli_admin.COMMANDS:
            return cli_admin.run(args)
        if args.command in ("demo", "run"):
            os.umask(0o077)  # whatever the service writes (records, files, logs) is its own
        if args.command == "demo":
            return asyncio.run(run_demo(args.host, args.port, args.data_dir, args.config))
        config = load_config(args.config)
        if args.log_format is None and config.log.format != "console":
            logs.configure(config.log.format, verbose=args.verbose)
        redact.redact_secrets(config.telegram_token, config.secret, config.directory_token,
                              config.imap_password, config.smtp_password)
        if args.command == "check":
            return asyncio.run(_check(config))
        return asyncio.run(_serve(Bridge(config)))
    except ConfigError as exc:
        print(f"pustaka: configuration error: {exc}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pustaka", description="Pustaka Bridge: library chat")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debugging detail")
    parser.add_argument("--log-format", choices=logs.FORMATS, default=None,
                        help="console: key-value lines (default); json: one object a line "
                             "(overrides [log] format)")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the bridge against the real Telegram")
    run.add_argument("--config", type=Path, default=Path("pustaka.toml"))
    demo = sub.add_parser("demo", help="everything local: sample library page + desk simulator")
    demo.add_argument("--port", type=int, default=8080, help="library page port (desk: +1)")
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--data-dir", type=Path, default=Path("pustaka-demo-data"))
    demo.add_argument("--config", type=Path, default=None,
                      help="try this pustaka.toml's colours, texts, hours and directory "
                           "(the desk stays the demo's own)")
    check = sub.add_parser("check", help="check the bot token, the group and the bot's rights")
    check.add_argument("--config", type=Path, default=Path("pustaka.toml"))
    init = sub.add_parser("init", help="write an example pustaka.toml to edit")
    init.add_argument("path", type=Path, nargs="?", default=Path("pustaka.toml"))
    cli_admin.register(sub)  # user …, patron …
    return parser


async def _serve(bridge: Bridge) -> int:
    try:
        url = await bridge.start()
    except TelegramError as exc:
        print(f"pustaka: Telegram refused to start the desk ({exc}); run `pustaka check` "
              "for what to fix.", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"pustaka: could not listen on {bridge.config.server.host}:"
              f"{bridge.config.server.port} ({exc.strerror}).", file=sys.stderr)
        return 1
    print(f"pustaka: serving patrons at {url} — embed: <script src=\"{url}/widget.js\" async>"
          "</script>", flush=True)
    await serve_until_signalled(bridge)
    return 0


async def _check(config: Config) -> int:
    if not config.telegram_token:
        print("✗ PUSTAKA_TELEGRAM_TOKEN is not set (the bot token from @BotFather).")
        return 1
    findings = await check_desk(make_bot(config), config.telegram.group_id)
    findings += check_addresses(config.public_url, config.server.trusted_proxies,
                                await recent_conversations(config.data_dir / "pustaka.db"))
    for finding in findings:
        print(("✓ " if finding.ok else "✗ ") + finding.sentence)
    return 0 if all(f.ok for f in findings) else 1


def _init(path: Path) -> int:
    if path.exists():
        print(f"pustaka: {path} exists; not overwriting it.", file=sys.stderr)
        return 1
    example = resources.files("bridge").joinpath("pustaka.example.toml").read_text()
    path.write_text(example)
    print(f"pustaka: wrote {path}; set telegram.group_id and the PUSTAKA_TELEGRAM_TOKEN "
          "environment variable, then run `pustaka check`.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
