"""What the endpoint's routes really answer, for their OpenAPI declarations: status codes and media types.

Every refusal is plain text that says why, or JSON when asked (`app.endpoint_error`); results come in the formats of
`icgraph.server.negotiation`. The route decorators in `sparql` and `graph_store` (and the query
library's routes) take their ``responses=`` and ``openapi_extra=`` from here, so /openapi.json and
/docs list what a client can get, and the schemathesis run in tests/test_openapi_conformance.py
holds the server to it.
"""

from __future__ import annotations

from typing import Any

from icgraph.server.negotiation import GRAPH_FORMATS, RESULT_FORMATS, Format

TEXT = {"text/plain": {"schema": {"type": "string"}}}
_STRING = {"schema": {"type": "string"}}

WHY = {
    400: "The request or its query, update or RDF body is malformed or refused (the text says why and where)",
    401: "An update without an 'Authorization: Bearer <token>' header",
    403: "Updates are off on this endpoint, or the update token is wrong",
    404: "No such graph",
    406: "No format on offer matches the Accept header or format=",
    413: "The request body is larger than this endpoint's limit",
    415: "The body's Content-Type is not one this route reads, or its charset is not UTF-8",
    429: "Too many wrong update tokens from this client; see Retry-After",
    503: "The endpoint is busy (Retry-After), the result is too large, or the query needed too much memory",
    504: "The query or update was stopped at this endpoint's time limit",
}

QUERY_ERRORS = (400, 406, 413, 503, 504)
UPDATE_ERRORS = (400, 401, 403, 413, 415, 429, 503, 504)


#: A refusal as JSON, for a client whose Accept names application/json: the message, and for a syntax
#: error where it is and what to do (`icgraph.server.query_errors.SyntaxProblem.as_json`).
REFUSAL_JSON = {"schema": {"type": "object", "required": ["status", "message"], "properties": {
    "status": {"type": "integer"}, "message": {"type": "string"},
    "kind": {"type": "string", "description": "undeclared-prefix, not-grouped, update-at-query-endpoint, unknown-form, ..."},
    "line": {"type": "integer"}, "column": {"type": "integer"}, "token": {"type": "string"},
    "detail": {"type": "string"}, "hint": {"type": "string", "description": "One line: what to change"},
}}}


def refusals(*codes: int) -> dict[int, dict[str, Any]]:
    return {code: {"description": WHY[code], "content": {**TEXT, "application/json": REFUSAL_JSON}} for code in codes}


def formats(description: str, *offers: tuple[Format, ...], extra: tuple[str, ...] = ()) -> dict[str, Any]:
    media = [f.media_type for offer in offers for f in offer] + list(extra)
    return {"description": description, "content": {m: _STRING for m in dict.fromkeys(media)}}


def no_content(description: str) -> dict[str, Any]:
    return {"description": description}


# -- the SPARQL protocol ---------------------------------------------------------------------

_PROTOCOL_PARAMETERS = [
    {"name": "default-graph-uri", "in": "query", "required": False, "description": "The default graph of the dataset (repeatable).",
     "schema": {"type": "array", "items": {"type": "string", "format": "uri"}}, "style": "form", "explode": True},
    {"name": "named-graph-uri", "in": "query", "required": False, "description": "A named graph of the dataset (repeatable).",
     "schema": {"type": "array", "items": {"type": "string", "format": "uri"}}, "style": "form", "explode": True},
    {"name": "format", "in": "query", "required": False, "description": "Result format; wins over the Accept header.",
     "schema": {"type": "string", "enum": [f.key for f in RESULT_FORMATS + GRAPH_FORMATS]}},
    {"name": "timeout", "in": "query", "required": False, "description": "Seconds; may lower the endpoint's time limit, never raise it.",
     "schema": {"type": "number", "exclusiveMinimum": 0}},
]

SPARQL_GET = {
    "responses": {
        200: formats("Query results (SELECT, ASK), a graph (CONSTRUCT, DESCRIBE, or the service description "
                     "without a query), or the query editor for a browser", RESULT_FORMATS, GRAPH_FORMATS, extra=("text/html",)),
        **refusals(*QUERY_ERRORS),
    },
    "openapi_extra": {"parameters": [
        {"name": "query", "in": "query", "required": False, "description": "A SPARQL 1.1 query; without it, the service description.",
         "schema": {"type": "string"}},
        *_PROTOCOL_PARAMETERS,
    ]},
}

_FORM_QUERY = {"type": "object", "properties": {"query": {"type": "string"}, "update": {"type": "string"}}}

SPARQL_POST = {
    "responses": {
        200: formats("Query results or a graph", RESULT_FORMATS, GRAPH_FORMATS),
        204: no_content("The update was applied"),
        **refusals(*sorted(set(QUERY_ERRORS + UPDATE_ERRORS))),
    },
    "openapi_extra": {"parameters": _PROTOCOL_PARAMETERS, "requestBody": {"required": True, "content": {
        "application/x-www-form-urlencoded": {"schema": _FORM_QUERY},
        "application/sparql-query": _STRING,
        "application/sparql-update": _STRING,
    }}},
}

UPDATE_POST = {
    "status_code": 204,
    "responses": {204: no_content("The update was applied"), **refusals(*UPDATE_ERRORS)},
    "openapi_extra": {"requestBody": {"required": True, "content": {
        "application/x-www-form-urlencoded": {"schema": {"type": "object", "properties": {"update": {"type": "string"}}}},
        "application/sparql-update": _STRING,
    }}},
}

# -- the Graph Store protocol ----------------------------------------------------------------

_GRAPH_PARAMETERS = [
    {"name": "graph", "in": "query", "required": False, "description": "The graph's IRI (or use ?default).",
     "schema": {"type": "string", "format": "uri"}},
    {"name": "default", "in": "query", "required": False, "description": "The default graph.", "schema": {"type": "string"},
     "allowEmptyValue": True},
]

_RDF_BODY = {"requestBody": {"required": True, "content": {
    **{f.media_type: _STRING for f in GRAPH_FORMATS},
    "multipart/form-data": {"schema": {"type": "object", "additionalProperties": {"type": "string", "format": "binary"}}},
}}}


def graph_read(direct: bool = False) -> dict[str, Any]:
    return {
        "responses": {200: formats("The graph's triples", GRAPH_FORMATS), **refusals(400, 404, 406, 503, 504)},
        **({} if direct else {"openapi_extra": {"parameters": _GRAPH_PARAMETERS}}),
    }


def graph_write(direct: bool = False, delete: bool = False, creates: bool = True) -> dict[str, Any]:
    codes = UPDATE_ERRORS + ((404,) if delete else ())
    responses: dict[Any, Any] = {204: no_content("Done"), **refusals(*sorted(codes))}
    if creates and not delete:
        responses[201] = no_content("A new graph was created (POST to /store: its IRI is in Location)")
    extra: dict[str, Any] = {} if delete else dict(_RDF_BODY)
    if not direct:
        extra["parameters"] = _GRAPH_PARAMETERS
    return {"status_code": 204, "responses": responses, **({"openapi_extra": extra} if extra else {})}
