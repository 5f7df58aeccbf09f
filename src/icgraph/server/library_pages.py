"""The query library as pages: ``/library`` lists the queries, ``/library/{name}`` shows one.

A query's page has its description, its parameters as a form, a run button and the ``.rq`` text.
Running opens the query editor with the parameter values bound (``/library/{name}/run``, which
checks the values as the API does and redirects to ``/query?query=...&run=1``); the same form can
also fetch the result from the API (``/api/queries/{name}``) as CSV, JSON, Turtle...

Programs keep reading the library as JSON at ``/api/queries`` (server/query_api.py); these pages
answer JSON too when asked (``?format=json`` or ``Accept: application/json``), in the same shape.
"""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from icgraph.queries import QueryParameterError, load_library
from icgraph.server import query_api
from icgraph.server.templating import templates

router = APIRouter(tags=["Web pages"])

#: The HTML input that fits each parameter type (the server checks the value whatever the browser does).
INPUT_TYPES = {"integer": "number", "year": "number", "decimal": "number", "date": "date"}


def _wants_json(request: Request) -> bool:
    if request.query_params.get("format") == "json":
        return True
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def _folder(request: Request):
    return request.app.state.settings.queries_dir


def _entry(query, base: str = "") -> dict:
    described = query_api.describe(query, base)
    described["query"] = query.text
    described["page"] = f"{base}/library/{query.name}"
    for parameter in described["parameters"]:
        parameter["input"] = INPUT_TYPES.get(parameter["type"], "text")
    return described


@router.get("/library", response_class=HTMLResponse, summary="The query library as a page (JSON: /api/queries)")
async def library_page(request: Request) -> Response:
    queries = load_library(_folder(request)).values()
    if _wants_json(request):
        base = str(request.base_url).rstrip("/")
        return JSONResponse([query_api.describe(q, base) for q in queries])
    entries = [_entry(q) for q in queries]
    tags = sorted({tag for entry in entries for tag in entry["tags"]})
    return templates.TemplateResponse(request, "library.html", {"queries": entries, "tags": tags})


@router.get("/library/{name}", response_class=HTMLResponse, summary="One library query: description, parameters, run, text")
async def library_query_page(name: str, request: Request) -> Response:
    query = query_api._load(_folder(request), name)
    if _wants_json(request):
        return JSONResponse(_entry(query, str(request.base_url).rstrip("/")))
    return templates.TemplateResponse(request, "library_query.html", {"q": _entry(query)})


@router.get("/library/{name}/run", summary="Open a library query in the editor with the given parameter values")
async def run_in_editor(name: str, request: Request) -> Response:
    from icgraph.server.web import ready_to_run

    query = query_api._load(_folder(request), name)
    values, _ = query_api.parameter_values(request, query)
    values = {key: value for key, value in values.items() if value != ""}  # an empty field means "the default"
    try:
        query.bindings(values)
    except QueryParameterError as error:
        raise HTTPException(400, str(error)) from None
    parameters = [replace(p, default=values.get(p.name, p.default)) for p in query.parameters]
    text = ready_to_run(query.text, parameters)
    return RedirectResponse("/query?" + urlencode({"query": text, "run": "1"}), status_code=303)
