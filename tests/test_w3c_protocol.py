"""The W3C SPARQL 1.1 Protocol and Graph Store Protocol test suites, run from their manifests.

Each manifest entry describes HTTP exchanges (ht:Request with method, path, headers, body;
ht:Response with the expected status, format, boolean, headers, body). The runner replays
them over real HTTP against a live server on a fresh store (union_default_graph off, updates
enabled with a token that every request carries), resetting the store before each test and
loading the test's ut:graphData into the named graphs it labels.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from rdflib import Graph, Namespace, URIRef
from rdflib.collection import Collection
from rdflib.compare import isomorphic
from rdflib.namespace import RDFS
from rdflib.query import Result

from endpoint_fixtures import running_server

SUITE = Path(__file__).parent / "w3c" / "sparql11-protocol"
MF = Namespace("http://www.w3.org/2001/sw/DataAccess/tests/test-manifest#")
HT = Namespace("http://www.w3.org/2011/http#")
CNT = Namespace("http://www.w3.org/2011/content#")
UT = Namespace("http://www.w3.org/2009/sparql/tests/test-update#")
HTS = "http://www.w3.org/2011/http-statusCodes#"

STATUS_NAMES = {"OK": 200, "Created": 201, "NoContent": 204, "NotFound": 404}
BOOLEAN_TYPES = {"application/sparql-results+json": "json", "application/sparql-results+xml": "xml"}
TABULAR_TYPES = {**BOOLEAN_TYPES, "text/csv": "csv", "text/tab-separated-values": "tsv"}
RDF_TYPES = {
    "text/turtle": "turtle",
    "application/n-triples": "nt",
    "application/rdf+xml": "xml",
    "application/ld+json": "json-ld",
    "application/trig": "trig",
    "application/n-quads": "nquads",
}
# Where the manifests' paths go on this server.
PATHS = {"/sparql/": "/sparql", "/gsp": "/store"}


# ---------------------------------------------------------------------------
# Reading the manifests
# ---------------------------------------------------------------------------


@dataclass
class Exchange:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes | None
    statuses: list[str]
    expected_format: str | None = None
    expected_boolean: bool | None = None
    expected_headers: dict[str, str] = field(default_factory=dict)
    expected_body: str | None = None
    location_variable: str | None = None


@dataclass
class ProtocolTest:
    iri: str
    name: str
    graph_data: list[tuple[Path, str]]
    exchanges: list[Exchange]

    @property
    def id(self) -> str:
        return self.iri.rsplit("#", 1)[-1]


def _headers(graph: Graph, node) -> dict[str, str]:
    items = graph.value(node, HT.headers)
    if items is None:
        return {}
    return {str(graph.value(h, HT.fieldName)).lower(): str(graph.value(h, HT.fieldValue)) for h in Collection(graph, items)}


def _body(graph: Graph, node) -> tuple[str | None, str]:
    body = graph.value(node, HT.body)
    if body is None:
        return None, "UTF-8"
    return str(graph.value(body, CNT.chars)), str(graph.value(body, CNT.characterEncoding) or "UTF-8")


def _exchange(graph: Graph, request) -> Exchange:
    text, encoding = _body(graph, request)
    response = graph.value(request, HT.resp)
    expected_body, _ = _body(graph, response)
    boolean = graph.value(response, MF.expectedBoolean)
    location = graph.value(response, MF.expectedLocation)
    return Exchange(
        method=str(graph.value(request, HT.methodName)),
        path=str(graph.value(request, HT.absolutePath)),
        headers=_headers(graph, request),
        body=None if text is None else text.encode(encoding.lower()),
        statuses=[str(s) for s in graph.objects(response, MF.expectedStatus)],
        expected_format=str(graph.value(response, MF.expectedFormat) or "") or None,
        expected_boolean=None if boolean is None else boolean.toPython(),
        expected_headers=_headers(graph, response),
        expected_body=expected_body,
        location_variable=None if location is None else str(location),
    )


def load_manifest(path: Path) -> list[ProtocolTest]:
    """The tests of a manifest (following mf:include), in manifest order."""
    graph = Graph().parse(path, format="turtle", publicID=path.as_uri())
    manifest = URIRef(path.as_uri())
    tests: list[ProtocolTest] = []
    included = graph.value(manifest, MF.include)
    if included is not None:
        for part in Collection(graph, included):
            tests += load_manifest(Path(str(part).removeprefix("file://")))
    entries = graph.value(manifest, MF.entries)
    for entry in Collection(graph, entries) if entries is not None else []:
        action = graph.value(entry, MF.action)
        requests = Collection(graph, graph.value(action, HT.requests))
        data = [
            (Path(str(graph.value(d, UT.graph)).removeprefix("file://")), str(graph.value(d, RDFS.label)))
            for d in graph.objects(entry, UT.graphData)
        ]
        tests.append(ProtocolTest(str(entry), str(graph.value(entry, MF.name)), sorted(data, key=lambda d: d[1]), [_exchange(graph, r) for r in requests]))
    return tests


PROTOCOL_TESTS = load_manifest(SUITE / "manifest.ttl")
GSP_TESTS = load_manifest(SUITE / "graph-store-protocol" / "manifest.ttl")


def test_the_manifests_hold_all_the_tests():
    assert len(PROTOCOL_TESTS) == 34
    assert len(GSP_TESTS) == 13


# ---------------------------------------------------------------------------
# Running them
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("w3c") / "store", query_timeout=20) as live:
        yield live


def _status_ok(code: int, expected: list[str]) -> bool:
    for iri in expected:
        name = iri.removeprefix(HTS)
        if name.startswith("StatusCode") and name.endswith("xx") and code // 100 == int(name[len("StatusCode")]):
            return True
        if STATUS_NAMES.get(name) == code:
            return True
    return False


def _media(response: httpx.Response) -> str:
    return response.headers.get("content-type", "").split(";")[0].strip().lower()


def _reset(server, test: ProtocolTest) -> None:
    server.update("DROP ALL")
    for path, name in test.graph_data:
        server.update(f"INSERT DATA {{ GRAPH <{name}> {{ {path.read_text()} }} }}")


def _check(exchange: Exchange, response: httpx.Response) -> None:
    where = f"{exchange.method} {exchange.path} -> {response.status_code} {response.text[:300]!r}"
    assert _status_ok(response.status_code, exchange.statuses), where
    media = _media(response)
    if exchange.expected_format == "boolean" or exchange.expected_boolean is not None:
        assert media in BOOLEAN_TYPES, where
        result = Result.parse(io.BytesIO(response.content), format=BOOLEAN_TYPES[media])
        assert result.type == "ASK", where
        if exchange.expected_boolean is not None:
            assert result.askAnswer is exchange.expected_boolean, where
    elif exchange.expected_format == "tabular":
        assert media in TABULAR_TYPES, where
        result = Result.parse(io.BytesIO(response.content), format=TABULAR_TYPES[media])
        assert result.type == "SELECT", where
    elif exchange.expected_format == "RDF":
        assert media in RDF_TYPES, where
        Graph().parse(data=response.content, format=RDF_TYPES[media])
    for name, value in exchange.expected_headers.items():
        if name == "content-type":
            assert media == value.split(";")[0].strip().lower(), where
        else:
            assert response.headers.get(name) == value, where
    if exchange.expected_body is not None:
        expected = Graph().parse(data=exchange.expected_body, format="turtle")
        actual = Graph().parse(data=response.content, format=RDF_TYPES[media])
        assert isomorphic(expected, actual), f"{where}\nexpected:\n{exchange.expected_body}"


def run(server, test: ProtocolTest) -> None:
    _reset(server, test)
    variables: dict[str, str] = {}
    with httpx.Client(base_url=server.url, timeout=30) as client:
        for exchange in test.exchanges:
            path, body = exchange.path, exchange.body
            for variable, value in variables.items():
                path = path.replace(variable, value)
                body = body.replace(variable.encode(), value.encode()) if body else body
            for prefix, ours in PATHS.items():
                if path.startswith(prefix):
                    path = ours + path[len(prefix):]
                    break
            headers = {**exchange.headers, **server.auth()}
            # The manifests write request targets as they go on the wire: send them unaltered.
            url = httpx.URL(server.url, raw_path=path.encode())
            response = client.request(exchange.method, url, headers=headers, content=body)
            _check(exchange, response)
            if exchange.location_variable:
                variables[exchange.location_variable] = response.headers["location"]


PASSED: dict[str, set[str]] = {"protocol": set(), "gsp": set()}


@pytest.mark.parametrize("test", PROTOCOL_TESTS, ids=lambda t: t.id)
def test_sparql11_protocol(server, test):
    run(server, test)
    PASSED["protocol"].add(test.iri)


@pytest.mark.parametrize("test", GSP_TESTS, ids=lambda t: t.id)
def test_graph_store_protocol(server, test):
    run(server, test)
    PASSED["gsp"].add(test.iri)


def test_every_protocol_test_ran_and_passed():
    """Runs after the parametrised tests above (pytest keeps file order): all 34 + 13 passed."""
    assert len(PASSED["protocol"]) == len(PROTOCOL_TESTS) == 34
    assert len(PASSED["gsp"]) == len(GSP_TESTS) == 13
