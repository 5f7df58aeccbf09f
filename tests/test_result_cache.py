"""The result cache of the web process (icgraph.server.result_cache): what is kept and for how long,
its bound in bytes, its counters on /metrics, and that a new release never gets an old answer."""

from __future__ import annotations

import re
import time
from dataclasses import replace

import pytest

from icgraph.config import Settings
from icgraph.publish import release_from_dump
from icgraph.server.app import create_app
from icgraph.server.result_cache import ResultCache

from conftest import pooled_client
from endpoint_fixtures import EX, PEOPLE

JSON = {"Accept": "application/sparql-results+json"}
COUNT = "SELECT (COUNT(*) AS ?n) WHERE { ?practice a <https://w3id.org/icgraph/def#Practice> }"
SPARQL_200 = r'icgraph_http_requests_total\{route="/sparql",status="200"\}'


def metric(client, name: str) -> float:
    match = re.search(rf"^{name} (\S+)$", client.get("/metrics").text, re.MULTILINE)
    assert match, name
    return float(match.group(1))


@pytest.fixture(scope="module")
def client(built):
    with pooled_client(create_app(built), built) as client:
        yield client


def test_a_repeated_sparql_query_is_answered_from_the_cache(client):
    cache = client.app.state.pool.results
    hits, misses = cache.hits, cache.misses
    first = client.get("/sparql", params={"query": COUNT}, headers=JSON)
    assert first.status_code == 200 and (cache.hits, cache.misses) == (hits, misses + 1)
    again = client.get("/sparql", params={"query": COUNT}, headers=JSON)
    assert again.content == first.content and cache.hits == hits + 1
    # the same query laid out otherwise, with a comment, sent by POST: the same normalised key
    relaid = COUNT.replace(" WHERE", "  # how many\n  WHERE")
    posted = client.post("/sparql", data={"query": relaid}, headers=JSON)
    assert posted.content == first.content and cache.hits == hits + 2
    # another format is another answer
    csv = client.get("/sparql", params={"query": COUNT}, headers={"Accept": "text/csv"})
    assert csv.status_code == 200 and csv.text.startswith("n") and cache.misses == misses + 2
    assert metric(client, "icgraph_result_cache_hits_total") == cache.hits
    assert metric(client, "icgraph_result_cache_misses_total") == cache.misses
    assert metric(client, "icgraph_result_cache_entries") == len(cache) >= 2


def test_a_repeated_sparql_get_is_replayed_from_the_cache_without_routing(client, monkeypatch):
    """The second GET gets the first one's status, headers and bytes from the result cache, without
    reaching the route (a pool that can no longer read still answers it); another Host is another base IRI."""
    pool = client.app.state.pool
    relative = "SELECT ?here WHERE { BIND(<here> AS ?here) }"
    first = client.get("/sparql", params={"query": relative}, headers=JSON)
    other_host = client.get("/sparql", params={"query": relative}, headers={**JSON, "Host": "example.org"})
    assert first.status_code == other_host.status_code == 200
    assert first.json()["results"]["bindings"][0]["here"]["value"] == "http://testserver/here"
    assert other_host.json()["results"]["bindings"][0]["here"]["value"] == "http://example.org/here"

    async def no_reader(job, timeout):
        raise AssertionError("routed to the pool")

    from_browser = client.get("/sparql", params={"query": relative}, headers={**JSON, "Origin": "https://example.net"})
    assert from_browser.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-origin" not in first.headers

    monkeypatch.setattr(pool, "read", no_reader)
    hits, counted = pool.results.hits, metric(client, SPARQL_200)
    again = client.get("/sparql", params={"query": relative}, headers=JSON)
    assert again.status_code == 200 and again.content == first.content and dict(again.headers) == dict(first.headers)
    assert again.headers["content-security-policy"] and again.headers["etag"]  # as the whole stack first sent them
    assert client.get("/sparql", params={"query": relative}, headers={**JSON, "Host": "example.org"}).content == other_host.content
    # a request with an Origin is replayed with the CORS headers its first answer got, one without it without them
    browser_again = client.get("/sparql", params={"query": relative}, headers={**JSON, "Origin": "https://example.net"})
    assert dict(browser_again.headers) == dict(from_browser.headers) and browser_again.content == first.content
    assert pool.results.hits == hits + 3
    assert metric(client, SPARQL_200) == counted + 3  # each replay is counted as its route's answer
    # Once the answer has left the cache, the same GET goes to the route again (here: to the pool that cannot read).
    pool.results._entries.clear()
    with pytest.raises(AssertionError, match="routed to the pool"):
        client.get("/sparql", params={"query": relative}, headers=JSON)


def test_queries_whose_answer_is_not_a_function_of_the_data_are_never_kept(client):
    cache = client.app.state.pool.results
    before = (cache.hits, cache.misses, len(cache))
    for text in ("SELECT (RAND() AS ?r) WHERE {}", "SELECT (STRUUID() AS ?u) WHERE {}", "SELECT (NOW() AS ?t) WHERE {}"):
        answers = {client.get("/sparql", params={"query": text}, headers=JSON).json()["results"]["bindings"][0].popitem()[1]["value"]
                   for _ in range(2)}
        assert len(answers) == 2 or "NOW" in text, text
    assert (cache.hits, cache.misses, len(cache)) == before
    assert cache.key("r", {"op": "update", "update": "CLEAR ALL"}) is None
    assert cache.key("r", {"op": "graph_get", "graph": None}) is None


def test_the_query_api_and_page_queries_are_kept(client):
    cache = client.app.state.pool.results
    ask = {"country": "place:it", "format": "csv"}
    first = client.get("/api/queries/practices-by-country", params=ask)
    hits = cache.hits
    assert first.status_code == 200 and client.get("/api/queries/practices-by-country", params=ask).content == first.content
    assert cache.hits == hits + 1
    # An entity page's queries (the practice browser reads the release's facet index instead: no query)
    path = "/id/practice/bilbao-intersectional-board-on-female-genital-mutilation-prevention"
    page = client.get(path, headers={"Accept": "text/html"})
    hits, misses = cache.hits, cache.misses
    assert page.status_code == 200 and client.get(path, headers={"Accept": "text/html"}).text == page.text
    assert cache.hits > hits and cache.misses == misses


def test_the_cache_is_bounded_and_counts_evictions(built):
    settings = replace(built, result_cache_bytes=4096)
    with pooled_client(create_app(settings), settings) as client:
        cache = client.app.state.pool.results
        for year in range(2000, 2030):
            text = f"SELECT ?practice WHERE {{ ?practice <https://w3id.org/icgraph/def#startYear> ?y FILTER(?y != {year}) }} LIMIT 3"
            assert client.get("/sparql", params={"query": text}, headers=JSON).status_code == 200
            assert cache.size <= 4096
        assert cache.evictions > 0 and len(cache) < 30
        assert metric(client, "icgraph_result_cache_evictions_total") == cache.evictions
        assert metric(client, "icgraph_result_cache_bytes") == cache.size


def test_a_cache_of_zero_bytes_keeps_nothing(built):
    settings = replace(built, result_cache_bytes=0)
    with pooled_client(create_app(settings), settings) as client:
        for _ in range(2):
            assert client.get("/sparql", params={"query": COUNT}, headers=JSON).status_code == 200
        cache = client.app.state.pool.results
        assert (cache.hits, len(cache)) == (0, 0)
    assert ResultCache(0).key("r", {"op": "query", "query": COUNT}) is None


def test_a_new_release_never_gets_an_answer_of_the_previous_one(tmp_path):
    """Publish a new release while the server runs: the same query, asked again, gets the new answer."""
    location, build_dir = tmp_path / "store", tmp_path / "build"
    one, two = tmp_path / "one.nq", tmp_path / "two.nq"
    one.write_text(PEOPLE, encoding="utf-8")
    two.write_text(PEOPLE + f"<{EX}dave> <http://xmlns.com/foaf/0.1/name> \"Dave\" <{EX}graph/people> .\n", encoding="utf-8")
    release_from_dump(one, location, build_dir)
    settings = Settings(store=location, build_dir=build_dir)
    names = "SELECT ?name WHERE { ?person <http://xmlns.com/foaf/0.1/name> ?name } ORDER BY ?name"
    with pooled_client(create_app(settings), settings) as client:
        pool = client.app.state.pool

        def answer():
            return [row["name"]["value"] for row in client.get("/sparql", params={"query": names}, headers=JSON).json()["results"]["bindings"]]

        assert answer() == answer() == ["Alice", "Bob", "Carol"] and pool.results.hits == 1
        second = release_from_dump(two, location, build_dir)
        deadline = time.monotonic() + 30  # the pool looks at the current link at most once a second
        while pool.release_id != second.id and time.monotonic() < deadline:
            time.sleep(0.2)
        assert pool.release_id == second.id
        assert answer() == ["Alice", "Bob", "Carol", "Dave"]
        assert pool.results.hits == 1 and answer() == ["Alice", "Bob", "Carol", "Dave"] and pool.results.hits == 2
