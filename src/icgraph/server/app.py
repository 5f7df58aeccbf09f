"""The web application: `create_app(settings)` builds it, `serve(settings, host, port)` runs it.

Routers are split by resource (`sparql`, `graph_store`); add more with
``app.include_router(...)`` on the returned app, or to `ROUTERS`. A browser page for
GET /sparql (the query editor) plugs in as ``app.state.query_editor = async_fn(request)``.
"""

from __future__ import annotations

from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from icgraph.config import Settings

from icgraph.backends import is_remote
from icgraph.server import (
    api_docs, changes, completion, contribute, documents, graph_store, library_pages, linked_data, metrics, query_api,
    result_views, short_links, sparql, web,
)
from icgraph.server.caching import ReleaseCaching, SparqlReplay
from icgraph.server.headers import SecurityHeaders
from icgraph.server.metrics import Metrics, MetricsMiddleware
from icgraph.server.negotiation import prefers_json
from icgraph.server.origin import OriginMiddleware
from icgraph.server.remote import RemotePool
from icgraph.server.security import EndpointError, RequestSizeLimit, update_token
from icgraph.server.templating import keep_compiled_templates, static_files
from icgraph.server.throttle import throttle_from_settings
from icgraph.server.workers import StorePool

ROUTERS = [
    sparql.router, graph_store.router, query_api.router, linked_data.router, documents.router, metrics.router, api_docs.router,
    completion.router, short_links.router, library_pages.router, result_views.router,
    contribute.router, contribute.pages, changes.router,
]


async def endpoint_error(request: Request, error: EndpointError) -> Response:
    """Every refusal as plain text that says why (SPARQL clients show the body as it is); as JSON, with
    the same message and its fields (a syntax error's line, column, token and hint), when the client asks."""
    if prefers_json(request.headers.get("accept")):
        body = {"status": error.status, "message": error.message, **(error.details or {})}
        return JSONResponse(body, status_code=error.status, headers=error.headers)
    return PlainTextResponse(error.message + "\n", status_code=error.status, headers=error.headers)


def create_app(settings: Settings | None = None) -> FastAPI:
    """The icgraph application over the store ``settings.store``; the worker pool starts with it."""
    settings = settings or Settings()
    token = update_token(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if is_remote(settings.store):
            # A remote SPARQL store: user requests pass the same checks and limits (server/remote.py),
            # and so do the pages' queries (pool.prepared).
            pool = RemotePool(settings, writable=token is not None)
            await pool.start()
            app.state.pool = pool
        else:
            pool = StorePool(settings, writable=token is not None)
            await pool.start()
            app.state.pool = pool
            # Pages, facets, the map, entity pages, search and the query library query through the
            # pool too (pool.prepared): nothing queries a store in this process.
        try:
            yield
        finally:
            await pool.close()

    app = FastAPI(
        title="icgraph",
        summary="Council of Europe intercultural practices as linked data: SPARQL 1.1 endpoint and Graph Store.",
        lifespan=lifespan,
        docs_url=None,  # /docs is api_docs.router: Swagger UI from /static, under the site's CSP
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.update_token = token
    keep_compiled_templates(settings.build_dir / "cache" / "templates")  # a page's first view reads its compiled template
    app.state.token_throttle = throttle_from_settings(settings)
    app.add_exception_handler(EndpointError, endpoint_error)
    app.add_middleware(RequestSizeLimit, max_bytes=settings.max_request_bytes)
    app.add_middleware(OriginMiddleware)  # the client and its hang-ups, for the pool (server/origin.py)
    app.add_middleware(ReleaseCaching, application=app)  # ETag / Last-Modified / 304 by release (server/caching.py)
    app.state.metrics = Metrics(app)
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    # CORS for reading: no credentials, and no Authorization header or write methods across origins.
    app.add_middleware(
        CORSMiddleware,
        allow_origins=["*"],
        allow_credentials=False,
        allow_methods=["GET", "HEAD", "POST"],
        allow_headers=["Accept", "Content-Type"],
        expose_headers=["Content-Length", "Retry-After"],
        max_age=3600,
    )
    app.add_middleware(SecurityHeaders)  # every response, refusals included
    app.add_middleware(SparqlReplay, application=app)  # outermost: a repeated GET /sparql as the stack first answered it
    for router in ROUTERS:
        app.include_router(router)
    app.mount("/static", static_files(), name="static")
    web.install(app)  # home, practices, search, map, quality, and the query editor for browsers at GET /sparql
    return app


def serve(settings: Settings | None = None, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Run the application with uvicorn until interrupted."""
    settings = settings or Settings()
    uvicorn.run(create_app(settings), host=host, port=port, proxy_headers=False, timeout_graceful_shutdown=5,
                access_log=settings.access_log)
