"""HTTP caching tied to the release: ETag and Last-Modified on every public GET, 304 on revalidation.

Within one release the data does not change, so the same GET (path, query string, Accept,
Accept-Language) gets the same answer: its validator is a hash of those and of the release
id (`StorePool.release_id`, which also moves with every write of a server that takes
updates). A request whose ``If-None-Match`` names the current validator is answered 304
before anything runs; a new release changes every validator at once.

Left out: requests with credentials (Authorization, Cookie), /metrics, /static (Starlette's
StaticFiles validates files itself), answers other than 200, and SPARQL whose answer is not
a function of the data (NOW, RAND, UUID, STRUUID, BNODE).

``Cache-Control: public, no-cache`` lets a shared cache (a CDN) keep the answer and revalidate
it with the ETag on every use: a 304 costs the server a hash, and no answer outlives its release.

A repeated ``GET /sparql`` is replayed from the result cache (`icgraph.server.result_cache`) by
`SparqlReplay`, in front of every other middleware: the first answer's headers, as the whole stack
gave them (security headers, CORS, the validators), are remembered under its validator, its base IRI
(scheme, Host, root path) and whether it came with an ``Origin``, with the result cache's key of its
job (`QUERY_JOB`, left by `icgraph.server.sparql.run_query`) in the release of the validator
(`REPLAY_KEY`, left by `ReleaseCaching`); while that key is kept, the same request is answered with
those headers and the kept reply, the bytes the stack would send, and counted in the metrics. The
validator holds the release, so a new release is never answered from a previous one. Routing and
the middlewares cost several times the lookup itself (docs/benchmarks.md). A conditional request
goes through the stack: `ReleaseCaching` answers it 304.
"""

from __future__ import annotations

import functools
import hashlib
import re
import time
from email.utils import format_datetime, parsedate_to_datetime
from datetime import datetime, timezone
from typing import NamedTuple
from urllib.parse import parse_qsl

from cachetools import LRUCache

CACHE_CONTROL = "public, no-cache"
_SKIP_PREFIXES = ("/static/", "/metrics", "/update")
_VALIDATORS = (b"etag", b"last-modified")
_NOT_A_FUNCTION_OF_THE_DATA = re.compile(r"\b(NOW|RAND|UUID|STRUUID|BNODE)\s*\(", re.IGNORECASE)


def not_a_function_of_the_data(query: str) -> bool:
    """Whether a query's answer may change without the data changing (NOW, RAND, UUID, STRUUID, BNODE)."""
    return bool(_NOT_A_FUNCTION_OF_THE_DATA.search(query))


def validator(release_id: str, scope: dict, headers: dict[bytes, bytes]) -> str:
    """The weak ETag of a GET: the release, the path, the query string and the negotiation headers."""
    digest = hashlib.sha256()
    for part in (release_id, scope["path"], scope.get("query_string", b"").decode("latin-1"),
                 headers.get(b"accept", b"").decode("latin-1"), headers.get(b"accept-language", b"").decode("latin-1")):
        digest.update(part.encode("utf-8", "replace") + b"\0")
    return f'W/"{digest.hexdigest()[:32]}"'


def _cacheable(scope: dict, headers: dict[bytes, bytes]) -> bool:
    if scope["method"] not in ("GET", "HEAD") or scope["path"].startswith(_SKIP_PREFIXES):
        return False
    if b"authorization" in headers or b"cookie" in headers:
        return False
    if scope["path"] == "/sparql":
        query_string = scope.get("query_string", b"")
        check = _memo_sparql_validated if len(query_string) <= _MEMO_QUERY_STRING_BYTES else _sparql_validated
        return check(query_string)
    return True


def _sparql_validated(query_string: bytes) -> bool:
    """Whether a /sparql GET's answer is a function of the data (see `not_a_function_of_the_data`)."""
    query = " ".join(v for k, v in parse_qsl(query_string.decode("latin-1")) if k == "query")
    return not not_a_function_of_the_data(query)


#: A repeated /sparql GET (the result cache's hits) is checked once: decoding a 2 KB query string
#: cost ~0.08 ms of each request's ~0.6 ms when profiled (`bench` warm runs, docs/benchmarks.md).
_MEMO_QUERY_STRING_BYTES = 16 * 1024
_memo_sparql_validated = functools.lru_cache(maxsize=1024)(_sparql_validated)


def _matches(if_none_match: bytes, etag: str) -> bool:
    tags = [t.strip() for t in if_none_match.decode("latin-1").split(",")]
    weak = etag.removeprefix("W/")
    return "*" in tags or any(t.removeprefix("W/") == weak for t in tags)


@functools.lru_cache(maxsize=16)  # the release's creation time, asked at every request
def _http_date(iso: str | None) -> str | None:
    if not iso:
        return None
    try:
        return format_datetime(datetime.fromisoformat(iso).astimezone(timezone.utc), usegmt=True)
    except ValueError:
        return None


def _not_modified_since(if_modified_since: bytes, last_modified: str) -> bool:
    try:
        return parsedate_to_datetime(last_modified) <= parsedate_to_datetime(if_modified_since.decode("latin-1"))
    except (TypeError, ValueError):
        return False


#: Where `icgraph.server.sparql.run_query` leaves its job (what the result cache's key is made of) in the ASGI scope.
QUERY_JOB = "icgraph.query_job"
#: Where `ReleaseCaching` leaves, for `SparqlReplay`, a /sparql GET's validator and its answer's result-cache key.
REPLAY_KEY = "icgraph.replay_key"
#: Repeated /sparql GETs remembered for replay (a few hundred bytes each: the response's headers).
KEPT_REQUESTS = 4096


class _Replayable(NamedTuple):
    key: str  # the result cache's key of the request's job
    headers: list  # the response's headers as the whole stack sent them
    route: object  # scope["route"], for the metrics' label


class SparqlReplay:
    """ASGI middleware, in front of all others: a repeated GET /sparql answered from the result cache."""

    def __init__(self, app, application):
        self.app = app
        self.application = application  # the FastAPI app whose state holds the pool and the metrics
        self._kept = LRUCache(maxsize=KEPT_REQUESTS)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "GET" or scope["path"] != "/sparql":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        pool = getattr(self.application.state, "pool", None)
        if pool is None or b"if-none-match" in headers or b"if-modified-since" in headers or not _cacheable(scope, headers):
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        etag = validator(pool.release_id, scope, headers)
        request = (etag, headers.get(b"host"), scope.get("scheme"), scope.get("root_path", ""), b"origin" in headers)
        kept = self._kept.get(request)
        reply = None if kept is None else pool.results.get(kept.key, count_miss=False)
        if reply is not None:
            await send({"type": "http.response.start", "status": 200, "headers": kept.headers})
            parts = reply["parts"] if "parts" in reply else [reply["body"]]
            for number, part in enumerate(parts, 1):
                await send({"type": "http.response.body", "body": part, "more_body": number < len(parts)})
            self.application.state.metrics.answered(kept.route, scope["path"], 200, time.perf_counter() - started)
            return
        sent: list = []

        async def recording(message):
            if message["type"] == "http.response.start" and message["status"] == 200:
                sent.append(message.get("headers") or [])
            await send(message)

        await self.app(scope, receive, recording)
        left = scope.get(REPLAY_KEY)
        if sent and left is not None and left[0] == etag:  # the same release all along
            self._kept[request] = _Replayable(left[1], list(sent[0]), scope.get("route"))


class ReleaseCaching:
    """ASGI middleware: validators and 304s for the release an application's pool serves."""

    def __init__(self, app, application):
        self.app = app
        self.application = application  # the FastAPI app whose state holds the pool

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        pool = getattr(self.application.state, "pool", None)
        if pool is None or not _cacheable(scope, headers):
            return await self.app(scope, receive, send)
        release = getattr(pool, "release", None)
        release_id = pool.release_id
        etag = validator(release_id, scope, headers)
        last_modified = _http_date(release.created) if release is not None and not getattr(pool, "writable", False) else None
        cache_headers = [(b"etag", etag.encode()), (b"cache-control", CACHE_CONTROL.encode())]
        if last_modified:
            cache_headers.append((b"last-modified", last_modified.encode()))
        fresh = (b"if-none-match" in headers and _matches(headers[b"if-none-match"], etag)) or (
            b"if-none-match" not in headers and b"if-modified-since" in headers and last_modified
            and _not_modified_since(headers[b"if-modified-since"], last_modified)
        )
        if fresh:
            vary = [(b"vary", b"Accept")]
            await send({"type": "http.response.start", "status": 304, "headers": cache_headers + vary})
            await send({"type": "http.response.body", "body": b""})
            return
        replay = scope["method"] == "GET" and scope["path"] == "/sparql"

        async def sending(message):
            if message["type"] == "http.response.start" and message["status"] == 200:
                # The release's validators replace any the route set itself (a dump's FileResponse sends the
                # file's): a revalidation is decided above, by release, so only those can ever match.
                # A route's own Cache-Control (a longer max-age) is kept.
                headers = [(n, v) for n, v in message.get("headers", []) if n.lower() not in _VALIDATORS]
                if replay and QUERY_JOB in scope:
                    # Keyed in the release of the validator, whichever the route's read found (`SparqlReplay`).
                    key = pool.results.key(release_id, scope[QUERY_JOB])
                    if key is not None:
                        scope[REPLAY_KEY] = (etag, key)
                message = {**message, "headers": _with(headers, cache_headers)}
            await send(message)

        await self.app(scope, receive, sending)


def _with(headers: list, cache_headers: list) -> list:
    """A route's headers and the release's validators, the route's own Cache-Control kept."""
    present = {name.lower() for name, _ in headers}
    return headers + [(n, v) for n, v in cache_headers if n not in present]
