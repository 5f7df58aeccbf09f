"""Guessing the update token does not pay: wrong tokens from one client are slowed, then refused.

Each wrong token (403) is counted per client address in two moving windows
(``Settings.failed_token_limits``, `limits` notation, in-memory storage):

- past the first rate (default 3 a minute) each further wrong answer is held back, longer and
  longer (0.5 s, 1 s, 2 s, up to 4 s);
- past the second (default 10 in 15 minutes) every update request from that client, right token
  or not, gets 429 with Retry-After until the window has moved on.

Every wrong token and every refusal is logged. A request with the right token costs one look at
an in-memory window and is never delayed.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time

from fastapi import Request
from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from icgraph.server.security import EndpointError, check_update_token

log = logging.getLogger("icgraph.server")

MAX_DELAY = 4.0


class FailedTokenThrottle:
    """Counts wrong update tokens per client; says how long to hold an answer back, and when to refuse."""

    def __init__(self, slow_after: str = "3/minute", refuse_after: str = "10/15 minutes"):
        self.limiter = MovingWindowRateLimiter(MemoryStorage())
        self.slow = parse(slow_after)
        self.refuse = parse(refuse_after)

    def refusal(self, client: str) -> EndpointError | None:
        """429 with Retry-After while ``client`` is over the refusal rate, else None."""
        if self.limiter.test(self.refuse, client):
            return None
        reset, _ = self.limiter.get_window_stats(self.refuse, client)
        wait = max(1, math.ceil(reset - time.time()))
        return EndpointError(
            429,
            f"Too many wrong update tokens from this client ({self.refuse.amount} within "
            f"{_window(self.refuse)}); updates from it are refused for {wait} s.",
            {"Retry-After": str(wait)},
        )

    def failed(self, client: str) -> float:
        """Count one wrong token from ``client``; the seconds to hold the answer back (0 under the first rate)."""
        self.limiter.hit(self.refuse, client)
        if self.limiter.hit(self.slow, client):
            return 0.0
        _, remaining = self.limiter.get_window_stats(self.refuse, client)
        beyond = max(1, self.refuse.amount - remaining - self.slow.amount)
        return min(MAX_DELAY, 0.25 * 2**beyond)


def _window(item) -> str:
    unit = item.GRANULARITY.name
    return f"{item.multiples} {unit}s" if item.multiples != 1 else f"one {unit}"


def throttle_from_settings(settings) -> FailedTokenThrottle:
    slow, refuse = settings.failed_token_limits
    return FailedTokenThrottle(slow, refuse)


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def check_update_access(request: Request) -> None:
    """`security.check_update_token`, throttled per client: 429 while refused, slowed wrong answers."""
    throttle: FailedTokenThrottle | None = getattr(request.app.state, "token_throttle", None)
    expected = request.app.state.update_token
    if throttle is None or not expected:
        return check_update_token(expected, request.headers.get("authorization"))
    client = client_address(request)
    refusal = throttle.refusal(client)
    if refusal is not None:
        log.warning("Update request from %s refused (429, %s s): too many wrong update tokens", client, refusal.headers["Retry-After"])
        raise refusal
    try:
        check_update_token(expected, request.headers.get("authorization"))
    except EndpointError as error:
        if error.status == 403:
            delay = throttle.failed(client)
            log.warning("Wrong update token from %s on %s %s; answer held back %.2f s", client, request.method, request.url.path, delay)
            if delay:
                await asyncio.sleep(delay)
        raise
