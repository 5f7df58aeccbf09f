"""The query library as a web API, generated from the ``queries/`` folder (in the manner of grlc).

- ``GET /api/queries`` lists the library: name, summary, description, tags, parameters (type,
  default, required) and links.
- ``GET /api/queries/{name}?param=value`` runs one query and answers in the format asked for
  with ``Accept`` or ``format=``, exactly as the SPARQL endpoint negotiates
  (`icgraph.server.negotiation`): SPARQL JSON (default), XML, CSV, TSV for SELECT / ASK;
  Turtle (default), N-Triples, RDF/XML, JSON-LD for CONSTRUCT.
- Every query also has its own path in the OpenAPI document, with its summary, description and
  typed query parameters, so ``/docs`` shows the library as a form per query.

Paging: ``limit=N`` answers the first N rows (triples of a CONSTRUCT); when more follow, a
``Link: <...>; rel="next"`` header (and, in SPARQL JSON, a top-level ``next``) gives the URL of
the next page, whose opaque ``cursor`` is bound to the release and to the query and its values
(`icgraph.server.paging`): after a new release it answers 410, start again.

Parameters are bound as RDF terms through Oxigraph's ``substitutions``
(`icgraph.queries.LibraryQuery.bindings`), never spliced into the query text. A value of the
wrong type, an unknown or repeated parameter is a 400 that says what to send; an unknown query
is a 404.

Where the query runs: on the endpoint's worker pool, like /sparql (``pool.prepared``, with the
query text and its substitutions; `icgraph.server.workers.StorePool`), under the same time
limit, memory ceiling and admission; the worker serialises the answer. An app that has no
``app.state.pool`` gets a reader pool over the store of ``app.state.settings`` (or the default
`Settings`) started on first use (`icgraph.server.pools.pool_of`).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response

from icgraph.config import Settings
from icgraph.queries import LibraryQuery, Parameter, QueryParameterError, load_library, parse_query_file
from icgraph.server import negotiation, pools
from icgraph.server.paging import MAX_PAGE_SIZE, Cursor, CursorError, query_fingerprint
from icgraph.server.security import EndpointError

PREFIX = "/api/queries"
TAG = "Query library"

#: Query-string names the API itself reads; a library query may not use them as parameters.
RESERVED = frozenset({"format", "limit", "cursor"})

#: What a CONSTRUCT / DESCRIBE result can be written as (a graph: no dataset formats).
GRAPH_OFFER = tuple(f for f in negotiation.GRAPH_FORMATS if f.key in ("ttl", "nt", "rdf", "jsonld"))

_OPENAPI_SCHEMA = {
    "iri": {"type": "string", "format": "uri"},
    "string": {"type": "string"},
    "en": {"type": "string"},
    "integer": {"type": "integer"},
    "year": {"type": "integer", "minimum": 1, "maximum": 9999},
    "decimal": {"type": "number"},
    "boolean": {"type": "boolean"},
    "date": {"type": "string", "format": "date"},
}
_PARAMETER_HELP = {
    "iri": "An IRI, absolute (https://...) or prefixed with a prefix of the graph (place:es, actor:..., practice:...).",
    "string": "A plain string.",
    "en": "A string (bound as an @en literal).",
    "integer": "A whole number.",
    "year": "A four-digit year (bound as xsd:gYear).",
    "decimal": "A decimal number.",
    "boolean": "true or false.",
    "date": "A date, YYYY-MM-DD.",
}

_COMMENT = re.compile(r"#[^\n]*")
_FORM = re.compile(r"\b(SELECT|ASK|CONSTRUCT|DESCRIBE)\b", re.IGNORECASE)


# ---------------------------------------------------------------------------
# The library as data
# ---------------------------------------------------------------------------


def query_form(query: LibraryQuery) -> str:
    """SELECT, ASK, CONSTRUCT or DESCRIBE: the first query-form keyword outside comments and IRIs."""
    body = _COMMENT.sub("", re.sub(r"<[^>\s]*>", "<>", query.text))
    match = _FORM.search(body)
    return match.group(1).upper() if match else "SELECT"


def result_kind(query: LibraryQuery) -> str:
    return negotiation.RESULTS if query_form(query) in ("SELECT", "ASK") else negotiation.GRAPH


def offer_for(query: LibraryQuery) -> tuple[negotiation.Format, ...]:
    return negotiation.RESULT_FORMATS if result_kind(query) == negotiation.RESULTS else GRAPH_OFFER


def describe_parameter(parameter: Parameter) -> dict[str, Any]:
    return {
        "name": parameter.name,
        "type": parameter.type,
        "required": parameter.required,
        "default": parameter.default,
        "description": _PARAMETER_HELP.get(parameter.type, ""),
    }


def describe(query: LibraryQuery, base: str = "") -> dict[str, Any]:
    """A library query as JSON for the listing."""
    run = f"{base}{PREFIX}/{query.name}"
    offer = offer_for(query)
    return {
        "name": query.name,
        "summary": query.summary,
        "description": query.description,
        "tags": list(query.tags),
        "form": query_form(query),
        "parameters": [describe_parameter(p) for p in query.parameters],
        "formats": [f.key for f in offer],
        "links": {
            "self": run,
            **{f.key: f"{run}?format={f.key}" for f in offer},
            "openapi": f"{base}/docs#/{TAG.replace(' ', '%20')}/query_{_operation(query.name)}",
        },
    }


def _operation(name: str) -> str:
    return re.sub(r"\W", "_", name)


def openapi_parameters(query: LibraryQuery) -> list[dict[str, Any]]:
    """The query's parameters (and ``format``) as OpenAPI query parameters."""
    parameters = []
    for p in query.parameters:
        schema = dict(_OPENAPI_SCHEMA.get(p.type, {"type": "string"}))
        if p.default is not None:
            schema["default"] = _typed_default(p)
        parameters.append(
            {
                "name": p.name,
                "in": "query",
                "required": p.required,
                "description": _PARAMETER_HELP.get(p.type, "") + (f" Default: {p.default}." if p.default is not None else ""),
                "schema": schema,
            }
        )
    offer = offer_for(query)
    parameters.append(
        {
            "name": "format",
            "in": "query",
            "required": False,
            "description": "Result format; wins over the Accept header.",
            "schema": {"type": "string", "enum": [f.key for f in offer]},
        }
    )
    parameters += [
        {
            "name": "limit",
            "in": "query",
            "required": False,
            "description": f"Answer in pages of this many rows (triples of a CONSTRUCT), at most {MAX_PAGE_SIZE}; "
                           "the Link header (rel=next) and, in JSON, `next` give the following page.",
            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE},
        },
        {
            "name": "cursor",
            "in": "query",
            "required": False,
            "description": "Where the page starts: the cursor of a `next` link, as it is (valid for the release it came from).",
            "schema": {"type": "string"},
        },
    ]
    return parameters


def _typed_default(parameter: Parameter) -> Any:
    """The default as the JSON value its OpenAPI type expects (2022, not "2022")."""
    try:
        if parameter.type in ("integer", "year"):
            return int(parameter.default)
        if parameter.type == "decimal":
            return float(parameter.default)
        if parameter.type == "boolean":
            return parameter.default == "true"
    except ValueError:
        pass
    return parameter.default


_JSON_DETAIL = {"application/json": {"schema": {"type": "object", "properties": {"detail": {"type": "string"}}}}}


def openapi_responses(query: LibraryQuery) -> dict[Any, Any]:
    offer = offer_for(query)
    return {
        200: {"description": "The result", "content": {f.media_type: {} for f in offer}},
        400: {"description": "A parameter is unknown, repeated, missing or of the wrong type, or the cursor is not one "
                             "of this query", "content": _JSON_DETAIL},
        406: {"description": "No format on offer matches the Accept header or format=", "content": _JSON_DETAIL},
        410: {"description": "The cursor belongs to an earlier release: start again without it", "content": _JSON_DETAIL},
    }


# ---------------------------------------------------------------------------
# Running a query
# ---------------------------------------------------------------------------

def parameter_values(request: Request, query: LibraryQuery) -> tuple[dict[str, str], str | None]:
    """The query's parameter values and the ``format=`` value from the URL; 400 on anything else."""
    values, controls = _parameters(request, query)
    return values, controls.get("format")


def _parameters(request: Request, query: LibraryQuery) -> tuple[dict[str, str], dict[str, str]]:
    """The query's parameter values, and the API's own (format, limit, cursor) from the URL; 400 on anything else."""
    values: dict[str, str] = {}
    controls: dict[str, str] = {}
    known = {p.name for p in query.parameters}
    for key, value in request.query_params.multi_items():
        if key in RESERVED:
            if key in controls:
                raise HTTPException(400, f"The request has more than one {key!r} parameter; send one.")
            controls[key] = value
            continue
        if key not in known:
            listed = ", ".join(sorted(known)) or "none"
            raise HTTPException(400, f"The query {query.name} has no parameter {key!r} (its parameters: {listed}; "
                                     "and format, limit, cursor).")
        if key in values:
            raise HTTPException(400, f"The parameter {key!r} is given more than once; send it once.")
        values[key] = value
    return values, controls


def _page_size(text: str) -> int:
    try:
        limit = int(text)
    except ValueError:
        limit = 0
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise HTTPException(400, f"limit={text!r}: send a whole number of rows per page from 1 to {MAX_PAGE_SIZE}.")
    return limit


async def run_library_query(request: Request, query: LibraryQuery) -> Response:
    values, controls = _parameters(request, query)
    try:
        bindings = query.bindings(values)
    except QueryParameterError as error:
        raise HTTPException(400, str(error)) from None
    try:
        fmt = negotiation.choose_format(result_kind(query), request.headers.get("accept"), controls.get("format"), offer_for(query))
    except negotiation.NotAcceptable as error:
        raise HTTPException(406, str(error)) from None
    page = cursor = None
    if "limit" in controls or "cursor" in controls:
        limit = _page_size(controls["limit"]) if "limit" in controls else None
        pool = await pools.pool_of(request.app)
        release, fingerprint = pool.release_id, query_fingerprint(query.text, bindings)
        if "cursor" in controls:
            try:
                cursor = Cursor.decode(controls["cursor"], release, fingerprint)
            except CursorError as error:
                raise HTTPException(error.status, str(error)) from None
        offset = cursor.offset if cursor else 0
        limit = limit or cursor.limit
        page = (offset, limit)
        cursor = Cursor(release, fingerprint, offset + limit, limit)
    try:
        result = await pools.run(request, query, bindings, fmt=fmt, hide=[p.variable for p in query.parameters],
                                 **({"page": page} if page else {}))
    except EndpointError as error:  # the pool's refusal (504 past the time limit, 503 when busy), as /sparql says it
        raise HTTPException(error.status, error.message, headers=error.headers) from None
    headers = {"Content-Type": fmt.content_type, "Vary": "Accept"}
    body = result["body"]
    if page and result.get("more"):
        following = str(request.url.include_query_params(cursor=cursor.encode(), limit=page[1]))
        headers["Link"] = f'<{following}>; rel="next"'
        if fmt.key == "json":
            document = json.loads(body)
            document["next"] = following
            body = json.dumps(document, ensure_ascii=False).encode("utf-8")
    return Response(body, media_type=None, headers=headers)


# ---------------------------------------------------------------------------
# The router
# ---------------------------------------------------------------------------


def build_router(folder: Path) -> APIRouter:
    """An APIRouter with the listing, one documented route per query of ``folder``, and a
    fallback ``/api/queries/{name}`` that answers 404 for a name the library does not have."""
    library = load_library(folder)
    router = APIRouter(tags=[TAG])
    for query in library.values():
        clash = RESERVED & {p.name for p in query.parameters}
        if clash:
            raise ValueError(f"{query.path}: parameter name {', '.join(sorted(clash))} is reserved by the API; rename it")

    @router.get(PREFIX, summary="List the queries of the library", operation_id="list_queries")
    async def list_queries(request: Request) -> list[dict[str, Any]]:
        base = str(request.base_url).rstrip("/")
        return [describe(q, base) for q in load_library(folder).values()]

    for query in library.values():
        router.add_api_route(
            f"{PREFIX}/{query.name}",
            _endpoint(folder, query.name),
            methods=["GET"],
            summary=query.summary or query.name,
            description=_openapi_description(query),
            operation_id=f"query_{_operation(query.name)}",
            openapi_extra={"parameters": openapi_parameters(query)},
            responses=openapi_responses(query),
            response_class=Response,
        )

    @router.get(f"{PREFIX}/{{name}}", include_in_schema=False)
    async def any_query(name: str, request: Request) -> Response:
        return await run_library_query(request, _load(folder, name))

    return router


_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def _load(folder: Path, name: str) -> LibraryQuery:
    """The query ``name`` read afresh from its file (an edited query is served without a restart); 404 if none."""
    path = folder / f"{name}.rq"
    if not _NAME.match(name) or not path.is_file():
        raise HTTPException(404, f"There is no query named {name!r}; GET {PREFIX} lists the library.")
    return parse_query_file(path)


def _endpoint(folder: Path, name: str):
    async def endpoint(request: Request) -> Response:
        return await run_library_query(request, _load(folder, name))

    endpoint.__name__ = f"query_{_operation(name)}"
    return endpoint


def _openapi_description(query: LibraryQuery) -> str:
    formats = ", ".join(f"`{f.key}`" for f in offer_for(query))
    tags = ", ".join(query.tags)
    return f"{query.description}\n\nTags: {tags}. Formats: {formats} (Accept header or `format=`).\n\nSource: `queries/{query.name}.rq`"


#: The router for the application: the project's ``queries/`` folder, read at import time.
router = build_router(Settings().queries_dir)
