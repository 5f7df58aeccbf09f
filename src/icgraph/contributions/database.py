"""The contributions database: one SQLite file under ``Settings.state_dir``, in WAL mode.

Accounts, sessions, API tokens, submissions and their history share it, so that a change and
the history row that records it commit in one transaction: a ``kill -9`` at any moment leaves
either both or neither (SQLite's journal, with ``synchronous=FULL``).
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

FILE_NAME = "contributions.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL CHECK (role IN ('contributor', 'reviewer', 'admin')),
    password_hash TEXT NOT NULL,
    created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    id_hash TEXT PRIMARY KEY,
    user TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
    csrf TEXT NOT NULL,
    expires REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS tokens (
    token_hash TEXT PRIMARY KEY,
    user TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
    label TEXT NOT NULL,
    created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS submissions (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('draft', 'submitted', 'changes requested', 'accepted', 'rejected')),
    practice TEXT NOT NULL,
    title TEXT NOT NULL,
    rdf TEXT NOT NULL,
    report TEXT NOT NULL,
    created TEXT NOT NULL,
    updated TEXT NOT NULL,
    release TEXT
);
CREATE TABLE IF NOT EXISTS history (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    submission TEXT NOT NULL REFERENCES submissions(id),
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    from_state TEXT,
    to_state TEXT NOT NULL,
    comment TEXT,
    changes TEXT
);
CREATE TABLE IF NOT EXISTS pending_accepts (
    submission TEXT PRIMARY KEY REFERENCES submissions(id),
    reviewer TEXT NOT NULL,
    started TEXT NOT NULL
);
"""


def path(state_dir: Path) -> Path:
    return Path(state_dir) / FILE_NAME


@contextlib.contextmanager
def connect(state_dir: Path) -> Iterator[sqlite3.Connection]:
    """A connection in WAL mode; the block is one transaction (committed on exit, rolled back on error)."""
    state_dir = Path(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path(state_dir), timeout=10.0, isolation_level=None)
    try:
        connection.row_factory = sqlite3.Row
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=FULL")
        connection.execute("PRAGMA foreign_keys=ON")
        connection.executescript(_SCHEMA)
        connection.execute("BEGIN IMMEDIATE")
        try:
            yield connection
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")
    finally:
        connection.close()
