"""Durable state behind the store's roles (``routing.store_roles``): SQLite by default.

``SqliteStore`` (sqlite.py) is one class of one mixin per role, each with its SQL in its
own module: ``sqlite_directory`` (patrons, librarians, blocks), ``sqlite_log``
(conversations, messages, reports), ``sqlite_outbox``, ``sqlite_links`` (links,
cursors), ``sqlite_desk`` (desk state), ``sqlite_contacts`` (contact state).
``sqlite_writer`` batches every write into one group commit. A PostgreSQL store
implements the same roles and passes the same contract suites.
"""

from bridge.store.sqlite import SqliteStore

__all__ = ["SqliteStore"]
