"""Paging of the query API (limit, cursor, Link rel=next): concatenated pages equal the whole answer,
and a cursor is refused clearly when it is not of this query or belongs to another release."""

from __future__ import annotations

import csv
import io
import re

import pyoxigraph as ox
import pytest
from fastapi import FastAPI

from icgraph.server.paging import Cursor, page_of, query_fingerprint
from icgraph.server.query_api import router
from icgraph.store import default_dataset

from conftest import pooled_client


@pytest.fixture(scope="module")
def client(built):
    app = FastAPI()
    app.include_router(router)
    with pooled_client(app, built) as client:
        yield client


def _next(response) -> str | None:
    match = re.match(r'<([^>]+)>; rel="next"', response.headers.get("link", ""))
    return match.group(1) if match else None


def pages(client, path: str, params: dict) -> list:
    """Every page of an answer, following the Link header from the first."""
    found = [client.get(path, params=params)]
    while (following := _next(found[-1])) is not None:
        assert len(found) < 500
        found.append(client.get(following))
    assert all(page.status_code == 200 for page in found), [p.text[:200] for p in found if p.status_code != 200]
    return found


@pytest.mark.parametrize("name, params", [
    ("practice-actors", {}),
    ("practices-per-country", {}),
    ("practices-by-country", {"country": "place:es"}),  # its default: precomputed with the release
    ("practices-by-country", {"country": "place:gr"}),  # another value: run live
])
def test_json_pages_concatenate_to_the_whole_answer(client, name, params):
    whole = client.get(f"/api/queries/{name}", params={**params, "format": "json"}).json()
    assert len(whole["results"]["bindings"]) > 7, name
    found = pages(client, f"/api/queries/{name}", {**params, "format": "json", "limit": 7})
    documents = [page.json() for page in found]
    assert len(documents) == -(-len(whole["results"]["bindings"]) // 7)
    for document in documents[:-1]:
        assert len(document["results"]["bindings"]) == 7 and document["next"] == _next(found[documents.index(document)])
    assert "next" not in documents[-1] and _next(found[-1]) is None
    assert all(d["head"] == whole["head"] for d in documents)
    assert [row for d in documents for row in d["results"]["bindings"]] == whole["results"]["bindings"]


def test_csv_pages_concatenate_to_the_whole_answer(client):
    whole = client.get("/api/queries/cooperation-edges", params={"format": "csv"}).text.splitlines()
    found = pages(client, "/api/queries/cooperation-edges", {"format": "csv", "limit": 50})
    assert len(found) > 2
    rows = []
    for page in found:
        header, *body = page.text.splitlines()
        assert header == whole[0]
        rows += body
    assert rows == whole[1:]


def test_construct_pages_concatenate_to_the_whole_graph(client):
    params = {"practice": "practice:bilbao-anti-rumours-strategy", "format": "nt"}
    whole = client.get("/api/queries/practice-graph", params=params).text.splitlines()
    assert len(whole) > 10
    found = pages(client, "/api/queries/practice-graph", {**params, "limit": 4})
    concatenated = [line for page in found for line in page.text.splitlines()]
    # a graph has no order (Oxigraph's CONSTRUCT order changes from run to run): the same triples, each once
    assert len(concatenated) == len(whole) and sorted(concatenated) == sorted(whole)


def test_a_page_of_a_precomputed_query_is_cut_from_the_release_s_answer_as_a_live_run_cuts_it(client, store):
    """The release precomputed practice-actors: its pages cost no query (the aggregate counter moves
    once per page) and are the rows page_of takes from a live run of the same text."""
    from icgraph.queries import load_library

    pool = client.app.state.pool
    before = pool.counters["aggregate-answers"]
    first = client.get("/api/queries/practice-actors", params={"format": "csv", "limit": 6})
    second = client.get(_next(first))
    assert (first.status_code, second.status_code) == (200, 200)
    assert pool.counters["aggregate-answers"] == before + 2
    text = load_library(client.app.state.settings.queries_dir)["practice-actors"].text
    for offset, page in ((0, first), (6, second)):
        live, more = page_of(store.query(text, **default_dataset(store)), offset, 6, text)
        assert more and page.content == live.serialize(format=ox.QueryResultsFormat.CSV)


def test_pages_of_a_query_without_order_by_hold_every_row_once(store):
    """Without ORDER BY the pages follow a canonical order of the rows, the same on every page (page_of)."""
    text = "SELECT ?practice ?level WHERE { ?practice <https://w3id.org/icgraph/def#governanceLevel> ?level }"
    whole = [tuple(str(t) for t in row) for row in store.query(text, **default_dataset(store))]
    assert len(whole) > 20
    rows, offset, more = [], 0, True
    while more:
        page, more = page_of(store.query(text, **default_dataset(store)), offset, 9, text)
        rows += [tuple(str(t) for t in row) for row in page]
        offset += 9
    assert len(rows) == len(whole) and sorted(rows) == sorted(whole) and rows == sorted(rows)


@pytest.mark.parametrize("name", ["practice-actors", "practices-per-country", "coverage-gaps", "practice-graph"])
def test_pages_joined_are_the_bytes_the_writer_gives_the_whole_answer(built, store, name):
    """A release asks a library query once, as pages, and keeps the pages joined when small enough
    (precompute.Recorder): the join is byte for byte the writer's whole answer (JSON results, N-Triples)."""
    from icgraph.queries import load_library
    from icgraph.server.paging import joined_pages, pages_of, whole_format
    from icgraph.server.query_api import offer_for

    query = load_library(built.queries_dir)[name]
    fmt = whole_format(offer_for(query)[0])

    def results():
        return store.query(query.text, substitutions=query.bindings({}) or None, **default_dataset(store))

    whole = results().serialize(format=fmt.oxigraph)
    for size in (7, 1000):
        bodies, rows = pages_of(results(), size, query.text, fmt)
        assert len(bodies) == max(1, -(-rows // size)) and rows > 20
        joined = joined_pages(bodies, fmt, len(whole))
        if fmt.key == "json":
            assert joined == whole
        else:  # a graph's pages follow a canonical order of its triples: the same lines
            assert sorted(joined.splitlines()) == sorted(whole.splitlines())
        assert joined_pages(bodies, fmt, len(whole) - 1) is None  # one byte over the limit: not assembled


def test_a_cursor_alone_keeps_its_page_size(client):
    first = client.get("/api/queries/practices-per-country", params={"format": "json", "limit": 3})
    cursor = re.search(r"cursor=([^&>]+)", _next(first)).group(1)
    second = client.get("/api/queries/practices-per-country", params={"format": "json", "cursor": cursor})
    assert second.status_code == 200 and len(second.json()["results"]["bindings"]) == 3
    assert second.json()["results"]["bindings"] != first.json()["results"]["bindings"]


def test_a_cursor_of_an_earlier_release_is_gone(client):
    query = "/api/queries/practices-per-country"
    from icgraph.queries import parse_query_file

    text = parse_query_file(client.app.state.settings.queries_dir / "practices-per-country.rq").text
    old = Cursor("20200101T000000000Z-00000000", query_fingerprint(text, {}), 3, 3).encode()
    response = client.get(query, params={"cursor": old})
    assert response.status_code == 410 and "Start again without a cursor" in response.json()["detail"]
    current = Cursor(client.app.state.pool.release_id, query_fingerprint(text, {}), 3, 3).encode()
    assert client.get(query, params={"cursor": current}).status_code == 200


def test_bad_paging_parameters_are_a_400_that_says_why(client):
    query = "/api/queries/practices-per-country"
    for params in ({"limit": "0"}, {"limit": "ten"}, {"limit": "10001"}, {"cursor": "not-a-cursor"},
                   {"limit": "2", "limit ": "3"}):
        response = client.get(query, params=params)
        assert response.status_code == 400, params
    assert "from 1 to 10000" in client.get(query, params={"limit": "0"}).json()["detail"]
    first = client.get("/api/queries/practices-by-country", params={"country": "place:es", "limit": 2})
    cursor = re.search(r"cursor=([^&>]+)", _next(first)).group(1)
    other = client.get("/api/queries/practices-by-country", params={"country": "place:it", "cursor": cursor})
    assert other.status_code == 400 and "another query or other parameter values" in other.json()["detail"]
    repeated = client.get(f"{query}?limit=2&limit=3")
    assert repeated.status_code == 400 and "more than one 'limit'" in repeated.json()["detail"]


# --------------------------------------------------------------------------- /sparql: large answers in chunks

EVERYTHING = "SELECT ?s ?p ?o WHERE { ?s ?p ?o } ORDER BY ?s ?p ?o"


@pytest.fixture(scope="module")
def endpoint(built):
    from icgraph.server.app import create_app

    with pooled_client(create_app(built), built) as client:
        yield client


def test_a_large_sparql_answer_is_sent_in_chunks_equal_to_the_whole(endpoint, store):
    from icgraph.server.workers import CHUNK_BYTES

    expected = store.query(EVERYTHING, **default_dataset(store)).serialize(format=ox.QueryResultsFormat.CSV)
    assert len(expected) > 2 * CHUNK_BYTES
    pool = endpoint.app.state.pool
    reply = endpoint.portal.call(pool._read, {"op": "query", "query": EVERYTHING, "accept": "text/csv"}, 60.0)
    assert len(reply["parts"]) >= 3 and all(len(part) >= CHUNK_BYTES for part in reply["parts"][:-1])
    assert b"".join(reply["parts"]) == expected
    response = endpoint.get("/sparql", params={"query": EVERYTHING}, headers={"Accept": "text/csv"})
    assert response.status_code == 200 and response.content == expected
    assert int(response.headers["content-length"]) == len(expected)
    small = endpoint.get("/sparql", params={"query": "SELECT ?s WHERE { ?s ?p ?o } LIMIT 3"}, headers={"Accept": "text/csv"})
    assert small.status_code == 200 and len(small.text.splitlines()) == 4


def test_an_answer_past_max_result_bytes_is_still_a_503_not_a_cut_200(built):
    from dataclasses import replace

    from icgraph.server.app import create_app

    settings = replace(built, max_result_bytes=3 * 1024 * 1024)
    with pooled_client(create_app(settings), settings) as client:
        response = client.get("/sparql", params={"query": EVERYTHING}, headers={"Accept": "text/csv"})
        assert response.status_code == 503 and "larger than this endpoint's limit" in response.text
        fitting = client.get("/sparql", params={"query": EVERYTHING + " LIMIT 20000"}, headers={"Accept": "text/csv"})
        assert fitting.status_code == 200 and len(list(csv.reader(io.StringIO(fitting.text)))) == 20001


def test_an_answer_too_large_to_send_whole_is_kept_as_pages_and_served_page_by_page(client, built, tmp_path, monkeypatch):
    """At 1000x some library answers are larger than ``max_result_bytes``: the release keeps them as pages
    (`paging.pages_of`), a whole request is refused at once with how to page, and every page, in any format and
    of any size, is cut from the kept pages (crossing their boundaries) and equals the whole answer's rows."""
    import shutil
    from types import SimpleNamespace

    from icgraph.aggregates import AGGREGATES, Aggregates
    from icgraph.precompute import ProcessRecorder, write_aggregates

    whole = client.get("/api/queries/practice-actors", params={"format": "json"})
    whole_csv = client.get("/api/queries/practice-actors", params={"format": "csv"}).text.splitlines()
    rows = whole.json()["results"]["bindings"]
    assert whole.status_code == 200 and len(rows) > 150
    queries = tmp_path / "queries"
    queries.mkdir()
    shutil.copy(built.queries_dir / "practice-actors.rq", queries)
    folder = tmp_path / "release"
    folder.mkdir()
    store_folder = client.app.state.pool.release.store
    too_small = len(whole.content) // 3
    entry = write_aggregates(store_folder, folder / AGGREGATES, queries, too_small, timeout=built.query_timeout, library_only=True,
                             recorder=ProcessRecorder(store_folder, too_small, built.query_timeout, page_rows=40))
    assert entry["refused"] == {}
    pool = client.app.state.pool
    kept = Aggregates(SimpleNamespace(id=pool.release.id, path=folder))
    monkeypatch.setattr(pool, "_aggregates_of", kept)  # served as if the release had been written with that limit

    refused = client.get("/api/queries/practice-actors", params={"format": "csv"})
    assert refused.status_code == 503 and f"{len(rows)} rows" in refused.text and "limit=N" in refused.text
    before = pool.counters["aggregate-answers"]
    for limit in (7, 100):  # pages that cross the kept pages' boundaries of 40 rows
        found = pages(client, "/api/queries/practice-actors", {"format": "json", "limit": limit})
        assert [row for page in found for row in page.json()["results"]["bindings"]] == rows
    found = pages(client, "/api/queries/practice-actors", {"format": "csv", "limit": 50})
    assert [line for page in found for line in page.text.splitlines()[1:]] == whole_csv[1:]
    assert pool.counters["aggregate-answers"] - before == -(-len(rows) // 7) + -(-len(rows) // 100) + len(found)
