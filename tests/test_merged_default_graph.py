"""One triple is one triple: the default graph a user queries is the RDF merge of the named graphs.

Oxigraph's union default graph is a multiset (a triple stated in two named graphs is matched
twice), so icgraph keeps the merge in the store's real default graph (`icgraph.store`): a release
gets it when it is written, the server's writer keeps it after each write, a plain store folder
gets it when a server opens it. ``GRAPH`` queries keep seeing each graph as it is.
"""

from __future__ import annotations

import json

import httpx
import pyoxigraph as ox
import pytest

from endpoint_fixtures import EX, TOKEN, running_server, seed_store
from icgraph.release import current_release

NAME = "<http://xmlns.com/foaf/0.1/name>"
#: The same triple stated in two named graphs, and one in a single graph.
TWICE = f"""
<{EX}alice> {NAME} "Alice" <{EX}graph/a> .
<{EX}alice> {NAME} "Alice" <{EX}graph/b> .
<{EX}bob> {NAME} "Bob" <{EX}graph/b> .
"""


def rows(server, text: str) -> list[dict]:
    response = httpx.get(server.sparql, params={"query": text}, headers={"Accept": "application/sparql-results+json"}, timeout=30)
    assert response.status_code == 200, response.text
    return [{k: v["value"] for k, v in row.items()} for row in response.json()["results"]["bindings"]]


def subjects(server) -> list[str]:
    return sorted(r["s"] for r in rows(server, "SELECT ?s WHERE { ?s ?p ?o }"))


@pytest.fixture(scope="module")
def plain_union_server(tmp_path_factory):
    store = tmp_path_factory.mktemp("merge") / "store"
    seed_store(store, TWICE)
    with running_server(store, token=None, union_default_graph=True) as live:
        yield live


def test_a_triple_in_two_named_graphs_is_matched_once(plain_union_server):
    assert subjects(plain_union_server) == [EX + "alice", EX + "bob"]
    (count,) = rows(plain_union_server, "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }")
    assert count["n"] == "2"


def test_graph_queries_still_see_each_graph_as_it_is(plain_union_server):
    found = rows(plain_union_server, "SELECT ?g ?s WHERE { GRAPH ?g { ?s ?p ?o } } ORDER BY ?g ?s")
    assert found == [
        {"g": EX + "graph/a", "s": EX + "alice"},
        {"g": EX + "graph/b", "s": EX + "alice"},
        {"g": EX + "graph/b", "s": EX + "bob"},
    ]


def test_the_default_graph_document_holds_each_triple_once(plain_union_server):
    response = httpx.get(plain_union_server.url + "/store", params={"default": ""}, headers={"Accept": "application/n-triples"}, timeout=30)
    assert response.status_code == 200, response.text
    lines = [line for line in response.text.splitlines() if line.strip()]
    assert len(lines) == len(set(lines)) == 2


def test_the_release_default_graph_counts_the_distinct_triples(built):
    release = current_release(built.store, built.build_dir)
    quads = list(ox.parse(path=str(release.dump("icgraph.nq")), format=ox.RdfFormat.N_QUADS))
    assert all(isinstance(q.graph_name, ox.NamedNode) for q in quads), "the dataset dumps hold the named graphs only"
    distinct = len({q.triple for q in quads})
    assert distinct < len(quads), "the real data states some triples in two graphs; this test needs such a triple"
    with running_server(built.store, token=None, union_default_graph=True) as server:
        (count,) = rows(server, "SELECT (COUNT(*) AS ?n) { ?s ?p ?o }")
        (in_graphs,) = rows(server, "SELECT (COUNT(*) AS ?n) { GRAPH ?g { ?s ?p ?o } }")
        graphs = {r["g"] for r in rows(server, "SELECT DISTINCT ?g { GRAPH ?g { } }")}
    assert int(count["n"]) == distinct
    assert int(in_graphs["n"]) == len(quads)
    manifest = json.loads((release.path / "manifest.json").read_text())
    assert manifest["triples"] == distinct
    assert sum(manifest["graphs"].values()) == len(quads)
    assert graphs == set(manifest["graphs"]) == {q.graph_name.value for q in quads}


def test_writes_keep_the_default_graph_the_merge(tmp_path):
    store = tmp_path / "store"
    seed_store(store, TWICE)
    with running_server(store, token=TOKEN, union_default_graph=True) as server:
        assert subjects(server) == [EX + "alice", EX + "bob"]
        server.update(f'INSERT DATA {{ GRAPH <{EX}graph/c> {{ <{EX}carol> {NAME} "Carol" }} }}')
        server.update(f'INSERT DATA {{ <{EX}dave> {NAME} "Dave" }}')  # written to the default graph itself
        assert subjects(server) == [EX + "alice", EX + "bob", EX + "carol", EX + "dave"]
        server.update(f'DELETE DATA {{ GRAPH <{EX}graph/a> {{ <{EX}alice> {NAME} "Alice" }} }}')
        assert EX + "alice" in subjects(server), "graph b still states it"
        response = httpx.delete(server.url + "/store", params={"graph": EX + "graph/b"}, headers=server.auth(), timeout=30)
        assert response.status_code in (200, 204), response.text
        assert subjects(server) == [EX + "carol", EX + "dave"]
        put = httpx.put(
            server.url + "/store", params={"graph": EX + "graph/a"}, headers={"Content-Type": "text/turtle", **server.auth()},
            content=f'<{EX}erin> {NAME} "Erin" . <{EX}carol> {NAME} "Carol" .'.encode(), timeout=30,
        )
        assert put.status_code in (200, 201, 204), put.text
        assert subjects(server) == [EX + "carol", EX + "dave", EX + "erin"]
        (count,) = rows(server, "SELECT (COUNT(*) AS ?n) { ?s ?p ?o }")
        assert count["n"] == "3", "Carol is stated in graphs a and c: one triple"
