"""Standard SPARQL clients against the live endpoint: SPARQLWrapper and rdflib's SPARQLStore."""

from __future__ import annotations

import pytest
from rdflib import Graph, Literal, URIRef
from rdflib.plugins.stores.sparqlstore import SPARQLStore
from SPARQLWrapper import JSON, TURTLE, XML, SPARQLWrapper

from endpoint_fixtures import EX, PEOPLE, running_server, seed_store

NAME = URIRef("http://xmlns.com/foaf/0.1/name")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    store = tmp_path_factory.mktemp("clients") / "store"
    seed_store(store, PEOPLE)
    with running_server(store, token=None, union_default_graph=True) as live:
        yield live


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_sparqlwrapper_select(server, method):
    client = SPARQLWrapper(server.sparql)
    client.setMethod(method)
    client.setQuery(f"SELECT ?name WHERE {{ ?p <{NAME}> ?name }} ORDER BY ?name")
    client.setReturnFormat(JSON)
    rows = client.query().convert()["results"]["bindings"]
    assert [row["name"]["value"] for row in rows] == ["Alice", "Bob", "Carol"]


def test_sparqlwrapper_ask(server):
    client = SPARQLWrapper(server.sparql)
    client.setQuery(f'ASK {{ <{EX}alice> <{NAME}> "Alice" }}')
    for fmt in (JSON, XML):
        client.setReturnFormat(fmt)
        result = client.query().convert()
        assert (result["boolean"] if fmt == JSON else result.getElementsByTagName("boolean")[0].firstChild.data == "true") is True


@pytest.mark.parametrize("fmt", [TURTLE, XML])
def test_sparqlwrapper_construct(server, fmt):
    client = SPARQLWrapper(server.sparql)
    client.setQuery(f"CONSTRUCT {{ ?p <{NAME}> ?name }} WHERE {{ ?p <{NAME}> ?name }}")
    client.setReturnFormat(fmt)
    result = client.query().convert()
    graph = result if isinstance(result, Graph) else Graph().parse(data=result, format="turtle")
    assert (URIRef(EX + "bob"), NAME, Literal("Bob")) in graph
    assert len(graph) == 3


def test_rdflib_sparqlstore(server):
    graph = Graph(store=SPARQLStore(server.sparql))
    names = sorted(str(row.name) for row in graph.query(f"SELECT ?name WHERE {{ ?p <{NAME}> ?name }}"))
    assert names == ["Alice", "Bob", "Carol"]
    assert graph.query(f'ASK {{ ?p <{NAME}> "Carol" }}').askAnswer is True
    constructed = graph.query(f"CONSTRUCT {{ ?p <{NAME}> ?name }} WHERE {{ ?p <{NAME}> ?name }}").graph
    assert len(constructed) == 3
    assert (URIRef(EX + "alice"), NAME, Literal("Alice")) in graph  # triple pattern lookups
