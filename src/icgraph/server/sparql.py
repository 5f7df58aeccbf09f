"""The SPARQL 1.1 Protocol: queries at /sparql (GET, POST), updates at /sparql and /update (POST).

Requests are checked here (method, media type, UTF-8, parameters, update token); the query
or update itself runs in a worker process (`icgraph.server.workers`), which parses it,
refuses SERVICE / LOAD, evaluates it with Oxigraph and serialises the result completely,
so a response is either the whole answer or an error, never a truncated body.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse
from python_multipart.multipart import parse_options_header

from icgraph.config import Settings
from icgraph.server import api_responses
from icgraph.server.caching import QUERY_JOB
from icgraph.server.security import EndpointError, validate_iri
from icgraph.server.throttle import check_update_access
from icgraph.server.service_description import service_description_response
from icgraph.server.workers import StorePool

router = APIRouter(tags=["SPARQL"])

FORM = "application/x-www-form-urlencoded"
SPARQL_QUERY = "application/sparql-query"
SPARQL_UPDATE = "application/sparql-update"
MAX_FORM_FIELDS = 1000


# ---------------------------------------------------------------------------
# Reading the request
# ---------------------------------------------------------------------------


class Params:
    """Protocol parameters from the URL and (for form posts) the body; repeated names kept."""

    def __init__(self, pairs: list[tuple[str, str]]):
        self.pairs = pairs

    def all(self, name: str) -> list[str]:
        return [value for key, value in self.pairs if key == name]

    def one(self, name: str) -> str | None:
        values = self.all(name)
        if len(values) > 1:
            raise EndpointError(400, f"The request has {len(values)} '{name}' parameters; send exactly one.")
        return values[0] if values else None

    def iris(self, name: str) -> list[str]:
        return [validate_iri(value, name) for value in self.all(name)]


def _url_params(request: Request) -> list[tuple[str, str]]:
    return list(request.query_params.multi_items())


def _media_type(request: Request) -> tuple[str, str | None]:
    media, options = parse_options_header(request.headers.get("content-type"))
    charset = options.get(b"charset")
    return media.decode("latin-1").strip().lower(), charset.decode("latin-1").lower() if charset else None


def _utf8(body: bytes, charset: str | None) -> str:
    if charset and charset not in ("utf-8", "utf8"):
        raise EndpointError(415, f"Only UTF-8 is accepted (the request says charset={charset}).")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise EndpointError(400, f"The request body is not valid UTF-8 (byte {error.start}).") from None


def _form(body: bytes, charset: str | None) -> list[tuple[str, str]]:
    text = _utf8(body, charset)
    try:
        return parse_qsl(text, keep_blank_values=True, errors="strict", max_num_fields=MAX_FORM_FIELDS)
    except (UnicodeDecodeError, ValueError) as error:
        raise EndpointError(400, f"Cannot read the form-encoded body: {error}") from None


def _timeout(params: Params, settings: Settings) -> float:
    """The request's time limit: the ``timeout`` parameter may lower the server's, never raise it."""
    value = params.one("timeout")
    if value is None or value == "":
        return settings.query_timeout
    try:
        seconds = float(value)
    except ValueError:
        raise EndpointError(400, f"timeout={value!r} is not a number of seconds.") from None
    if not seconds > 0:
        raise EndpointError(400, "timeout must be a positive number of seconds.")
    return min(seconds, settings.query_timeout)


def _endpoint_iri(request: Request) -> str:
    return str(request.url.replace(query="", fragment=""))


def _pool(request: Request) -> StorePool:
    return request.app.state.pool


# ---------------------------------------------------------------------------
# Answering
# ---------------------------------------------------------------------------


def complete(result: dict) -> Response:
    """A worker's result, serialised in full, as the response with its exact length: one ASGI message,
    or, for a large result, its chunks one by one (`workers.CHUNK_BYTES`), never joined into one copy."""
    if "parts" in result:
        parts = result["parts"]
        length = sum(len(part) for part in parts)
        return StreamingResponse(iter(parts), media_type=result["content_type"],
                                 headers={"Vary": "Accept", "Content-Length": str(length)})
    return Response(result["body"], media_type=result["content_type"], headers={"Vary": "Accept"})


async def run_query(request: Request, query: str, params: Params) -> Response:
    settings: Settings = request.app.state.settings
    if "update" in {key for key, _ in params.pairs}:
        raise EndpointError(400, "Send either a 'query' or an 'update' parameter, not both.")
    job = {
        "op": "query",
        "query": query,
        "base_iri": _endpoint_iri(request),
        "default_graphs": params.iris("default-graph-uri"),
        "named_graphs": params.iris("named-graph-uri"),
        "accept": request.headers.get("accept"),
        "format": params.one("format"),
    }
    result = await _pool(request).read(job, _timeout(params, settings))
    request.scope[QUERY_JOB] = job  # a repeated GET is replayed from the result cache (server/caching.py)
    return complete(result)


async def run_update(request: Request, update: str, params: Params) -> Response:
    settings: Settings = request.app.state.settings
    await check_update_access(request)
    if "query" in {key for key, _ in params.pairs}:
        raise EndpointError(400, "Send either a 'query' or an 'update' parameter, not both.")
    job = {
        "op": "update",
        "update": update,
        "base_iri": _endpoint_iri(request),
        "using": params.iris("using-graph-uri"),
        "using_named": params.iris("using-named-graph-uri"),
    }
    await _pool(request).write(job, _timeout(params, settings))
    return Response(status_code=204)


# ---------------------------------------------------------------------------
# Routes
# ---------------------------------------------------------------------------


@router.get("/sparql", summary="SPARQL query (GET), or the service description without a query", **api_responses.SPARQL_GET)
async def sparql_get(request: Request) -> Response:
    params = Params(_url_params(request))
    if params.all("update"):
        raise EndpointError(400, "SPARQL updates must be sent with POST, not GET.")
    query = params.one("query")
    if query is None:
        return await service_description_response(request)
    return await run_query(request, query, params)


@router.post("/sparql", summary="SPARQL query or update (POST, form-encoded or direct)", **api_responses.SPARQL_POST)
async def sparql_post(request: Request) -> Response:
    media, charset = _media_type(request)
    body = await request.body()
    url = _url_params(request)
    if media == FORM:
        params = Params(url + _form(body, charset))
        query, update = params.one("query"), params.one("update")
        if query is not None and update is not None:
            raise EndpointError(400, "Send either a 'query' or an 'update' parameter, not both.")
        if query is not None:
            return await run_query(request, query, params)
        if update is not None:
            return await run_update(request, update, params)
        raise EndpointError(400, "The form has neither a 'query' nor an 'update' parameter.")
    if media == SPARQL_QUERY:
        return await run_query(request, _utf8(body, charset), Params(url))
    if media == SPARQL_UPDATE:
        return await run_update(request, _utf8(body, charset), Params(url))
    raise _unsupported(media, (FORM, SPARQL_QUERY, SPARQL_UPDATE))


@router.post("/update", summary="SPARQL update (POST, form-encoded or direct); needs the update token", **api_responses.UPDATE_POST)
async def update_post(request: Request) -> Response:
    media, charset = _media_type(request)
    body = await request.body()
    url = _url_params(request)
    if media == FORM:
        params = Params(url + _form(body, charset))
        update = params.one("update")
        if update is None:
            raise EndpointError(400, "The form has no 'update' parameter.")
        return await run_update(request, update, params)
    if media == SPARQL_UPDATE:
        return await run_update(request, _utf8(body, charset), Params(url))
    raise _unsupported(media, (FORM, SPARQL_UPDATE))


def _unsupported(media: str, accepted: tuple[str, ...]) -> EndpointError:
    said = f"Content-Type {media!r}" if media else "no Content-Type"
    return EndpointError(415, f"The request has {said}; send one of: {', '.join(accepted)}.")
