"""Durable state behind ``routing.ports.Store``: SQLite by default (Redis for scale-out later)."""

from bridge.store.sqlite import SqliteStore

__all__ = ["SqliteStore"]
