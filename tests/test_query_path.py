"""Pages run their SPARQL where /sparql runs it: on the pool, under its limits, never in the event loop.

- every file of icgraph/sparql parses and carries its header;
- a page whose query is held in the pool does not hold up a cheap request (/static);
- a page query past the time limit gets the pool's 504, like /sparql;
- a request with more facet values than ``Settings.max_facet_values`` gets 400 at once.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import replace

import pyoxigraph as ox
import pytest
from fastapi import FastAPI

from conftest import pooled_client
from icgraph import sparql
from icgraph.server import documents, linked_data, prepared, web
from icgraph.server.templating import static_files


@pytest.mark.parametrize("name", sparql.names())
def test_each_query_file_parses_and_has_a_header(name):
    query = sparql.query(name)
    assert query.summary, f"sparql/{name}.rq has no '#+ summary:' line"
    assert query.tags, f"sparql/{name}.rq has no '#+ tags:' line"
    if "update" in query.tags:
        ox.Store().update(sparql.load(name))  # parses (and runs on an empty store)
        return
    ox.Store().query(sparql.load(name))  # parses (and runs on an empty store)
    for parameter in query.parameters:  # bound by substitutions, so a SELECT must project it
        bound = {parameter.name: ox.NamedNode("https://w3id.org/icgraph/id/x")}
        ox.Store().query(sparql.load(name), substitutions={ox.Variable(v): t for v, t in prepared.substitutions(query, bound)[1].items()})


def test_the_period_facet_query_knows_every_period_token():
    from icgraph.server.facets import PeriodFacet

    text = prepared.load("facet-period").text
    assert all(f'"{period.token}"' in text for period in PeriodFacet.PERIODS)


def _app(built, **limits) -> FastAPI:
    app = FastAPI()
    app.state.settings = replace(built, **limits)
    app.mount("/static", static_files(), name="static")
    web.install(app)
    app.include_router(linked_data.router)
    app.include_router(documents.router)
    return app


@pytest.fixture(scope="module")
def client(built):
    with pooled_client(_app(built, max_facet_values=50)) as client:
        yield client


def test_a_thousand_facet_values_get_400_saying_how_many_are_allowed(client):
    pairs = [(facet, f"{facet[0]}{n}") for n in range(334) for facet in ("country", "level", "kind")][:1000]
    pool = client.app.state.pool
    asked = []
    original = pool.prepared

    async def spy(*args, **kwargs):
        asked.append(args)
        return await original(*args, **kwargs)

    pool.prepared = spy
    try:
        response = client.get("/practices", params=pairs)
    finally:
        del pool.prepared
    assert response.status_code == 400
    assert "1000 facet values" in response.text and "at most 50" in response.text
    assert asked == [], "a refused request runs no query"
    assert client.get("/practices", params=pairs[:50] + [("format", "json")]).status_code == 200


def test_a_page_query_held_in_the_pool_does_not_hold_up_other_requests(client):
    """While a practice page waits for the pool (its query held there), /static answers: the page awaits, it does not block."""
    pool = client.app.state.pool
    entered, release = threading.Event(), asyncio.Event()
    original = pool.read

    async def held(job, timeout):
        if job["op"] == "prepared":
            entered.set()
            await release.wait()
        return await original(job, timeout)

    pool.read = held
    page: dict = {}
    worker = threading.Thread(target=lambda: page.update(response=client.get("/id/practice/bilbao-anti-rumours-strategy.html")))
    try:
        worker.start()
        assert entered.wait(60), "the page's query reached the pool"
        css = client.get("/static/web.css")
        assert css.status_code == 200 and css.content
        assert "response" not in page, "the page is still waiting for its query"
    finally:
        client.portal.call(release.set)
        worker.join(60)
        del pool.read
    assert page["response"].status_code == 200 and "Anti-rumours" in page["response"].text


def test_pages_run_under_the_pool_time_limit(built):
    """A page whose queries outlive the time limit gets the pool's 504 message (the worker is replaced), not a hang.

    What the release precomputed (the map, the browser's facet index: icgraph.aggregates) runs nothing, so it still answers."""
    with pooled_client(_app(built, query_timeout=1e-9)) as client:
        for path in ("/id/practice/bilbao-anti-rumours-strategy",):
            response = client.get(path)
            assert response.status_code == 504, (path, response.status_code, response.text[:200])
            assert "this endpoint's time limit" in response.text
        for path in ("/practices", "/practices?level=national&role=funder", "/api/map"):
            assert client.get(path).status_code == 200, path
        assert client.get("/static/web.css").status_code == 200


def test_library_queries_run_under_the_pool_time_limit(built):
    from icgraph.server.query_api import router

    app = FastAPI()
    app.include_router(router)
    with pooled_client(app, replace(built, query_timeout=1e-9)) as client:
        response = client.get("/api/queries/practices-by-country", params={"country": "place:it"})
        assert response.status_code == 504 and "time limit" in response.text
        assert client.get("/api/queries/practices-per-principle").status_code == 200  # precomputed with the release


def test_selecting_any_offered_value_shows_as_many_practices_as_its_count(client):
    """Each facet's filter (its query opened with VALUES ?value) agrees with its counts."""
    facets = client.get("/practices?format=json").json()["facets"]
    for facet in facets:
        for value in facet["values"][:2]:
            data = client.get("/practices", params={facet["name"]: value["value"], "format": "json"}).json()
            assert data["count"] == value["count"], (facet["name"], value["value"])
