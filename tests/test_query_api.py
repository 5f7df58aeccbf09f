"""The query-library API (icgraph.server.query_api): listing, running, negotiation, errors, OpenAPI.

A small FastAPI app includes the router over the built store (queried through ``app.state.pool``), as the
application does.
"""

from __future__ import annotations

import csv
import io
import json

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from conftest import pooled_client
from icgraph.config import PROJECT_DIR
from icgraph.queries import load_library
from icgraph.server.query_api import build_router, router

LIBRARY = load_library(PROJECT_DIR / "queries")


@pytest.fixture(scope="module")
def client(built) -> TestClient:
    app = FastAPI()
    app.include_router(router)
    with pooled_client(app, built) as client:
        yield client


def test_listing_describes_every_query(client):
    response = client.get("/api/queries")
    assert response.status_code == 200
    listed = {q["name"]: q for q in response.json()}
    assert set(listed) == set(LIBRARY)
    entry = listed["practices-started-in-year"]
    assert entry["summary"] and entry["description"] and entry["tags"]
    assert entry["parameters"] == [
        {"name": "year", "type": "year", "required": False, "default": "2022", "description": entry["parameters"][0]["description"]}
    ]
    assert entry["links"]["self"].endswith("/api/queries/practices-started-in-year")
    assert entry["links"]["csv"].endswith("/api/queries/practices-started-in-year?format=csv")
    assert listed["practice-graph"]["formats"][0] == "ttl"


def test_a_query_answers_sparql_json_by_default(client):
    response = client.get("/api/queries/practices-per-principle")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/sparql-results+json")
    bindings = response.json()["results"]["bindings"]
    assert {b["notation"]["value"]: int(b["practices"]["value"]) for b in bindings}["equality"] == 30


@pytest.mark.parametrize("accept, media", [
    ("text/csv", "text/csv"),
    ("text/tab-separated-values", "text/tab-separated-values"),
    ("application/sparql-results+xml", "application/sparql-results+xml"),
    ("application/json", "application/sparql-results+json"),
])
def test_accept_header_picks_the_format(client, accept, media):
    response = client.get("/api/queries/practices", headers={"Accept": accept})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(media)


def test_format_parameter_wins_over_accept_and_csv_has_the_canonical_columns(client):
    response = client.get("/api/queries/practices?format=csv", headers={"Accept": "application/sparql-results+json"})
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == ["practice", "title", "principle", "country", "countryCode", "place", "type", "start", "end", "ongoing"]
    assert len(rows) == 84
    response = client.get("/api/queries/practice-actors?format=csv")
    assert next(csv.reader(io.StringIO(response.text))) == ["practice", "title", "actor", "actorName", "kind", "level", "role"]


def test_construct_answers_turtle_or_json_ld(client):
    turtle = client.get("/api/queries/practice-graph", params={"practice": "practice:bilbao-anti-rumours-strategy"})
    assert turtle.status_code == 200 and turtle.headers["content-type"].startswith("text/turtle")
    assert "bilbao-anti-rumours-strategy" in turtle.text
    jsonld = client.get("/api/queries/practice-graph", headers={"Accept": "application/ld+json"})
    assert jsonld.headers["content-type"].startswith("application/ld+json")
    assert any(node.get("@id", "").endswith("bilbao-anti-rumours-strategy") for node in json.loads(jsonld.text))
    assert client.get("/api/queries/practice-graph?format=csv").status_code == 406


def test_parameters_are_bound(client):
    spain = client.get("/api/queries/practices-by-country", params={"country": "place:es"}).json()["results"]["bindings"]
    italy = client.get("/api/queries/practices-by-country", params={"country": "https://w3id.org/icgraph/id/place/it"}).json()
    assert len(spain) == 17
    italian = {b["practice"]["value"] for b in italy["results"]["bindings"]}
    assert italian and italian.isdisjoint(b["practice"]["value"] for b in spain)


@pytest.mark.parametrize("name, params, hidden", [
    ("practices-by-country", {"country": "place:es"}, "_country_iri"),
    ("practices-started-in-year", {"year": "2022"}, "_year_year"),
    ("practices-spanning-levels", {}, "__minLevels_integer"),
])
def test_results_show_only_the_public_variables_of_the_query(client, name, params, hidden):
    """Issue 20: parameter variables (?_year_year, ?__minLevels_integer) are plumbing, not columns."""
    document = client.get(f"/api/queries/{name}", params=params).json()
    assert document["head"]["vars"] and hidden not in document["head"]["vars"]
    assert document["results"]["bindings"] and all(hidden not in row for row in document["results"]["bindings"])
    header = next(csv.reader(io.StringIO(client.get(f"/api/queries/{name}", params={**params, "format": "csv"}).text)))
    assert header == document["head"]["vars"]


@pytest.mark.parametrize("params", [
    {"year": "twenty"},
    {"year": "2022.5"},
])
def test_a_parameter_of_the_wrong_type_is_a_400_with_a_message(client, params):
    response = client.get("/api/queries/practices-started-in-year", params=params)
    assert response.status_code == 400
    assert "year" in response.json()["detail"]


@pytest.mark.parametrize("value", ["place:es> } ; DROP ALL ; SELECT * { ?s ?p ?o", "<https://x.org/> } DROP", 'es" } ;'])
def test_injection_attempts_are_a_400_not_a_query(client, value, store):
    before = len(store)
    response = client.get("/api/queries/practices-by-country", params={"country": value})
    assert response.status_code == 400
    assert len(store) == before


def test_a_well_formed_but_unknown_iri_matches_nothing(client):
    response = client.get("/api/queries/actor-profile", params={"actor": "https://example.org/x%3E%7D"})
    assert response.status_code in (200, 400)
    if response.status_code == 200:
        assert response.json()["results"]["bindings"] == []


def test_unknown_parameter_is_a_400(client):
    response = client.get("/api/queries/practices-by-country", params={"county": "place:es"})
    assert response.status_code == 400
    assert "county" in response.json()["detail"] and "country" in response.json()["detail"]


def test_repeated_parameter_is_a_400(client):
    assert client.get("/api/queries/practices-by-country?country=place:es&country=place:it").status_code == 400


def test_unknown_query_is_a_404(client):
    assert client.get("/api/queries/no-such-query").status_code == 404
    assert client.get("/api/queries/..%2Fpyproject").status_code == 404


def test_openapi_has_a_typed_path_per_query(client):
    spec = client.get("/openapi.json").json()
    for name, query in LIBRARY.items():
        operation = spec["paths"][f"/api/queries/{name}"]["get"]
        assert operation["summary"] == query.summary
        assert query.description.split()[0] in operation["description"]
        declared = {p["name"]: p for p in operation["parameters"]}
        assert set(declared) == {p.name for p in query.parameters} | {"format", "limit", "cursor"}
    year = {p["name"]: p for p in spec["paths"]["/api/queries/practices-started-in-year"]["get"]["parameters"]}["year"]
    assert year["schema"]["type"] == "integer" and year["schema"]["default"] == 2022
    actor = {p["name"]: p for p in spec["paths"]["/api/queries/actor-profile"]["get"]["parameters"]}["actor"]
    assert actor["schema"] == {"type": "string", "format": "uri", "default": "actor:municipality-bilbao"}
    assert "/api/queries" in spec["paths"]


def test_router_refuses_a_query_whose_parameter_clashes_with_format(tmp_path):
    (tmp_path / "bad.rq").write_text("#+ summary: x\n#+ tags: [x]\nSELECT ?_format_string WHERE {}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="reserved"):
        build_router(tmp_path)


def test_without_app_state_pool_one_is_started_over_the_settings_store(built):
    app = FastAPI()
    app.state.settings = built
    app.include_router(router)
    with TestClient(app) as client:
        response = client.get("/api/queries/working-group-decisions?format=csv")
        client.portal.call(app.state.pool.close)
    assert response.status_code == 200
    assert len(response.text.strip().splitlines()) == 6  # header and the 5 decisions
