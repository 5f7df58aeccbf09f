"""JSON-LD compacted with the project's context: the release's JSON-LD dump and the /id/ documents read
as the terms of ontology/context.jsonld, carry the context they need inline (nothing to fetch), and
rdflib reads them back to the same triples; the whole context is served at /context.jsonld."""

from __future__ import annotations

import json

import pytest
from fastapi import FastAPI
from rdflib import Graph
from rdflib.compare import isomorphic

from conftest import pooled_client
from icgraph.jsonld import CONTEXT_PATH
from icgraph.mapping.context import publication_context
from icgraph.release import current_release
from icgraph.server import documents, linked_data


@pytest.fixture(scope="module")
def client(built):
    app = FastAPI()
    app.state.settings = built
    app.include_router(linked_data.router)
    app.include_router(documents.router)
    with pooled_client(app) as client:
        yield client


def _keys(node, found: set) -> set:
    if isinstance(node, dict):
        for key, value in node.items():
            if key != "@context":
                found.add(key)
                _keys(value, found)
    elif isinstance(node, list):
        for item in node:
            _keys(item, found)
    return found


def test_the_json_ld_dump_is_compacted_and_holds_the_same_triples(built):
    release = current_release(built.store, built.build_dir)
    document = json.loads(release.dump("icgraph.jsonld").read_text(encoding="utf-8"))
    assert isinstance(document["@context"], dict) and document["@context"]["icg"] == "https://w3id.org/icgraph/def#"
    keys = _keys(document, set())
    assert "country" in keys and len(keys & set(publication_context())) >= 20, "properties read as the context's terms"
    assert not any(key.startswith("http") for key in keys), "no property left as a full IRI"
    from_jsonld = Graph().parse(data=json.dumps(document), format="json-ld")
    from_turtle = Graph().parse(release.dump("icgraph.ttl"), format="turtle")
    assert len(from_jsonld) == len(from_turtle)
    assert isomorphic(from_jsonld, from_turtle)


@pytest.mark.parametrize("path", ["/id/practice/bilbao-anti-rumours-strategy", "/id/place/es", "/id/actor/council-of-europe"])
def test_entity_documents_are_compacted_and_read_back_to_the_same_triples(client, path):
    response = client.get(path + ".jsonld")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/ld+json")
    document = response.json()
    context = document["@context"]
    full = publication_context()
    assert context and all(full[term] == definition for term, definition in context.items())
    assert not any(key.startswith("http") for key in _keys(document, set()))
    triples = client.get(path + ".nt")
    assert triples.status_code == 200
    assert isomorphic(Graph().parse(data=response.text, format="json-ld"), Graph().parse(data=triples.text, format="nt"))


def test_the_context_is_served_at_a_stable_address(client):
    response = client.get(CONTEXT_PATH)
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/ld+json")
    assert response.json() == {"@context": publication_context()}
    # a document that names the context by that address reads the same as one that carries it inline
    document = {"@context": response.json()["@context"], "@id": "practice:x", "title": "A title", "country": "place:es"}
    graph = Graph().parse(data=json.dumps(document), format="json-ld")
    assert len(graph) == 2


def _graph_name(built) -> str:
    release = current_release(built.store, built.build_dir)
    return sorted(release.manifest["graphs"])[0].rsplit("/", 1)[1]


@pytest.mark.parametrize("document", ["/def", "/graph/{name}", "/.well-known/void"])
def test_the_ontology_graph_and_dataset_documents_are_compacted_too(client, built, document):
    path = document.format(name=_graph_name(built))
    response = client.get(path + ".jsonld")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/ld+json")
    document = response.json()
    full = publication_context()
    assert document["@context"] and all(full[term] == definition for term, definition in document["@context"].items())
    assert not any(key.startswith("http") for key in _keys(document, set())), "no property left as a full IRI"
    triples = client.get(path + ".nt")
    assert triples.status_code == 200
    assert isomorphic(Graph().parse(data=response.text, format="json-ld"), Graph().parse(data=triples.text, format="nt"))


@pytest.fixture(scope="module")
def site(built):
    """The whole application (its pages link to the others' routes)."""
    from icgraph.server.app import create_app

    with pooled_client(create_app(built), built) as client:
        yield client


@pytest.mark.parametrize("document", ["/graph/{name}", "/.well-known/void"])
def test_the_json_ld_in_their_html_pages_is_compacted(site, built, document):
    import re

    page = site.get(document.format(name=_graph_name(built)), headers={"Accept": "text/html"})
    assert page.status_code == 200
    script = re.search(r'<script type="application/ld\+json"[^>]*>(.*?)</script>', page.text, re.S)
    assert script, "the page carries its description as JSON-LD"
    embedded = json.loads(script.group(1))
    full = publication_context()
    assert embedded["@context"] and all(full[term] == definition for term, definition in embedded["@context"].items())
    assert not any(key.startswith("http") for key in _keys(embedded, set()))
