"""The contributions database: one SQLite file under ``Settings.state_dir``, in WAL mode.

Accounts, sessions, API tokens, submissions and their history share it, so that a change and
the history row that records it commit in one transaction: a ``kill -9`` at any moment leaves
either both or neither (SQLite's journal, with ``synchronous=FULL``).

The rate limits (logins, submissions) keep their hits here too (`RateStorage`, a storage for the
`limits` library's moving window): a restart forgets none of them, and every server process
sharing the state folder counts the same hits.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

from limits.storage import MovingWindowSupport, Storage

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
CREATE TABLE IF NOT EXISTS rate_hits (
    key TEXT NOT NULL,          -- the limit and who it counts (limits' key: "LIMITER/submit/NAME/30/1/hour")
    at REAL NOT NULL            -- when (seconds since the epoch)
);
CREATE INDEX IF NOT EXISTS rate_hits_by_key ON rate_hits (key, at);
CREATE TABLE IF NOT EXISTS rate_counters (
    key TEXT PRIMARY KEY,
    count INTEGER NOT NULL,
    expires REAL NOT NULL
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


class RateStorage(Storage, MovingWindowSupport):
    """A `limits` storage in the contributions database: hits survive a restart and are shared by processes.

    Made for `limits.strategies.MovingWindowRateLimiter` (each hit is a row; a window counts the
    rows younger than it); the fixed-window counters are kept too, so any strategy works.
    ``RateStorage(state_dir=...)``, or ``limits.storage.storage_from_string("icgraph+sqlite:///STATE_DIR")``.
    """

    STORAGE_SCHEME = ["icgraph+sqlite"]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, state_dir: Path | str | None = None, **options):
        if state_dir is None:
            if not uri or not uri.startswith("icgraph+sqlite://"):
                raise ValueError("give state_dir, or a URI icgraph+sqlite:///STATE_DIR")
            state_dir = uri.removeprefix("icgraph+sqlite://")
        self.state_dir = Path(state_dir)
        super().__init__(uri, wrap_exceptions, **options)

    @property
    def base_exceptions(self) -> type[Exception]:
        return sqlite3.Error

    # -- the moving window ----------------------------------------------------------------

    def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        if amount > limit:
            return False
        now = time.time()
        with connect(self.state_dir) as db:  # one transaction: two processes cannot both take the last place
            db.execute("DELETE FROM rate_hits WHERE key = ? AND at <= ?", (key, now - expiry))
            (taken,) = db.execute("SELECT COUNT(*) FROM rate_hits WHERE key = ?", (key,)).fetchone()
            if taken + amount > limit:
                return False
            db.executemany("INSERT INTO rate_hits VALUES (?, ?)", [(key, now)] * amount)
        return True

    def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        now = time.time()
        with connect(self.state_dir) as db:
            oldest, taken = db.execute("SELECT MIN(at), COUNT(*) FROM rate_hits WHERE key = ? AND at > ?", (key, now - expiry)).fetchone()
        return (oldest if oldest is not None else now), taken

    # -- fixed-window counters (limits' other strategies) ----------------------------------

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = time.time()
        with connect(self.state_dir) as db:
            db.execute("DELETE FROM rate_counters WHERE key = ? AND expires <= ?", (key, now))
            db.execute("INSERT INTO rate_counters VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE SET count = count + excluded.count",
                       (key, amount, now + expiry))
            return db.execute("SELECT count FROM rate_counters WHERE key = ?", (key,)).fetchone()[0]

    def get(self, key: str) -> int:
        with connect(self.state_dir) as db:
            row = db.execute("SELECT count FROM rate_counters WHERE key = ? AND expires > ?", (key, time.time())).fetchone()
        return row[0] if row else 0

    def get_expiry(self, key: str) -> float:
        with connect(self.state_dir) as db:
            row = db.execute("SELECT expires FROM rate_counters WHERE key = ?", (key,)).fetchone()
        return row[0] if row else time.time()

    def check(self) -> bool:
        with connect(self.state_dir) as db:
            db.execute("SELECT 1").fetchone()
        return True

    def reset(self) -> int | None:
        with connect(self.state_dir) as db:
            removed = db.execute("DELETE FROM rate_hits").rowcount + db.execute("DELETE FROM rate_counters").rowcount
        return removed

    def clear(self, key: str) -> None:
        with connect(self.state_dir) as db:
            db.execute("DELETE FROM rate_hits WHERE key = ?", (key,))
            db.execute("DELETE FROM rate_counters WHERE key = ?", (key,))
