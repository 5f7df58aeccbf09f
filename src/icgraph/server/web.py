"""The pages people browse: home, practice browser, search, governance map, data quality, query editor.

Every page reads the store through the application's pool (``await pool.prepared(...)``, see
`icgraph.server.prepared`: the time limit, memory ceiling and admission of /sparql, nothing run
in the web server's process) and ``request.app.state.settings``.
Each HTML page has a JSON twin (``?format=json``, ``Accept: application/json`` or an
``/api/...`` route), so what a browser shows can be tested without one.

``render_query_editor(request)`` is the HTML page for a browser's GET /sparql.
"""

from __future__ import annotations

import asyncio
import json
import re
from urllib.parse import urlencode
from dataclasses import asdict
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response

from icgraph.config import Settings
from icgraph.namespaces import PRACTICE, PREFIXES, ROOT, expand, sparql_prefixes
from icgraph.search import KINDS as _SEARCH_KINDS, Results, find as find_in_index
from icgraph.similar import KEEP as SIMILAR_LIMIT, similar_to
from icgraph.server.api_responses import TEXT
from icgraph.server.security import EndpointError
from icgraph.server.facet_index import build_index, stored_index
from icgraph.server.facets import Selection, TooManyValues, browse
from icgraph.server.maps import (
    MAP_DRAWING, MAP_GRAPH, MAP_LISTED, MAP_PAGE, MAP_PLACES, allowed_filters, drawing, filter_options, governance_map, json_body,
    load_map_data, page_summary, practice_places, stored_map, stored_map_data,
)
from icgraph.server.pools import pool_of
from icgraph.server.prepared import body as prepared_body
from icgraph.server.templating import script_json, templates

router = APIRouter(tags=["Web pages"])




# ---------------------------------------------------------------------------
# Shared state: the store, and what is computed from it once per application
# ---------------------------------------------------------------------------


def _settings(request: Request) -> Settings:
    return request.app.state.settings


async def _pool(request: Request):
    return await pool_of(request.app)


def _app_cache(request: Request) -> dict:
    """What is read once per application (the query library's listing; the report, keyed by its release)."""
    cache = getattr(request.app.state, "app_cache", None)
    if cache is None:
        cache = request.app.state.app_cache = {}
    return cache


async def _cache(request: Request) -> dict:
    """What the pages compute once per release (home counts, the map): a new release starts afresh."""
    release = (await _pool(request)).release_id
    cache = getattr(request.app.state, "web_cache", None)
    if cache is None or cache.get("release") != release:
        cache = request.app.state.web_cache = {"release": release}
    return cache


def _wants_json(request: Request) -> bool:
    if request.query_params.get("format") == "json":
        return True
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def _page(request: Request, template: str, context: dict, status_code: int = 200) -> HTMLResponse:
    return templates.TemplateResponse(request, template, context, status_code=status_code)


async def headline_counts(pool) -> dict[str, int]:
    """The entities counted on the home page (headline-counts.rq), over the default graph, the merge of the named graphs."""
    (row,) = await pool.prepared("headline-counts")
    return {name: int(term.value) for name, term in row.items()}


async def home_counts(pool) -> dict[str, int]:
    """`headline_counts` and the distinct triples, which the served release's manifest says (a plain store's are counted)."""
    return {**await headline_counts(pool), "triples": (await pool.statistics())["default_triples"]}


def page_url(iri: str) -> str | None:
    """The path of the page of an IRI of ours (``https://w3id.org/icgraph/id/actor/x`` -> ``/id/actor/x``)."""
    for prefix in ("id/", "def"):
        if iri.startswith(ROOT + prefix):
            return "/" + iri[len(ROOT):]
    return None


# ---------------------------------------------------------------------------
# Home
# ---------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse, summary="Home: what the dataset is, headline counts, the ways in")
async def home(request: Request) -> Response:
    cache = await _cache(request)
    if "headlines" not in cache:
        cache["headlines"] = await home_counts(await _pool(request))
    if _wants_json(request):
        return JSONResponse(cache["headlines"])
    return _page(request, "home.html", {"counts": cache["headlines"]})


# ---------------------------------------------------------------------------
# Practice browser
# ---------------------------------------------------------------------------


@router.get("/practices", summary="Practices, filtered by facets (AND across facets, OR within one)")
async def practices(request: Request) -> Response:
    limit = _settings(request).max_facet_values
    try:
        selection = Selection.from_params(list(request.query_params.multi_items()), limit=limit)
    except TooManyValues as error:
        return PlainTextResponse(str(error) + "\n", status_code=400)
    try:
        page = int(request.query_params.get("page") or 1)
    except ValueError:
        return PlainTextResponse("The parameter page must be a whole number (1 for the first page).\n", status_code=400)
    result = browse(selection, await _facet_index(request), page)
    if _wants_json(request):
        facets = [{**f, "values": [v.as_dict() for v in f["values"]]} for f in result["facets"]]
        return JSONResponse(
            {"count": result["count"], "selection": selection.chosen, "url": selection.url(),
             "page": result["page"], "pages": result["pages"], "next": result["next"],
             "practices": result["practices"], "facets": facets}
        )
    return _page(request, "practices.html", {**result, "json_url": _with_format(selection.url())})


async def _facet_index(request: Request):
    """The served release's `FacetIndex`: kept by the release writer, or built from the facet queries; once per release."""
    cache = await _cache(request)
    if "facet-index" not in cache:
        pool = await _pool(request)
        cache["facet-index"] = await asyncio.to_thread(stored_index, pool) or await build_index(pool)
    return cache["facet-index"]


def _with_format(url: str) -> str:
    return url + ("&" if "?" in url else "?") + "format=json"


# ---------------------------------------------------------------------------
# Search
# ---------------------------------------------------------------------------

def search_path(request: Request) -> Path | None:
    """The search index of the served release (written by the build); None for a plain store."""
    release = request.app.state.pool.release
    return release.search_index if release is not None else None


#: The kinds a search may be narrowed to, and their names in the form.
SEARCH_KIND_NAMES = {kind: heading.lower() for kind, _, _, heading in _SEARCH_KINDS}
SEARCH_KINDS = tuple(SEARCH_KIND_NAMES)


def _search(request: Request) -> tuple[str | None, Results]:
    text = (request.query_params.get("q") or "").strip()[:200]
    kind = request.query_params.get("kind")
    kind = kind if kind in SEARCH_KINDS else None
    path = search_path(request)
    if text and path is None:
        raise EndpointError(404, "No search index here: this server reads a store that is not a release of `icgraph build`.")
    results = find_in_index(path, text, kind=kind) if text else Results(text, [], None, False)
    return kind, results


@router.get("/search", summary="Full-text search over practices, actors and places (HTML), grouped by kind, with \"did you mean\"")
async def search_page(request: Request) -> Response:
    kind, results = await asyncio.to_thread(_search, request)
    if _wants_json(request):
        return JSONResponse({**results.as_dict(), "kind": kind})
    return _page(request, "search.html", {"q": results.query, "kind": kind, "results": results, "kinds": SEARCH_KIND_NAMES})


@router.get("/api/search", summary="Full-text search over practices, actors and places (JSON): ranked results, groups by kind, a suggestion for unknown words")
async def search_api(request: Request) -> Response:
    kind, results = await asyncio.to_thread(_search, request)
    return JSONResponse({**results.as_dict(), "kind": kind})


def similar_practices(request: Request, slug: str, limit: int = SIMILAR_LIMIT):
    """The practices similar to ``practice:slug`` from the release's search index; None when it knows no such practice."""
    path = search_path(request)
    if path is None:
        raise EndpointError(404, "No similar practices here: this server reads a store that is not a release of `icgraph build`.")
    return similar_to(path, str(PRACTICE) + slug, limit)


@router.get(
    "/api/practices/{slug}/similar",
    summary="The practices most like one practice, each with its reasons (shared actors, target groups, areas, principle, text)",
    responses={404: {"description": "No practice with this slug, or the server reads a store that is not a release", "content": TEXT}},
)
async def similar_api(request: Request, slug: str) -> Response:
    found = await asyncio.to_thread(similar_practices, request, slug, SIMILAR_LIMIT)
    if found is None:
        raise EndpointError(404, f"No practice {slug!r}: see /practices for the practices and their slugs (the last part of /id/practice/SLUG).")
    return JSONResponse({"practice": str(PRACTICE) + slug, "count": len(found), "similar": [s.as_dict() for s in found]})


# ---------------------------------------------------------------------------
# Maps
# ---------------------------------------------------------------------------


async def _map_data(request: Request):
    """The map's data, once per release: as the release keeps it (`maps.MAP_DATA`), or read by the map's queries."""
    cache = await _cache(request)
    if "map" not in cache:
        pool = await _pool(request)
        cache["map"] = await asyncio.to_thread(stored_map_data, pool) or await load_map_data(pool)
    return cache["map"]


async def _stored_map(request: Request, name: str) -> bytes | None:
    """One of the map's answers the release keeps (`maps.map_indexes`: the map without filters), once per release."""
    cache = await _cache(request)
    key = f"stored:{name}"
    if key not in cache:
        cache[key] = await asyncio.to_thread(stored_map, await _pool(request), name)
    return cache[key]


async def _map_page_base(request: Request) -> dict:
    """The map page without filters (`maps.page_summary`) with the filters' options and accepted values:
    kept by the release writer, or computed from the map's data."""
    cache = await _cache(request)
    if "map-page" not in cache:
        stored = await _stored_map(request, MAP_PAGE)
        if stored is not None:
            cache["map-page"] = json.loads(stored)
        else:
            data = await _map_data(request)
            graph, places = await _map_views(request, dict.fromkeys(("country", "principle", "network")))
            cache["map-page"] = {**page_summary(graph, places), "options": filter_options(data), "allowed": allowed_filters(data)}
    return cache["map-page"]


async def _map_filters(request: Request) -> dict[str, str | None]:
    allowed = (await _map_page_base(request))["allowed"]
    filters = {}
    for name, values in allowed.items():
        value = request.query_params.get(name) or None
        filters[name] = value if value in values else None
    return filters


#: How many filter combinations of the map each release keeps drawn (`_map_views`).
_MAP_VIEWS = 64


async def _map_views(request: Request, filters: dict[str, str | None]) -> tuple[dict, dict]:
    """The governance map and the practices by place under ``filters``, computed once per release and filters."""
    cache = await _cache(request)
    views = cache.setdefault("map-views", {})
    key = tuple(sorted(filters.items()))
    if key not in views:
        data = await _map_data(request)
        views[key] = await asyncio.to_thread(
            lambda: (governance_map(data, **filters), practice_places(data, country=filters["country"], principle=filters["principle"]))
        )
        while len(views) > _MAP_VIEWS:
            del views[next(iter(views))]
    return views[key]


def _json_bytes(body: bytes) -> Response:
    return Response(body, media_type="application/json")


async def _map_graph(request: Request, filters: dict[str, str | None]) -> Response:
    """/api/map's answer: without filters, as the release keeps it; else drawn from the map's data."""
    if not any(filters.values()) and (stored := await _stored_map(request, MAP_GRAPH)) is not None:
        return _json_bytes(stored)
    graph, _ = await _map_views(request, filters)
    return _json_bytes(json_body(graph))


@router.get("/api/map", summary="The governance map as JSON: actors (nodes, in tiers by level) and cooperation (edges)")
async def map_api(request: Request) -> Response:
    return await _map_graph(request, await _map_filters(request))


@router.get("/api/map/drawing", summary="The governance map as the page draws it: /api/map's nodes and edges as rows, "
                                    "an edge's practices and partnerships counted")
async def map_drawing_api(request: Request) -> Response:
    filters = await _map_filters(request)
    if not any(filters.values()) and (stored := await _stored_map(request, MAP_DRAWING)) is not None:
        return _json_bytes(stored)
    cache = await _cache(request)
    drawings = cache.setdefault("map-drawings", {})  # encoded once per release and filters (2.4 MB for a country at 100x)
    key = tuple(sorted(filters.items()))
    if key not in drawings:
        graph, _ = await _map_views(request, filters)
        drawings[key] = await asyncio.to_thread(lambda: json_body(drawing(graph)))
        while len(drawings) > _MAP_VIEWS:
            del drawings[next(iter(drawings))]
    return _json_bytes(drawings[key])


@router.get("/api/map/places", summary="Practices by country and by city or region (with coordinates), as JSON")
async def places_api(request: Request) -> Response:
    filters = {**await _map_filters(request), "network": None}
    if not any(filters.values()) and (stored := await _stored_map(request, MAP_PLACES)) is not None:
        return _json_bytes(stored)
    _, places = await _map_views(request, filters)
    return _json_bytes(json_body(places))


@router.get("/map", summary="Governance map: actors by level and their cooperation; practices on a map")
async def map_page(request: Request) -> Response:
    filters = await _map_filters(request)
    if _wants_json(request):
        return await _map_graph(request, filters)
    base = await _map_page_base(request)
    summary = base if not any(filters.values()) else page_summary(*await _map_views(request, filters))
    query = urlencode({name: value for name, value in filters.items() if value})
    places_query = urlencode({name: value for name, value in filters.items() if value and name != "network"})
    # the drawings fetch their data (/api/map/drawing, /api/map/places): inlined, it made the page 38 MB at 100x;
    # the page lists the first MAP_LISTED actors and places (`maps.page_summary`)
    return _page(
        request,
        "map.html",
        {"filters": filters, "options": base["options"], "graph": summary["graph"], "places": summary["places"],
         "listed": MAP_LISTED, "graph_url": "/api/map" + ("?" + query if query else ""),
         "drawing_url": "/api/map/drawing" + ("?" + query if query else ""),
         "places_url": "/api/map/places" + ("?" + places_query if places_query else "")},
    )


def _script_json(value) -> str:
    """JSON safe to put inside a <script> element (`templating.script_json`)."""
    return script_json(value)


# ---------------------------------------------------------------------------
# Data quality
# ---------------------------------------------------------------------------


def _report(request: Request):
    """The SHACL report of the served release (written by the build's gate), read once per release."""
    release = request.app.state.pool.release
    if release is None or not release.report_json.is_file():
        return None
    cache = _app_cache(request)
    if cache.get("report", (None,))[0] != release.id:
        from icgraph.validate import load_report

        cache["report"] = (release.id, load_report(release.report_json))
    return cache["report"][1]


@router.get("/quality", summary="The SHACL data-quality report of the current data, grouped by severity")
async def quality(request: Request) -> Response:
    result = await asyncio.to_thread(_report, request)
    error = None if result is not None else (
        "This server reads a store without a SHACL report (not a release of `icgraph build`, or one loaded "
        "from a dump): run `icgraph validate`, or build a release with `icgraph build`."
    )
    if _wants_json(request):
        if result is None:
            return JSONResponse({"status": "error", "error": error}, status_code=404)
        return JSONResponse(
            {"status": "done", "conforms": result.conforms, "counts": result.counts,
             "issues": [i.as_dict() for i in result.issues]}
        )
    groups = []
    if result is not None:
        for severity, by_shape in result.grouped().items():
            shapes = []
            for shape_label, issues in by_shape.items():
                rows = [{**asdict(i), "url": page_url(expand(i.focus_node.split("#")[0]))} for i in issues]
                shapes.append({"label": shape_label, "shape": issues[0].shape, "fix": issues[0].message, "issues": rows})
            groups.append({"severity": severity, "count": sum(len(s["issues"]) for s in shapes), "shapes": shapes})
    return _page(
        request,
        "quality.html",
        {"result": result, "error": error, "groups": groups},
        status_code=200 if result is not None else 404,
    )


# ---------------------------------------------------------------------------
# Query editor
# ---------------------------------------------------------------------------


_WHERE = re.compile(r"^(?![ \t]*#)(.*?\bWHERE\s*\{)", re.IGNORECASE | re.MULTILINE)


def ready_to_run(text: str, parameters) -> str:
    """A library query with its parameter defaults bound by a VALUES block opening the WHERE clause.

    The query then runs as it is in the editor, and the block shows where to change a value.
    """
    from icgraph.queries import to_term

    bound = [(p.variable, str(to_term(p.default, p.type, p.name))) for p in parameters if p.default is not None]
    match = _WHERE.search(text)
    if not bound or match is None:
        return text
    block = "".join(f"\n  VALUES ?{variable} {{ {term} }}  # parameter default: change it here" for variable, term in bound)
    return text[: match.end()] + block + text[match.end():]


def _library(settings: Settings) -> list[dict]:
    try:
        from icgraph.queries import load_library
    except ImportError:  # the query library module is not there yet
        return []
    entries = []
    for name, query in load_library(settings.queries_dir).items():
        entries.append(
            {"name": name, "summary": query.summary or name, "description": query.description,
             "tags": list(query.tags), "query": ready_to_run(query.text, query.parameters),
             "parameters": [{"name": p.name, "type": p.type, "default": p.default} for p in query.parameters]}
        )
    return entries


async def render_query_editor(request: Request, query: str | None = None) -> HTMLResponse:
    """The SPARQL query editor (YASGUI, served from /static/vendor): the page for a browser's GET /sparql.

    ``query`` opens the editor with that text (a short link, server/short_links.py)."""
    settings = _settings(request)
    cache = _app_cache(request)
    if "library" not in cache:
        cache["library"] = _library(settings)
    initial = query or (request.query_params.get("query") if request.url.path != "/sparql" else None)
    config = {
        "endpoint": "/sparql",
        "complete": "/api/complete",
        "root": ROOT,
        "prefixes": PREFIXES,
        "defaultQuery": initial or sparql_prefixes() + "\n" + prepared_body("editor-default"),
        "library": cache["library"],
        "formats": {"select": ["json", "csv", "tsv", "xml"], "graph": ["ttl", "nt", "jsonld", "rdf"]},
    }
    return _page(request, "query_editor.html", {"config_json": _script_json(config), "library": cache["library"]})


@router.get("/query", response_class=HTMLResponse, summary="The SPARQL query editor (also at GET /sparql for browsers)")
async def query_editor(request: Request) -> HTMLResponse:
    return await render_query_editor(request)


def install(app) -> None:
    """Add these pages to an application: the router, /static (unless mounted), and the editor for GET /sparql."""
    from starlette.routing import Mount

    from icgraph.server.templating import static_files

    if not any(isinstance(route, Mount) and route.name == "static" for route in app.routes):
        app.mount("/static", static_files(), name="static")
    if not any(getattr(route, "path", None) == "/practices" for route in app.routes):
        app.include_router(router)
    app.state.query_editor = render_query_editor
