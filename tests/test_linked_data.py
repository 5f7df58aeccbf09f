"""Linked-data publication (src/icgraph/server/linked_data.py), on the real build.

Every format of an entity (HTML's embedded JSON-LD included) must carry exactly the triples of the
one DESCRIBE-style CONSTRUCT run on the store; entity IRIs answer 303, documents 200 with
Content-Location, both with Vary: Accept; the VoID counts and the dumps agree with the store; and
every internal link of every page reachable from the practice pages resolves.
"""

from __future__ import annotations

import gzip

import asyncio
import re
import time
from collections import deque
from dataclasses import dataclass
from html import unescape
from urllib.parse import parse_qs, urldefrag, urlsplit

import httpx
import pyoxigraph as ox
import pytest
from fastapi import FastAPI
from rdflib import Graph, Literal, URIRef
from rdflib.compare import isomorphic
from rdflib.namespace import VOID

from conftest import pooled_client
from icgraph.namespaces import GRAPH, ONTOLOGY_GRAPH, PREFIXES, ROOT, expand
from icgraph.server import documents, linked_data
from icgraph.release import DUMPS
from icgraph.store import named_quads
from icgraph.void import DATASET
from icgraph.server.linked_data import describe_query, graph_query, local_path, run_construct
from icgraph.server.templating import static_files

RDF_SUFFIXES = {"ttl": "turtle", "jsonld": "json-ld", "nt": "nt", "rdf": "xml"}
MEDIA_TYPES = {"ttl": "text/turtle", "jsonld": "application/ld+json", "nt": "application/n-triples", "rdf": "application/rdf+xml"}
#: Triples of the union of the named graphs (a triple stated in two graphs counts once).
UNION_COUNT = "SELECT (COUNT(*) AS ?n) WHERE { SELECT DISTINCT ?s ?p ?o WHERE { ?s ?p ?o } }"
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


@pytest.fixture(scope="module")
def app(built, store) -> FastAPI:
    app = FastAPI()
    app.state.settings = built  # the pool (pooled_client) serves its release
    app.mount("/static", static_files(), name="static")
    app.include_router(linked_data.router)
    app.include_router(documents.router)
    return app


@pytest.fixture(scope="module")
def client(app):
    with pooled_client(app) as client:  # one event loop for the module, not one per request
        yield client


def _one(store: ox.Store, where: str) -> str:
    rows = list(store.query(f"SELECT ?x WHERE {{ {where} }} ORDER BY ?x LIMIT 1", prefixes=PREFIXES))
    assert rows, f"no sample for: {where}"
    return rows[0]["x"].value


#: One entity of each kind; the practice is one with generic mentions, funding or outcomes where possible.
SAMPLES = {
    "practice": "?x a icg:Practice ; icg:hasParticipation/icg:agent/a icg:ActorGroup ; icg:outcome ?o ; icg:reference ?r",
    "practice-funding": "?x a icg:Practice ; icg:funding ?f",
    "actor": "?x a icg:LocalAuthority ; ^icg:agent ?p",
    "network": "?x a icg:Network ; ^org:organization ?m",
    "place": "?x a icg:Municipality ; ^icg:implementedIn ?p",
    "country": "?x a icg:Country",
    "concept": "?x skos:inScheme <https://w3id.org/icgraph/id/role>",
    "level": "?x skos:inScheme <https://w3id.org/icgraph/id/level>",
    "scheme": "?x a skos:ConceptScheme",
    "person": "?x a foaf:Person",
    "meeting": "?x a icg:Meeting",
    "working-group": "?x a icg:WorkingGroup",
    "membership": "?x a org:Membership FILTER(!CONTAINS(STR(?x), '#'))",
    "partnership": "?x a icg:Partnership",
}


@pytest.fixture(scope="module")
def samples(store) -> dict[str, str]:
    return {kind: _one(store, where) for kind, where in SAMPLES.items()}


def _expected(store: ox.Store, iri: str) -> Graph:
    triples = run_construct(store, describe_query(iri))
    assert triples, f"the description of {iri} is empty"
    return Graph().parse(data=ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES), format="nt")


@dataclass
class _Page:
    """The links, JSON-LD scripts and element ids of a generated page (the site header and footer,
    which the web UI owns, left out). Regular expressions: the pages are ours and well-formed, and
    the crawl reads a thousand of them."""

    links: list[str]
    scripts: list[str]
    ids: set[str]


_CHROME = re.compile(r'<(header|footer) class="site".*?</\1>', re.S)
_HREF = re.compile(r'<(?:a|link)\b[^>]*?\shref="([^"]*)"')
_ID = re.compile(r'\sid="([^"]*)"')
_JSONLD = re.compile(r'<script type="application/ld\+json">(.*?)</script>', re.S)


def _parse_page(html: str) -> _Page:
    ids = set(_ID.findall(html))
    content = _CHROME.sub("", html)
    links = [unescape(h) for h in _HREF.findall(content)]
    return _Page(links=links, scripts=_JSONLD.findall(content), ids=ids)


# ----------------------------------------------------------------------------------------------
#   Every format = the CONSTRUCT
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(SAMPLES))
def test_every_format_carries_the_triples_of_the_describe_query(client, store, samples, kind):
    iri = samples[kind]
    expected = _expected(store, iri)
    path = local_path(iri)
    for suffix, rdflib_format in RDF_SUFFIXES.items():
        response = client.get(f"{path}.{suffix}")
        assert response.status_code == 200, (path, suffix)
        assert response.headers["content-type"].startswith(MEDIA_TYPES[suffix])
        got = Graph().parse(data=response.content, format=rdflib_format, publicID=iri)
        assert isomorphic(got, expected), f"{path}.{suffix} differs from the CONSTRUCT ({len(got)} vs {len(expected)})"
    page = client.get(f"{path}.html")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    parsed = _parse_page(page.text)
    assert len(parsed.scripts) == 1, "one embedded JSON-LD description per page"
    embedded = Graph().parse(data=parsed.scripts[0], format="json-ld")
    assert isomorphic(embedded, expected), f"{path}.html embeds other triples than the CONSTRUCT"
    # ... and links to every format and to the query that regenerates it
    for suffix in RDF_SUFFIXES:
        assert f"{path}.{suffix}" in parsed.links
    sparql = [link for link in parsed.links if link.startswith("/sparql?")]
    assert sparql and parse_qs(urlsplit(sparql[0]).query)["query"] == [describe_query(iri)]


def test_the_describe_query_finds_every_hash_sub_entity(store):
    """Its index-friendly paths (out 1-2 hops, in 1 hop, memberships by type) must reach every #part of every entity."""
    missed = list(store.query(
        """SELECT DISTINCT ?h WHERE {
             ?h ?p ?o FILTER(isIRI(?h) && CONTAINS(STR(?h), "#") && STRSTARTS(STR(?h), STR(id:)))
             BIND(IRI(STRBEFORE(STR(?h), "#")) AS ?e)
             FILTER NOT EXISTS { ?e !rdf:type/(!rdf:type)? ?h }
             FILTER NOT EXISTS { ?h !rdf:type ?e }
             FILTER NOT EXISTS { ?h a org:Membership } } LIMIT 10""",
        prefixes=PREFIXES,
    ))
    assert not missed, f"hash IRIs the description would miss: {[r['h'].value for r in missed]}"


def test_a_meetings_participations_are_reached_from_the_meeting(client, store):
    """describe-meeting-parts.rq (through the group that holds the meeting) finds every membership MEETING#...
    that describe.rq finds by its type among all memberships."""
    from functools import partial

    hashed = {(row["m"].value, row["owner"].value) for row in store.query(
        """SELECT ?m ?owner WHERE { ?m a org:Membership FILTER (CONTAINS(STR(?m), "#"))
             BIND (STRBEFORE(STR(?m), "#") AS ?owner) }""", prefixes=PREFIXES)}
    assert len(hashed) > 20
    found = set()
    for owner in {owner for _, owner in hashed}:
        rows = client.portal.call(partial(linked_data.select_bound, client.app.state.pool, "describe-meeting-parts", entity=owner))
        found |= {(row["part"].value, owner) for row in rows}
    assert found == hashed


def test_the_labels_of_a_page_are_every_label_of_its_iris(client, store, samples):
    """labels.rq opened with the IRIs of a page answers each (IRI, label property, label) the store holds."""
    from functools import partial

    from icgraph.server import prepared

    properties = [ox.NamedNode(expand(name)) for name in ("skos:prefLabel", "dct:title", "rdfs:label", "foaf:name")]
    for kind in ("practice", "actor", "meeting"):
        triples = run_construct(store, describe_query(samples[kind]))
        iris = sorted({t for triple in triples for t in triple if isinstance(t, ox.NamedNode)}, key=str)
        expected = {(q.subject.value, q.predicate.value, q.object) for iri in iris for p in properties
                    for q in store.quads_for_pattern(iri, p, None, ox.DefaultGraph())}
        query = prepared.with_groups("labels", prepared.values("s", iris))
        got = {(r["s"].value, r["p"].value, r["label"]) for r in client.portal.call(partial(client.app.state.pool.prepared, query))}
        assert got == expected and len(got) > 10, kind


def test_practice_page_shows_what_people_read(client, store, samples):
    html = client.get(local_path(samples["practice"]) + ".html").text
    assert "by governance level" in html
    assert "generic mention" in html
    rows = list(store.query(
        f"SELECT ?label WHERE {{ <{samples['practice']}> prov:qualifiedDerivation/rdfs:label ?label }}",
        prefixes=PREFIXES,
    ))
    assert rows and rows[0]["label"].value in html  # "CDADI(2024)39, p. 113, lines 2871-2941"
    assert "The source lines, as printed" in html
    placeholder = _one(store, "?x a icg:Practice ; icg:reference/icg:linkWithoutAddress true")
    assert "link without address" in client.get(local_path(placeholder) + ".html").text


#: Each page query with a parameter, and the entities whose pages ask it (with rows among them: see the test).
PAGE_QUERIES = {
    "entity-stated-relations": "{ ?x a icg:Practice } UNION { ?s a rdf:Statement ; rdf:subject|rdf:object ?x }",
    "practice-partnerships": "?x a icg:Practice",
    "actor-practices": "?x a org:Organization",
    "actor-memberships": "?x a org:Organization",
    "actor-members": "?x a icg:Network",
    "actor-sub-organisations": "?x a org:Organization",
    "actor-partners": "?p icg:agent ?x . ?x a org:Organization",
    "actor-partnerships": "?x a org:Organization",
    "place-actors": "?x a icg:Place",
    "place-implemented": "?x a icg:Place",
    "place-listed": "?x a icg:Place",
    "place-subplaces": "?x a icg:Place",
    "concept-uses": "?x a skos:Concept",
    "scheme-concepts": "?x a skos:ConceptScheme",
    "meeting-held-by": "?x a icg:Meeting",
}


@pytest.mark.parametrize("name", sorted(PAGE_QUERIES))
def test_page_queries_bound_by_a_values_row_equal_the_query_bound_by_substitution(client, store, name):
    """Entity pages open their queries with the entity as a VALUES row (`select_bound`, which Oxigraph plans from
    the entity: at 100x, entity-stated-relations 160 ms -> 0.3 ms); the rows must be those of the file's query
    bound by substitution, for the entities whose pages ask it."""
    from functools import partial

    from icgraph.server import prepared
    from icgraph.store import default_dataset

    entities = [row["x"] for row in store.query(
        f"SELECT DISTINCT ?x WHERE {{ {PAGE_QUERIES[name]} FILTER(isIRI(?x)) }} ORDER BY ?x LIMIT 120", prefixes=PREFIXES)]
    assert entities
    query = prepared.load(name).text
    # GROUP_CONCAT's order is not SPARQL's to say (the page sorts what it shows): compared as sets of items.
    concatenated = set(re.findall(r"GROUP_CONCAT\(.*?\)\s+AS\s+\?(\w+)", query, re.S | re.I))

    def cell(variable: str, term) -> object:
        if term is None or variable not in concatenated:
            return str(term)
        return tuple(sorted(re.split(r"[\s,]+", term.value)))

    dataset = default_dataset(store)  # holds_merge reads every triple: once
    with_rows = 0
    for entity in entities:
        solutions = store.query(query, substitutions={ox.Variable("_entity_iri"): entity}, **dataset)
        variables = [v.value for v in solutions.variables]
        expected = sorted(tuple(cell(v, s[v]) for v in variables) for s in solutions)
        rows = client.portal.call(partial(linked_data.select_bound, client.app.state.pool, name, entity=entity.value))
        got = sorted(tuple(cell(v, row.get(v)) for v in variables) for row in rows)
        assert got == expected, entity
        with_rows += bool(got)
    assert with_rows > 0  # the comparison covers entities with rows, not only empty answers


# ----------------------------------------------------------------------------------------------
#   303 for things, 200 + Content-Location for documents, Vary: Accept
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "accept, suffix",
    [
        (BROWSER, "html"),
        ("", "html"),
        ("text/turtle", "ttl"),
        ("application/ld+json", "jsonld"),
        ("application/n-triples", "nt"),
        ("application/rdf+xml", "rdf"),
        ("text/turtle;q=0.5, application/ld+json;q=0.9, text/html;q=0.1", "jsonld"),
        ("application/rdf+xml;q=0.2, text/turtle", "ttl"),
    ],
)
def test_entity_iris_answer_303_to_the_negotiated_document(client, samples, accept, suffix):
    path = local_path(samples["practice"])
    response = client.get(path, headers={"accept": accept} if accept else {}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"{path}.{suffix}"
    assert "accept" in response.headers["vary"].lower()


def test_unacceptable_accept_is_406(client, samples):
    response = client.get(local_path(samples["actor"]), headers={"accept": "image/png"}, follow_redirects=False)
    assert response.status_code == 406


@pytest.mark.parametrize("base", ["/def", "/graph/compendium", "/.well-known/void"])
def test_documents_answer_200_with_content_location(client, base):
    for accept, suffix in (("text/turtle", "ttl"), ("application/ld+json", "jsonld"), ("text/html", "html")):
        response = client.get(base, headers={"accept": accept}, follow_redirects=False)
        assert response.status_code == 200
        assert response.headers["content-location"] == f"{base}.{suffix}"
        assert "accept" in response.headers["vary"].lower()
        assert client.get(f"{base}.{suffix}").status_code == 200


def test_def_and_graphs_serve_their_named_graph(client, store):
    ontology = Graph().parse(data=client.get("/def.ttl").content, format="turtle")
    expected = Graph().parse(data=ox.serialize(run_construct(store, graph_query(str(ONTOLOGY_GRAPH))), format=ox.RdfFormat.N_TRIPLES), format="nt")
    assert isomorphic(ontology, expected)
    for graph in store.named_graphs():
        name = graph.value[len(str(GRAPH)):]
        body = client.get(f"/graph/{name}.nt").content
        count = len(list(store.quads_for_pattern(None, None, None, graph)))
        assert len(list(ox.parse(body, format=ox.RdfFormat.N_TRIPLES))) == count, name


@pytest.mark.parametrize("accept, media_type", [("text/html", "text/html"), ("text/turtle", "text/plain")])
def test_unknown_iris_are_404_as_html_or_plain_text(client, accept, media_type):
    for path in ("/id/practice/no-such-practice", "/id/practice/no-such-practice.ttl", "/id/nothing", "/graph/nothing"):
        response = client.get(path, headers={"accept": accept}, follow_redirects=False)
        assert response.status_code == 404, path
        assert response.headers["content-type"].startswith(media_type), path
        assert "no-such-practice" in response.text or "nothing" in response.text


@pytest.mark.parametrize("path", [
    "/id/practice/x%3E%20%3Fp%20%3Fo%20%7D%20%23",  # x> ?p ?o } #
    "/id/x%3E%20%3Fp%20%3Fo%20.%20SERVICE%20%3Chttp://127.0.0.1:9/%3E%20%7B%20%3Fs%20%3Fp%20%3Fo%20%7D%20%7D%20%23",
    "/id/practice/a%20b.ttl",
])
def test_a_path_that_is_no_iri_is_404_and_never_reaches_the_query_text(client, path):
    """The IRI of /id/... comes from the URL: characters an IRI cannot hold must not close it in a query."""
    response = client.get(path, headers={"accept": "text/turtle"}, follow_redirects=False)
    assert response.status_code == 404


# ----------------------------------------------------------------------------------------------
#   VoID / DCAT and dumps
# ----------------------------------------------------------------------------------------------


def test_void_counts_equal_the_store(client, store):
    response = client.get("/.well-known/void", headers={"accept": "text/turtle"})
    void = Graph().parse(data=response.content, format="turtle")
    dataset = DATASET
    (total,) = store.query(UNION_COUNT)
    assert void.value(dataset, VOID.triples) == Literal(int(total["n"].value))
    graphs = list(store.named_graphs())
    assert {str(s) for s in void.objects(dataset, VOID.subset)} == {g.value for g in graphs}
    for graph in graphs:
        count = len(list(store.quads_for_pattern(None, None, None, graph)))
        assert void.value(URIRef(graph.value), VOID.triples) == Literal(count), graph.value
        for row in store.query("SELECT ?c (COUNT(DISTINCT ?s) AS ?n) WHERE { ?s a ?c } GROUP BY ?c", default_graph=[graph]):
            partitions = [p for p in void.objects(URIRef(graph.value), VOID.classPartition) if void.value(p, VOID["class"]) == URIRef(row["c"].value)]
            assert len(partitions) == 1 and void.value(partitions[0], VOID.entities) == Literal(int(row["n"].value))
    assert URIRef(ROOT + "sparql") in set(void.objects(dataset, VOID.sparqlEndpoint))
    assert URIRef("https://creativecommons.org/licenses/by/4.0/") in set(void.objects(dataset, URIRef("http://purl.org/dc/terms/license")))
    assert {str(u) for u in void.objects(dataset, VOID.dataDump)} == {ROOT + "downloads/" + n for n in DUMPS}
    vocabularies = {str(v) for v in void.objects(dataset, VOID.vocabulary)}
    assert {PREFIXES["icg"], PREFIXES["org"], PREFIXES["skos"], PREFIXES["prov"]} <= vocabularies
    assert len(list(void.objects(dataset, VOID.exampleResource))) >= 3


def test_dumps_parse_to_the_store(client, store):
    page = client.get("/downloads")
    assert page.status_code == 200
    quads = len(list(named_quads(store)))
    (union,) = store.query(UNION_COUNT)
    formats = {
        "icgraph.nq": (ox.RdfFormat.N_QUADS, quads),
        "icgraph.nq.gz": (ox.RdfFormat.N_QUADS, quads),
        "icgraph.trig": (ox.RdfFormat.TRIG, quads),
        "icgraph.ttl": (ox.RdfFormat.TURTLE, int(union["n"].value)),
        "icgraph.jsonld": (ox.RdfFormat.JSON_LD, int(union["n"].value)),
    }
    for name, (rdf_format, expected) in formats.items():
        assert f'href="/downloads/{name}"' in page.text
        response = client.get(f"/downloads/{name}")
        assert response.status_code == 200, name
        body = gzip.decompress(response.content) if name.endswith(".gz") else response.content
        assert len(set(ox.parse(body, format=rdf_format))) == expected, name


# ----------------------------------------------------------------------------------------------
#   Link check: crawl from every practice page
# ----------------------------------------------------------------------------------------------


def test_every_internal_link_resolves(app, store):
    practices = [r["p"].value for r in store.query("SELECT ?p WHERE { ?p a icg:Practice }", prefixes=PREFIXES)]
    assert len(practices) > 50
    started = time.perf_counter()
    seen, broken, fragments, anchors, sparql_links = asyncio.run(_crawl(app, [local_path(p) for p in practices]))
    assert not broken, f"{len(broken)} broken internal links, e.g. {broken[:10]}"
    # Hash links (practice#p-...) land on an element with that id.
    missing = [f"{t}#{f} (from {u})" for u, t, f in fragments if t + ".html" in anchors and f not in anchors[t + ".html"]]
    assert not missing, missing[:10]
    assert sparql_links >= len(practices)
    kinds = {re.sub(r"^/id/([^/.]+).*$", r"\1", u) for u in seen if u.startswith("/id/")}
    assert {"practice", "actor", "place", "level", "role", "meeting"} <= kinds, kinds
    print(f"link check: {len(seen)} URLs in {time.perf_counter() - started:.1f} s")


async def _crawl(app, start: list[str]):
    """Breadth-first over internal links, straight through ASGI (a thousand pages in seconds)."""
    queue = deque(start)
    seen: set[str] = set(queue)
    broken: list[str] = []
    anchors: dict[str, set[str]] = {}
    fragments: list[tuple[str, str, str]] = []
    sparql_links = 0
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver", follow_redirects=True) as client:
        while queue:
            url = queue.popleft()
            response = await client.get(url, headers={"accept": BROWSER})
            if response.status_code >= 400:
                broken.append(f"{url} -> {response.status_code}")
                continue
            if not response.headers.get("content-type", "").startswith("text/html"):
                continue
            page = _parse_page(response.text)
            anchors[response.url.path] = page.ids
            for href in page.links:
                if not href.startswith("/") or href.startswith("//"):
                    continue  # external
                target, fragment = urldefrag(href)
                if target == "/sparql" or target.startswith("/sparql?"):
                    # The SPARQL endpoint is another module's (tests/test_endpoint.py); the query behind
                    # each page's link is checked by test_every_format_carries_the_triples_of_the_describe_query.
                    sparql_links += 1
                    continue
                if target.startswith("/contribute/"):
                    # "Propose a correction": the contribution pages are another module's; the link is
                    # followed by tests/test_contributions_corrections.py and the Chromium flow.
                    continue
                if fragment:
                    fragments.append((url, target, fragment))
                if target not in seen:
                    seen.add(target)
                    queue.append(target)
    return seen, broken, fragments, anchors, sparql_links
