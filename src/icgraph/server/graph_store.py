"""The SPARQL 1.1 Graph Store HTTP Protocol at /store.

Indirect identification (``/store?graph=IRI`` or ``/store?default``) and direct
identification (``/store/anything``: the graph whose IRI is that URL). GET and HEAD are
open to all; PUT, POST and DELETE need the update token, like SPARQL Update. POST to
``/store`` itself creates a new graph and answers 201 with its IRI in Location.

With ``Settings.union_default_graph`` the default graph read here is the one queries see
(the union of the named graphs); writes to ``?default`` go to the store's own default graph.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response
from starlette.datastructures import UploadFile

from icgraph.server.security import EndpointError, check_update_token, validate_iri
from icgraph.server.sparql import _media_type, _pool, complete

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
        parts = []
        async with request.form() as form:
            for _, value in form.multi_items():
                if isinstance(value, UploadFile):
                    parts.append((await value.read(), value.content_type or "text/turtle"))
                else:
                    parts.append((value.encode("utf-8"), "text/turtle"))
        return parts
    if not media:
        raise EndpointError(415, "Say what the body is with a Content-Type header (e.g. text/turtle).")
    return [(await request.body(), request.headers["content-type"])]


async def _write(request: Request, op: str, graph: str | None, created_status: int = 201) -> Response:
    check_update_token(request.app.state.update_token, request.headers.get("authorization"))
    settings = request.app.state.settings
    job = {"op": op, "graph": graph, "parts": [] if op == "graph_delete" else await _parts(request)}
    job["base_iri"] = graph or _direct_target(request)
    result = await _pool(request).write(job, settings.query_timeout)
    return Response(status_code=created_status if result["created"] else 204)


# -- indirect identification ------------------------------------------------------


@router.api_route("/store", methods=READ_METHODS, summary="Read a graph (?graph=IRI or ?default)")
async def store_get(request: Request) -> Response:
    return await _read(request, _indirect_target(request))


@router.put("/store", summary="Replace a graph (needs the update token)")
async def store_put(request: Request) -> Response:
    return await _write(request, "graph_put", _indirect_target(request))


@router.post("/store", summary="Add to a graph, or create a new one when none is named (needs the update token)")
async def store_post(request: Request) -> Response:
    target = _indirect_target(request, allow_none=True)
    if target is False:
        check_update_token(request.app.state.update_token, request.headers.get("authorization"))
        graph = str(request.url_for("store_direct_get", path=uuid.uuid4().hex))
        response = await _write(request, "graph_post", graph)
        response.headers["Location"] = graph
        return response
    return await _write(request, "graph_post", target)


@router.delete("/store", summary="Delete a graph (needs the update token)")
async def store_delete(request: Request) -> Response:
    return await _write(request, "graph_delete", _indirect_target(request))


# -- direct identification: the graph IRI is the request URL ------------------------


@router.api_route("/store/{path:path}", methods=READ_METHODS, summary="Read the graph named by this URL")
async def store_direct_get(request: Request, path: str) -> Response:
    return await _read(request, _direct_target(request))


@router.put("/store/{path:path}", summary="Replace the graph named by this URL (needs the update token)")
async def store_direct_put(request: Request, path: str) -> Response:
    return await _write(request, "graph_put", _direct_target(request))


@router.post("/store/{path:path}", summary="Add to the graph named by this URL (needs the update token)")
async def store_direct_post(request: Request, path: str) -> Response:
    return await _write(request, "graph_post", _direct_target(request))


@router.delete("/store/{path:path}", summary="Delete the graph named by this URL (needs the update token)")
async def store_direct_delete(request: Request, path: str) -> Response:
    return await _write(request, "graph_delete", _direct_target(request))
