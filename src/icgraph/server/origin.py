"""Who asked, and whether they are still there: the origin of the request a query runs for.

`OriginMiddleware` (pure ASGI) records, for each HTTP request, the client's address and a way
to learn that the client has hung up, in a context variable that the worker pool reads
(`current`). The pool uses the address to keep one client from holding every reader, and the
hang-up to stop a query nobody waits for (`icgraph.server.workers.StorePool.read`).

The hang-up watch reads the request's ASGI ``receive`` channel, so it starts only when a query
is about to run, after the route has read the whole body.
"""

from __future__ import annotations

import asyncio
import contextvars
from dataclasses import dataclass, field


@dataclass
class Origin:
    client: str
    receive: object = None
    _gone: asyncio.Future | None = field(default=None, repr=False)
    _watch: asyncio.Task | None = field(default=None, repr=False)

    def gone(self) -> asyncio.Future:
        """A future that completes when the client disconnects (one watch per request, shared)."""
        if self._gone is None:
            loop = asyncio.get_running_loop()
            self._gone = loop.create_future()
            if self.receive is not None:
                self._watch = loop.create_task(self._wait())
        return self._gone

    async def _wait(self) -> None:
        try:
            while True:
                message = await self.receive()
                if message.get("type") == "http.disconnect":
                    break
        except Exception:  # noqa: BLE001 - a broken channel is a client that is gone
            pass
        if self._gone is not None and not self._gone.done():
            self._gone.set_result(None)

    def close(self) -> None:
        if self._watch is not None and not self._watch.done():
            self._watch.cancel()


_current: contextvars.ContextVar[Origin | None] = contextvars.ContextVar("icgraph_origin", default=None)


def current() -> Origin | None:
    """The origin of the request being served in this task (None outside a request, e.g. at start-up)."""
    return _current.get()


class OriginMiddleware:
    """Set `current()` for every HTTP request."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        client = scope.get("client")
        origin = Origin(client[0] if client else "unknown", receive)
        token = _current.set(origin)
        try:
            await self.app(scope, receive, send)
        finally:
            origin.close()
            _current.reset(token)
