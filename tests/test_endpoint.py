"""The endpoint's protocol behaviour: content negotiation, format=, 406, the service description,
CORS, the Graph Store, the update token, and the union default graph."""

from __future__ import annotations

import concurrent.futures
import csv
import io
import json

import httpx
import pytest
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import RDF
from rdflib.query import Result

from endpoint_fixtures import EX, PEOPLE, TOKEN, running_server, seed_store
from icgraph.namespaces import SD, VOID

SELECT = "SELECT ?name WHERE { GRAPH ?g { ?p <http://xmlns.com/foaf/0.1/name> ?name } } ORDER BY ?name"
CONSTRUCT = "CONSTRUCT { ?p <http://xmlns.com/foaf/0.1/name> ?name } WHERE { GRAPH ?g { ?p <http://xmlns.com/foaf/0.1/name> ?name } }"
ASK = "ASK { GRAPH ?g { ?p <http://xmlns.com/foaf/0.1/name> \"Alice\" } }"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    store = tmp_path_factory.mktemp("endpoint") / "store"
    seed_store(store, PEOPLE)
    with running_server(store) as live:
        yield live


@pytest.fixture(scope="module")
def read_only_union_server(tmp_path_factory):
    """As icgraph serves its own store: no update token, default graph = union of the named graphs."""
    store = tmp_path_factory.mktemp("union") / "store"
    seed_store(store, PEOPLE)
    with running_server(store, token=None, union_default_graph=True) as live:
        yield live


def query(server, text, accept=None, method="GET", **params):
    headers = {"Accept": accept} if accept else {}
    if method == "GET":
        return httpx.get(server.sparql, params={"query": text, **params}, headers=headers, timeout=30)
    return httpx.post(server.sparql, data={"query": text, **params}, headers=headers, timeout=30)


def media(response) -> str:
    return response.headers["content-type"].split(";")[0]


# -- content negotiation ---------------------------------------------------------------

SELECT_TYPES = {
    "application/sparql-results+json": "json",
    "application/sparql-results+xml": "xml",
    "text/csv": "csv",
    "text/tab-separated-values": "tsv",
}
GRAPH_TYPES = {
    "text/turtle": "turtle",
    "application/n-triples": "nt",
    "application/rdf+xml": "xml",
    "application/ld+json": "json-ld",
    "application/trig": "trig",
    "application/n-quads": "nquads",
}


@pytest.mark.parametrize("accept", SELECT_TYPES)
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_select_results_in_each_format_by_accept(server, accept, method):
    response = query(server, SELECT, accept, method)
    assert response.status_code == 200, response.text
    assert media(response) == accept
    if accept == "text/csv":
        rows = list(csv.reader(io.StringIO(response.text)))
        assert [r[0] for r in rows] == ["name", "Alice", "Bob", "Carol"]
    elif accept == "text/tab-separated-values":
        assert response.text.splitlines() == ["?name", '"Alice"', '"Bob"', '"Carol"']
    else:
        result = Result.parse(io.BytesIO(response.content), format=SELECT_TYPES[accept])
        assert [str(row[0]) for row in result] == ["Alice", "Bob", "Carol"]


@pytest.mark.parametrize("accept", GRAPH_TYPES)
def test_construct_results_in_each_rdf_format_by_accept(server, accept):
    response = query(server, CONSTRUCT, accept)
    assert response.status_code == 200, response.text
    assert media(response) == accept
    graph = Graph().parse(data=response.content, format=GRAPH_TYPES[accept])
    assert (URIRef(EX + "carol"), URIRef("http://xmlns.com/foaf/0.1/name"), Literal("Carol")) in graph
    assert len(graph) == 3


@pytest.mark.parametrize("accept", ["application/sparql-results+json", "application/sparql-results+xml"])
def test_ask_results_by_accept(server, accept):
    response = query(server, ASK, accept)
    assert media(response) == accept
    assert Result.parse(io.BytesIO(response.content), format=SELECT_TYPES[accept]).askAnswer is True


def test_describe_is_rdf(server):
    response = query(server, f"DESCRIBE <{EX}alice>", "application/n-triples")
    assert media(response) == "application/n-triples"


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, "application/sparql-results+json"),
        ("*/*", "application/sparql-results+json"),
        ("text/*", "text/csv"),
        ("text/csv;q=0.5, application/sparql-results+xml;q=0.9", "application/sparql-results+xml"),
        ("application/sparql-results+xml;q=0.1, text/tab-separated-values", "text/tab-separated-values"),
        ("application/json", "application/sparql-results+json"),
        ("text/html, */*;q=0.1", "application/sparql-results+json"),
    ],
)
def test_accept_q_values_decide(server, accept, expected):
    assert media(query(server, SELECT, accept)) == expected


@pytest.mark.parametrize(("accept", "expected"), [(None, "text/turtle"), ("*/*", "text/turtle"), ("application/*", "application/n-triples")])
def test_graph_results_default_to_turtle(server, accept, expected):
    assert media(query(server, CONSTRUCT, accept)) == expected


@pytest.mark.parametrize(
    ("text", "accept"),
    [(SELECT, "text/turtle"), (SELECT, "image/png"), (CONSTRUCT, "text/csv"), (ASK, "application/ld+json;q=1, text/plain;q=0")],
)
def test_unacceptable_accept_is_406(server, text, accept):
    response = query(server, text, accept)
    assert response.status_code == 406
    assert "available" in response.text or "can return" in response.text


@pytest.mark.parametrize(
    ("text", "fmt", "expected"),
    [
        (SELECT, "json", "application/sparql-results+json"),
        (SELECT, "xml", "application/sparql-results+xml"),
        (SELECT, "csv", "text/csv"),
        (SELECT, "tsv", "text/tab-separated-values"),
        (CONSTRUCT, "ttl", "text/turtle"),
        (CONSTRUCT, "nt", "application/n-triples"),
        (CONSTRUCT, "rdf", "application/rdf+xml"),
        (CONSTRUCT, "jsonld", "application/ld+json"),
        (CONSTRUCT, "trig", "application/trig"),
        (CONSTRUCT, "nq", "application/n-quads"),
        (CONSTRUCT, "turtle", "text/turtle"),  # SPARQLWrapper's spelling
        (CONSTRUCT, "xml", "application/rdf+xml"),
    ],
)
def test_format_parameter_overrides_accept(server, text, fmt, expected):
    response = query(server, text, "application/sparql-results+json, text/turtle", format=fmt)
    assert response.status_code == 200
    assert media(response) == expected


def test_format_parameter_of_the_wrong_kind_is_406(server):
    response = query(server, CONSTRUCT, format="csv")
    assert response.status_code == 406
    assert "format='csv'" in response.text


def test_malformed_query_is_400_with_position(server):
    response = query(server, "SELECT * WHERE { ?s ?p }")
    assert response.status_code == 400
    assert "line 1, column 24" in response.text and "Hint: " in response.text  # the "}" where Oxigraph stopped (query_errors)


def test_protocol_errors(server):
    assert httpx.post(server.sparql, content=b"ASK {}", headers={"Content-Type": "text/plain"}).status_code == 415
    assert httpx.get(server.sparql, params=[("query", "ASK {}"), ("query", "ASK {}")]).status_code == 400
    assert httpx.post(server.sparql, data={"query": "ASK {}", "update": "CLEAR ALL"}).status_code == 400
    assert httpx.get(server.sparql, params={"query": "ASK {}", "default-graph-uri": "not an iri"}).status_code == 400
    assert httpx.get(server.sparql, params={"query": "ASK {}", "timeout": "soon"}).status_code == 400
    assert httpx.put(server.sparql, params={"query": "ASK {}"}).status_code == 405


def test_results_are_complete_bodies_with_length(server):
    response = query(server, SELECT)
    assert int(response.headers["content-length"]) == len(response.content)


def test_a_large_result_arrives_whole(server):
    """Bodies past the size the server reads inline (workers.INLINE_BODY_BYTES) come whole too."""
    numbers = " ".join(str(n) for n in range(100))
    text = f"SELECT ?a ?b WHERE {{ VALUES ?a {{ {numbers} }} VALUES ?b {{ {numbers} }} }}"
    response = query(server, text, "application/sparql-results+json")
    assert response.status_code == 200, response.text
    assert len(response.content) > 256 * 1024
    assert int(response.headers["content-length"]) == len(response.content)
    rows = json.loads(response.content)["results"]["bindings"]
    assert len(rows) == 10_000
    assert {(r["a"]["value"], r["b"]["value"]) for r in rows} == {(str(a), str(b)) for a in range(100) for b in range(100)}


def test_clients_that_hang_up_mid_query_do_not_cost_workers(server):
    """A client gone before its answer leaves the worker to finish and come back to the pool."""
    numbers = " ".join(str(n) for n in range(300))
    slow = f"SELECT (COUNT(*) AS ?n) WHERE {{ VALUES ?a {{ {numbers} }} VALUES ?b {{ {numbers} }} VALUES ?c {{ {numbers} }} }}"
    for _ in range(4):  # more hang-ups than the server has workers (2)
        with pytest.raises(httpx.TimeoutException):
            httpx.get(server.sparql, params={"query": slow}, timeout=0.05)
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: query(server, ASK, "application/sparql-results+json"), range(8)))
    assert [a.status_code for a in answers] == [200] * 8
    assert all(json.loads(a.text)["boolean"] is True for a in answers)


# -- service description --------------------------------------------------------------


def test_service_description_lists_formats_features_and_graphs(server):
    response = httpx.get(server.sparql, headers={"Accept": "text/turtle"})
    assert response.status_code == 200
    assert media(response) == "text/turtle"
    graph = Graph().parse(data=response.text, format="turtle")
    service = URIRef(server.sparql)
    assert (service, RDF.type, SD.Service) in graph
    assert (service, SD.endpoint, service) in graph
    assert (service, SD.supportedLanguage, SD.SPARQL11Update) in graph  # this server has a token
    formats = set(graph.objects(service, SD.resultFormat))
    assert URIRef("http://www.w3.org/ns/formats/SPARQL_Results_JSON") in formats
    assert URIRef("http://www.w3.org/ns/formats/Turtle") in formats
    assert (service, SD.feature, SD.UnionDefaultGraph) not in graph
    counts = {}
    dataset = graph.value(service, SD.defaultDataset)
    for named in graph.objects(dataset, SD.namedGraph):
        counts[str(graph.value(named, SD.name))] = graph.value(graph.value(named, SD.graph), VOID.triples).toPython()
    assert counts == {EX + "graph/people": 3, EX + "graph/more": 1}
    assert graph.value(graph.value(dataset, SD.defaultGraph), VOID.triples).toPython() == 1


def test_service_description_by_accept(server):
    response = httpx.get(server.sparql, headers={"Accept": "application/ld+json"})
    assert media(response) == "application/ld+json"
    json.loads(response.text)
    browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    response = httpx.get(server.sparql, headers={"Accept": browser})
    assert media(response) == "text/html"  # a browser gets the query editor
    assert "yasgui" in response.text.lower()
    response = httpx.get(server.sparql, headers={"Accept": "text/turtle"})
    assert media(response) == "text/turtle"
    assert httpx.get(server.sparql, headers={"Accept": "text/csv"}).status_code == 406


def test_service_description_of_a_read_only_union_endpoint(read_only_union_server):
    graph = Graph().parse(data=httpx.get(read_only_union_server.sparql).text, format="turtle")
    service = URIRef(read_only_union_server.sparql)
    assert (service, SD.feature, SD.UnionDefaultGraph) in graph
    assert (service, SD.supportedLanguage, SD.SPARQL11Update) not in graph
    assert (service, SD.feature, SD.BasicFederatedQuery) not in graph


# -- union default graph ---------------------------------------------------------------


def test_union_default_graph_sees_every_named_graph(read_only_union_server):
    text = "SELECT ?name WHERE { ?p <http://xmlns.com/foaf/0.1/name> ?name } ORDER BY ?name"
    rows = json.loads(query(read_only_union_server, text).text)["results"]["bindings"]
    assert [r["name"]["value"] for r in rows] == ["Alice", "Bob", "Carol"]


def test_from_still_restricts_the_default_graph_under_union(read_only_union_server):
    text = f"SELECT ?name FROM <{EX}graph/more> WHERE {{ ?p <http://xmlns.com/foaf/0.1/name> ?name }}"
    rows = json.loads(query(read_only_union_server, text).text)["results"]["bindings"]
    assert [r["name"]["value"] for r in rows] == ["Carol"]


def test_protocol_dataset_replaces_the_union(read_only_union_server):
    text = "SELECT ?name WHERE { ?p <http://xmlns.com/foaf/0.1/name> ?name }"
    response = query(read_only_union_server, text, **{"default-graph-uri": EX + "graph/more"})
    assert [r["name"]["value"] for r in json.loads(response.text)["results"]["bindings"]] == ["Carol"]


def test_without_union_the_default_graph_is_the_stores_own(server):
    rows = json.loads(query(server, "SELECT ?t WHERE { ?s <http://purl.org/dc/terms/title> ?t }").text)["results"]["bindings"]
    assert [r["t"]["value"] for r in rows] == ["people"]
    assert json.loads(query(server, "ASK { ?p <http://xmlns.com/foaf/0.1/name> ?n }").text)["boolean"] is False


# -- CORS ------------------------------------------------------------------------------


def test_cors_for_reading_without_credentials(server):
    response = httpx.get(server.sparql, params={"query": ASK}, headers={"Origin": "https://example.net"})
    assert response.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in response.headers
    preflight = httpx.options(
        server.sparql,
        headers={"Origin": "https://example.net", "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"},
    )
    assert preflight.status_code == 200
    assert "POST" in preflight.headers["access-control-allow-methods"]


def test_cors_does_not_open_writes(server):
    for method, headers in (("PUT", "content-type"), ("POST", "authorization")):
        preflight = httpx.options(
            server.url + "/store",
            headers={"Origin": "https://example.net", "Access-Control-Request-Method": method, "Access-Control-Request-Headers": headers},
        )
        assert preflight.status_code == 400


# -- updates and the token -------------------------------------------------------------


def test_update_needs_the_bearer_token(server):
    body = {"update": f"INSERT DATA {{ GRAPH <{EX}graph/new> {{ <{EX}x> <{EX}p> 1 }} }}"}
    missing = httpx.post(server.url + "/update", data=body)
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"].startswith("Bearer")
    assert httpx.post(server.url + "/update", data=body, headers={"Authorization": "Bearer wrong"}).status_code == 403
    assert httpx.post(server.sparql, data=body, headers={"Authorization": "Basic dGVzdA=="}).status_code == 401
    assert httpx.post(server.url + "/update", data=body, headers=server.auth()).status_code == 204
    # Visible to the very next query (the readers move to the new snapshot).
    assert json.loads(query(server, f"ASK {{ GRAPH <{EX}graph/new> {{ ?s ?p ?o }} }}").text)["boolean"] is True
    server.update(f"DROP GRAPH <{EX}graph/new>")
    assert json.loads(query(server, f"ASK {{ GRAPH <{EX}graph/new> {{ ?s ?p ?o }} }}").text)["boolean"] is False


def test_update_is_post_only(server):
    assert httpx.get(server.sparql, params={"update": "CLEAR ALL"}).status_code == 400
    assert httpx.get(server.url + "/update", params={"update": "CLEAR ALL"}).status_code == 405


def test_updates_are_off_without_a_token(read_only_union_server):
    response = httpx.post(
        read_only_union_server.url + "/update",
        content=b"CLEAR ALL",
        headers={"Content-Type": "application/sparql-update", "Authorization": f"Bearer {TOKEN}"},
    )
    assert response.status_code == 403
    assert "disabled" in response.text
    put = httpx.put(read_only_union_server.url + "/store", params={"default": ""}, content=b"", headers={"Content-Type": "text/turtle"})
    assert put.status_code == 403


# -- graph store -----------------------------------------------------------------------


def test_graph_store_read(server):
    response = httpx.get(server.url + "/store", params={"graph": EX + "graph/more"}, headers={"Accept": "application/n-triples"})
    assert response.status_code == 200
    assert media(response) == "application/n-triples"
    assert len(Graph().parse(data=response.text, format="nt")) == 1
    head = httpx.head(server.url + "/store", params={"graph": EX + "graph/people"})
    assert head.status_code == 200 and media(head) == "text/turtle" and head.content == b""
    assert httpx.get(server.url + "/store", params={"graph": EX + "graph/none"}).status_code == 404
    assert httpx.get(server.url + "/store", params={"graph": "not an iri"}).status_code == 400
    assert httpx.get(server.url + "/store").status_code == 400
    default = Graph().parse(data=httpx.get(server.url + "/store", params={"default": ""}).text, format="turtle")
    assert len(default) == 1


def test_graph_store_write_needs_the_token(server):
    target = {"graph": EX + "graph/gsp"}
    data = f"<{EX}s> <{EX}p> 'o' .".encode()
    turtle = {"Content-Type": "text/turtle"}
    assert httpx.put(server.url + "/store", params=target, content=data, headers=turtle).status_code == 401
    assert httpx.put(server.url + "/store", params=target, content=data, headers={**turtle, "Authorization": "Bearer no"}).status_code == 403
    assert httpx.put(server.url + "/store", params=target, content=data, headers={**turtle, **server.auth()}).status_code == 201
    assert httpx.post(server.url + "/store", params=target, content=data, headers={**turtle, **server.auth()}).status_code == 204
    bad = httpx.put(server.url + "/store", params=target, content=b"<not turtle", headers={**turtle, **server.auth()})
    assert bad.status_code == 400
    unknown = httpx.put(server.url + "/store", params=target, content=data, headers={"Content-Type": "image/png", **server.auth()})
    assert unknown.status_code == 415
    assert httpx.delete(server.url + "/store", params=target).status_code == 401
    assert httpx.delete(server.url + "/store", params=target, headers=server.auth()).status_code == 204
    assert httpx.delete(server.url + "/store", params=target, headers=server.auth()).status_code == 404
