"""Which pool answers: the application's `StorePool` (embedded store) or `RemotePool` (a SPARQL store).

`open_pool` starts the right one for a store location; `pool_of` gives an application's pool
(starting one on first use for a router mounted into an application without the server's
lifespan); `run` runs one of the server's own queries on it (`StorePool.prepared`).
"""

from __future__ import annotations

import asyncio
from typing import Any, Mapping

from icgraph.config import Settings
from icgraph.queries import LibraryQuery
from icgraph.server.remote import RemotePool
from icgraph.server.workers import StorePool


async def open_pool(settings: Settings, writable: bool = False):
    """A started pool over ``settings.store``: `StorePool`, or `RemotePool` for a ``sparql+http`` store."""
    from icgraph.backends import is_remote

    pool = RemotePool(settings, writable=writable) if is_remote(settings.store) else StorePool(settings, writable=writable)
    await pool.start()
    return pool


_START_LOCKS: dict[int, asyncio.Lock] = {}


async def pool_of(app) -> Any:
    """The application's pool (``app.state.pool``); an application without one gets a reader pool over
    ``app.state.settings.store`` started on first use (routers mounted into another application)."""
    pool = getattr(app.state, "pool", None)
    if pool is not None:
        return pool
    lock = _START_LOCKS.setdefault(id(app), asyncio.Lock())
    async with lock:
        pool = getattr(app.state, "pool", None)
        if pool is None:
            pool = await open_pool(getattr(app.state, "settings", None) or Settings())
            app.state.pool = pool
    return pool


async def run(request, query: str | LibraryQuery, bindings: Mapping[str, Any] | None = None, **options):
    """``await pool.prepared(query, bindings)`` on the request's application (see `StorePool.prepared`)."""
    pool = await pool_of(request.app)
    return await pool.prepared(query, bindings, **options)
