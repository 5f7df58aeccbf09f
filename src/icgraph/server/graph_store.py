"""The SPARQL 1.1 Graph Store HTTP Protocol at /store.

Indirect identification (``/store?graph=IRI`` or ``/store?default``) and direct
identification (``/store/anything``: the graph whose IRI is that URL). GET and HEAD are
open to all; PUT, POST and DELETE need the update token, like SPARQL Update. POST to
``/store`` itself creates a new graph and answers 201 with its IRI in Location.

Writes are all or nothing: the body (each part of a multipart upload) is parsed completely here,
within the limits of `icgraph.server.rdf_limits`, before the writer sees any of it, and a
truncated multipart body is refused; a 400 then says where the body broke, and nothing changes.
Wrong update tokens are throttled per client (`icgraph.server.throttle`).

With ``Settings.union_default_graph`` the default graph read here is the one queries see
(the union of the named graphs); writes to ``?default`` go to the store's own default graph.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response
from python_multipart.multipart import parse_options_header
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from icgraph.server import api_responses
from icgraph.server.rdf_limits import read_rdf_document
from icgraph.server.security import EndpointError, validate_iri
from icgraph.server.sparql import _media_type, _pool, complete
from icgraph.server.throttle import check_update_access

router = APIRouter(tags=["Graph Store"])

DEFAULT = None  # the default graph
READ_METHODS = ["GET", "HEAD"]


def _indirect_target(request: Request, allow_none: bool = False) -> str | None | bool:
    """The graph named by ?graph=IRI or ?default; False when neither is given (and allowed)."""
    graphs = request.query_params.getlist("graph")
    default = "default" in request.query_params
    if len(graphs) > 1 or (graphs and default):
        raise EndpointError(400, "Name one graph: ?graph=IRI or ?default.")
    if default:
        return DEFAULT
    if graphs:
        return validate_iri(graphs[0], "graph")
    if allow_none:
        return False
    raise EndpointError(400, "Name the graph: /store?graph=IRI or /store?default.")


def _direct_target(request: Request) -> str:
    return str(request.url.replace(query="", fragment=""))


async def _read(request: Request, graph: str | None) -> Response:
    settings = request.app.state.settings
    job = {
        "op": "graph_get",
        "graph": graph,
        "accept": request.headers.get("accept"),
        "format": request.query_params.get("format"),
    }
    result = await _pool(request).read(job, settings.query_timeout)
    if request.method == "HEAD":
        return Response(
            status_code=200,
            headers={"Content-Type": result["content_type"], "Content-Length": str(len(result["body"])), "Vary": "Accept"},
        )
    return complete(result)


async def _parts(request: Request) -> list[tuple[bytes, str]]:
    """The RDF documents in the body: the body itself, or each part of a multipart/form-data upload."""
    media, _ = _media_type(request)
    if media == "multipart/form-data":
        _check_multipart_complete(request, await request.body())
        parts = []
        async with request.form() as form:
            for _, value in form.multi_items():
                if isinstance(value, UploadFile):
                    parts.append((await value.read(), value.content_type or "text/turtle"))
                else:
                    parts.append((value.encode("utf-8"), "text/turtle"))
        if not parts:
            raise EndpointError(400, "The multipart upload holds no part; send one RDF document per part; nothing was written.")
        return parts
    if not media:
        raise EndpointError(415, "Say what the body is with a Content-Type header (e.g. text/turtle).")
    return [(await request.body(), request.headers["content-type"])]


def _check_multipart_complete(request: Request, body: bytes) -> None:
    """400 unless the multipart body ends with its closing boundary (a truncated upload must not count as empty)."""
    _, options = parse_options_header(request.headers.get("content-type"))
    boundary = options.get(b"boundary")
    if not boundary:
        raise EndpointError(400, "The multipart/form-data Content-Type has no boundary; nothing was written.")
    closing = b"--" + boundary + b"--"
    if closing not in body:
        raise EndpointError(
            400,
            f"The multipart body ends after {len(body)} bytes without its closing boundary "
            f"{closing.decode('latin-1')!r}: the upload is truncated or malformed; nothing was written.",
        )


async def _checked_parts(request: Request, base_iri: str | None) -> list[tuple[bytes, str]]:
    """The documents of the body, each parsed completely in this process before the writer sees any (all or nothing)."""
    parts = await _parts(request)
    limit = request.app.state.settings.max_rdf_nesting

    def check() -> None:
        for number, (data, media_type) in enumerate(parts, 1):
            where = "the body" if len(parts) == 1 and _media_type(request)[0] != "multipart/form-data" else f"part {number}"
            read_rdf_document(data, media_type, base_iri, limit, where)

    await run_in_threadpool(check)
    return parts


async def _write(request: Request, op: str, graph: str | None, created_status: int = 201) -> Response:
    await check_update_access(request)
    settings = request.app.state.settings
    base_iri = graph or _direct_target(request)
    job = {"op": op, "graph": graph, "parts": [] if op == "graph_delete" else await _checked_parts(request, base_iri)}
    job["base_iri"] = base_iri
    result = await _pool(request).write(job, settings.query_timeout)
    return Response(status_code=created_status if result["created"] else 204)


# -- indirect identification ------------------------------------------------------


@router.api_route("/store", methods=READ_METHODS, summary="Read a graph (?graph=IRI or ?default)", **api_responses.graph_read())
async def store_get(request: Request) -> Response:
    return await _read(request, _indirect_target(request))


@router.put("/store", summary="Replace a graph (needs the update token)", **api_responses.graph_write())
async def store_put(request: Request) -> Response:
    return await _write(request, "graph_put", _indirect_target(request))


@router.post("/store", summary="Add to a graph, or create a new one when none is named (needs the update token)", **api_responses.graph_write())
async def store_post(request: Request) -> Response:
    target = _indirect_target(request, allow_none=True)
    if target is False:
        await check_update_access(request)
        graph = str(request.url_for("store_direct_get", path=uuid.uuid4().hex))
        response = await _write(request, "graph_post", graph)
        response.headers["Location"] = graph
        return response
    return await _write(request, "graph_post", target)


@router.delete("/store", summary="Delete a graph (needs the update token)", **api_responses.graph_write(delete=True))
async def store_delete(request: Request) -> Response:
    return await _write(request, "graph_delete", _indirect_target(request))


# -- direct identification: the graph IRI is the request URL ------------------------


@router.api_route("/store/{path:path}", methods=READ_METHODS, summary="Read the graph named by this URL", **api_responses.graph_read(direct=True))
async def store_direct_get(request: Request, path: str) -> Response:
    return await _read(request, _direct_target(request))


@router.put("/store/{path:path}", summary="Replace the graph named by this URL (needs the update token)", **api_responses.graph_write(direct=True))
async def store_direct_put(request: Request, path: str) -> Response:
    return await _write(request, "graph_put", _direct_target(request))


@router.post("/store/{path:path}", summary="Add to the graph named by this URL (needs the update token)", **api_responses.graph_write(direct=True))
async def store_direct_post(request: Request, path: str) -> Response:
    return await _write(request, "graph_post", _direct_target(request))


@router.delete("/store/{path:path}", summary="Delete the graph named by this URL (needs the update token)", **api_responses.graph_write(direct=True, delete=True))
async def store_direct_delete(request: Request, path: str) -> Response:
    return await _write(request, "graph_delete", _direct_target(request))
