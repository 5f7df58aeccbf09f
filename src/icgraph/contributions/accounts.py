"""Accounts and roles: who may submit (contributor), decide (reviewer) and manage accounts (admin).

Passwords are hashed with Argon2id (argon2-cffi). Browser sessions and API tokens are random
256-bit secrets handed out once; only their SHA-256 is stored (they are not guessable, so a
slow hash adds nothing), so a copy of the database does not let anyone in.

Rate limits (`limits`' moving window, their hits kept in the database, `RateStorage`): logins per
account and per client address (`login_wait`), submissions and edits per account
(`submission_wait`). Both survive a restart of the server.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import math
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from limits import RateLimitItem, parse as parse_rate
from limits.strategies import MovingWindowRateLimiter

from icgraph.contributions.database import RateStorage, connect

#: Roles, each allowed what the ones before it are: a reviewer also submits, an admin also reviews.
ROLES: tuple[str, ...] = ("contributor", "reviewer", "admin")
SESSION_SECONDS = 12 * 3600
MIN_PASSWORD = 10
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{1,63}$")
_hasher = PasswordHasher()


class AccountError(ValueError):
    """A user cannot be added or found; the message says what to do."""


@dataclass(frozen=True)
class User:
    name: str
    role: str

    def may(self, role: str) -> bool:
        """True when this user's role is ``role`` or above it."""
        return ROLES.index(self.role) >= ROLES.index(role)


@dataclass(frozen=True)
class Session:
    user: User
    csrf: str


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def add_user(state_dir: Path, name: str, role: str, password: str) -> User:
    if not _NAME.match(name):
        raise AccountError(f"user name {name!r}: use 2-64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit")
    if role not in ROLES:
        raise AccountError(f"role {role!r}: choose one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"the password is too short: use at least {MIN_PASSWORD} characters")
    hashed = _hasher.hash(password)
    with connect(state_dir) as db:
        if db.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone():
            raise AccountError(f"user {name!r} exists already; remove it first (`icgraph users remove {name}`)")
        db.execute("INSERT INTO users VALUES (?, ?, ?, ?)", (name, role, hashed, _now()))
    return User(name, role)


def remove_user(state_dir: Path, name: str) -> None:
    """Remove the account with its sessions and tokens (its submissions and their history stay)."""
    with connect(state_dir) as db:
        if db.execute("DELETE FROM users WHERE name = ?", (name,)).rowcount == 0:
            raise AccountError(f"no user {name!r} (`icgraph users list` shows them)")


def list_users(state_dir: Path) -> list[tuple[User, str]]:
    with connect(state_dir) as db:
        rows = db.execute("SELECT name, role, created FROM users ORDER BY name").fetchall()
    return [(User(r["name"], r["role"]), r["created"]) for r in rows]


def authenticate(state_dir: Path, name: str, password: str) -> User | None:
    """The user whose name and password these are, else None (the same answer for either mistake)."""
    with connect(state_dir) as db:
        row = db.execute("SELECT name, role, password_hash FROM users WHERE name = ?", (name,)).fetchone()
    if row is None:
        # Hash anyway, so the time taken does not tell whether the name exists.
        _hasher.hash(password)
        return None
    try:
        _hasher.verify(row["password_hash"], password)
    except (VerificationError, InvalidHashError):
        return None
    if _hasher.check_needs_rehash(row["password_hash"]):
        with connect(state_dir) as db:
            db.execute("UPDATE users SET password_hash = ? WHERE name = ?", (_hasher.hash(password), name))
    return User(row["name"], row["role"])


# --------------------------------------------------------------------------- rate limits


def _limiter(state_dir: Path) -> MovingWindowRateLimiter:
    return MovingWindowRateLimiter(RateStorage(state_dir=state_dir))


def _wait(limiter: MovingWindowRateLimiter, rate: RateLimitItem, *who: str) -> int:
    reset, _ = limiter.get_window_stats(rate, *who)
    return max(1, math.ceil(reset - time.time()))


def _window(rate: RateLimitItem) -> str:
    unit = rate.GRANULARITY.name
    return f"{rate.multiples} {unit}s" if rate.multiples != 1 else f"one {unit}"


def login_wait(state_dir: Path, account_rate: str, address_rate: str, name: str, address: str) -> tuple[int, str] | None:
    """Count a login attempt for the account ``name`` (at most ``account_rate``) and the client ``address`` (``address_rate``).

    None if it may go on; otherwise (seconds to wait, a sentence that says why), and the attempt
    is not counted. Every attempt counts, so guessing a password costs the same however it ends.
    """
    limiter = _limiter(state_dir)
    limits = (
        (parse_rate(account_rate), ("login", "account", name.casefold()), f"the account {name!r}"),
        (parse_rate(address_rate), ("login", "address", address), f"your address ({address})"),
    )
    for item, who, whom in limits:
        if not limiter.test(item, *who):
            wait = _wait(limiter, item, *who)
            return wait, f"Too many login attempts for {whom}: at most {item.amount} in {_window(item)}. Try again in {wait} s."
    for item, who, _ in limits:
        limiter.hit(item, *who)
    return None


def submission_wait(state_dir: Path, rate: str, name: str) -> tuple[int, str] | None:
    """Count one submission or edit of account ``name`` (at most ``rate``); as `login_wait`, None or (seconds, why)."""
    limiter, item = _limiter(state_dir), parse_rate(rate)
    if limiter.hit(item, "submit", name):
        return None
    wait = _wait(limiter, item, "submit", name)
    return wait, (f"{name} has sent {item.amount} submissions or edits in {_window(item)}; "
                  f"try again in {wait} s.")


# --------------------------------------------------------------------------- browser sessions


def open_session(state_dir: Path, user: User) -> tuple[str, str]:
    """A new session for ``user``: (the cookie's secret, the session's CSRF token)."""
    secret, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    with connect(state_dir) as db:
        db.execute("DELETE FROM sessions WHERE expires < ?", (time.time(),))
        db.execute("INSERT INTO sessions VALUES (?, ?, ?, ?)", (_digest(secret), user.name, csrf, time.time() + SESSION_SECONDS))
    return secret, csrf


def session(state_dir: Path, secret: str | None) -> Session | None:
    if not secret:
        return None
    with connect(state_dir) as db:
        row = db.execute(
            "SELECT users.name, users.role, sessions.csrf FROM sessions JOIN users ON users.name = sessions.user "
            "WHERE sessions.id_hash = ? AND sessions.expires >= ?",
            (_digest(secret), time.time()),
        ).fetchone()
    return Session(User(row["name"], row["role"]), row["csrf"]) if row else None


def close_session(state_dir: Path, secret: str | None) -> None:
    if secret:
        with connect(state_dir) as db:
            db.execute("DELETE FROM sessions WHERE id_hash = ?", (_digest(secret),))


def same_secret(given: str | None, expected: str) -> bool:
    return bool(given) and hmac.compare_digest(given.encode(), expected.encode())


# --------------------------------------------------------------------------- API tokens


def new_token(state_dir: Path, name: str, label: str = "api") -> str:
    """A new API token for user ``name``; shown once, stored hashed."""
    token = "icg_" + secrets.token_urlsafe(32)
    with connect(state_dir) as db:
        if not db.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone():
            raise AccountError(f"no user {name!r} (`icgraph users list` shows them)")
        db.execute("INSERT INTO tokens VALUES (?, ?, ?, ?)", (_digest(token), name, label, _now()))
    return token


def token_user(state_dir: Path, token: str | None) -> User | None:
    if not token:
        return None
    with connect(state_dir) as db:
        row = db.execute(
            "SELECT users.name, users.role FROM tokens JOIN users ON users.name = tokens.user WHERE tokens.token_hash = ?",
            (_digest(token),),
        ).fetchone()
    return User(row["name"], row["role"]) if row else None


def find_user(state_dir: Path, name: str) -> User | None:
    with connect(state_dir) as db:
        row = db.execute("SELECT name, role FROM users WHERE name = ?", (name,)).fetchone()
    return User(row["name"], row["role"]) if row else None
