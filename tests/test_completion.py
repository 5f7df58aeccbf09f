"""GET /api/complete: the editor's autocompletion from icgraph's own data (issue 22), checked against the built graph."""

from __future__ import annotations

import pyoxigraph as ox
import pytest

from conftest import pooled_client
from icgraph.config import Settings
from icgraph.namespaces import PREFIXES, sparql_prefixes
from icgraph.server.app import create_app


@pytest.fixture(scope="module")
def client(built: Settings):
    with pooled_client(create_app(built), built) as client:
        yield client


def complete(client, **params) -> list[dict]:
    response = client.get("/api/complete", params=params)
    assert response.status_code == 200, response.text
    return response.json()["suggestions"]


def labelled(store: ox.Store, iri: str) -> set[str]:
    query = f"{sparql_prefixes()} SELECT ?l WHERE {{ <{iri}> rdfs:label|skos:prefLabel|skos:altLabel|dct:title ?l }}"
    return {row["l"].value for row in store.query(query, use_default_graph_as_union=True)}


def test_icg_terms_complete_from_the_ontology(client, store):
    found = complete(client, q="gov", prefix="icg")
    names = [s["name"] for s in found]
    assert "icg:governanceLevel" in names
    assert all(name.startswith("icg:") and s["prefix"] == "icg" for name, s in zip(names, found))
    level = next(s for s in found if s["name"] == "icg:governanceLevel")
    assert level["kind"] == "property" and level["label"] in labelled(store, level["iri"])
    assert level["iri"] == PREFIXES["icg"] + "governanceLevel"


def test_classes_only_when_asked(client):
    found = complete(client, q="practice", kind="class")
    assert {s["kind"] for s in found} == {"class"}
    assert found[0]["name"] == "icg:Practice"  # a prefix match on the shortest label comes first


def test_practices_actors_and_places_by_label(client, store):
    practices = complete(client, q="anti-rumours", kind="practice")
    assert len(practices) >= 2 and all(s["name"].startswith("practice:") for s in practices)
    assert all(any("anti-rumours" in label.lower() for label in labelled(store, s["iri"])) for s in practices)
    places = complete(client, q="spain", kind="place")
    assert "place:es" in [s["name"] for s in places]
    concepts = complete(client, q="", prefix="level")
    assert {s["name"] for s in concepts} >= {"level:local", "level:regional", "level:national"}


def test_results_are_bounded_and_text_is_never_query_text(client):
    assert len(complete(client, q="a", limit=5)) == 5
    assert complete(client, q='") } SELECT * WHERE { ?s ?p ?o } #') == []  # matched as a literal, not run
    assert client.get("/api/complete", params={"q": "a", "limit": 500}).status_code == 422
    assert client.get("/api/complete", params={"q": "x" * 101}).status_code == 422
    refused = client.get("/api/complete", params={"q": "a", "prefix": "nope"})
    assert refused.status_code == 400 and "icgraph prefix" in refused.text


def test_documented_in_openapi(client):
    operation = client.get("/openapi.json").json()["paths"]["/api/complete"]["get"]
    assert {p["name"] for p in operation["parameters"]} == {"q", "kind", "prefix", "limit"}
    assert "Editor" in operation["tags"]
