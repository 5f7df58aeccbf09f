"""Answers computed once per release (icgraph.aggregates): what is precomputed, that each equals its
query run live, that the server answers from them, and that a changed query is never answered stale."""

from __future__ import annotations

import json
import pickle
import time
from pathlib import Path

import pytest

from icgraph.aggregates import KEPT_AS_PAGES, Aggregates, job_key
from icgraph.precompute import precomputed_library
from icgraph.config import Settings
from icgraph.publish import release_from_dump
from icgraph.server.app import create_app
from icgraph.server.workers import prepared_job

from conftest import pooled_client
from endpoint_fixtures import EX, PEOPLE


@pytest.fixture(scope="module")
def release(built):
    return built.build_result.release


@pytest.fixture(scope="module")
def client(built):
    with pooled_client(create_app(built), built) as client:
        yield client


def test_the_manifest_lists_the_aggregates_with_their_timing(release, built):
    entry = release.manifest["aggregates"]
    assert release.aggregates.is_file() and entry["file"] == release.aggregates.name
    labels = set(entry["by_label"])
    library = {f"library/{q.name}" for q in precomputed_library(built.queries_dir)}
    assert len(library) >= 20  # every library query without parameters
    assert {"headline-counts", "map", "practices"} | library <= labels
    stored = Aggregates(release).answers()
    assert entry["answers"] == len(stored) == sum(e["answers"] for e in entry["by_label"].values())
    assert entry["refused"] == {}
    for label, numbers in entry["by_label"].items():
        assert numbers["answers"] >= 1 and numbers["bytes"] > 0 and numbers["seconds"] >= 0, label
    assert "aggregates" in release.manifest["timings"]


def test_each_precomputed_answer_equals_its_query_run_live(client, release):
    """Every stored answer against the same job run now on a reader (bypassing the aggregates)."""
    pool = client.app.state.pool
    stored = Aggregates(release).answers()
    assert len(stored) > 50
    for answer in stored:
        assert job_key(answer.job) == answer.key
        live = client.portal.call(pool._read, answer.job, 60.0)  # the reader itself, not the result cache
        assert live["content_type"] == answer.content_type, answer.label
        if answer.job["format"] is None:
            assert pickle.loads(live["body"]) == pickle.loads(answer.body), answer.label
        else:
            assert live["body"] == answer.body, answer.label


def test_the_map_without_filters_is_kept_as_drawn_from_its_queries_run_live(client, release):
    """The map's side indexes (maps.map_indexes) equal the map drawn from the map-*.rq queries run now on a
    reader, and the map's routes without filters answer them as kept, running no query."""
    from icgraph.server import maps

    pool = client.app.state.pool
    rows = {name: pickle.loads(client.portal.call(pool._read, prepared_job(f"map-{name}"), 60.0)["body"])
            for name in maps.MAP_QUERIES}
    drawn = maps.map_indexes(maps.map_data(rows))
    aggregates = Aggregates(release)
    assert set(drawn) == {maps.MAP_GRAPH, maps.MAP_PLACES, maps.MAP_PAGE, maps.MAP_DRAWING, maps.MAP_DATA}
    for name, body in drawn.items():
        assert aggregates.index(name) == body, name
    reads = pool.counters["aggregate-answers"]
    assert client.get("/api/map").content == drawn[maps.MAP_GRAPH]
    assert client.get("/api/map/places").content == drawn[maps.MAP_PLACES]
    assert client.get("/api/map/drawing").content == drawn[maps.MAP_DRAWING]
    assert client.get("/map?format=json").content == drawn[maps.MAP_GRAPH]
    page = client.get("/map").text
    graph = json.loads(drawn[maps.MAP_GRAPH])
    assert f'<span id="node-count">{len(graph["nodes"])}</span>' in page
    assert f'<span id="edge-count">{len(graph["edges"])}</span>' in page
    assert pool.counters["aggregate-answers"] == reads  # not even the map's stored query answers were read


def test_a_filtered_map_is_drawn_from_the_map_data_the_release_keeps(client, release):
    """The map's data kept by the release (maps.MAP_DATA) is the data read by the map-*.rq queries run now on a
    reader; a filtered map is drawn from it, and equals the map drawn from those queries' rows."""
    from icgraph.server import maps

    pool = client.app.state.pool
    rows = {name: pickle.loads(client.portal.call(pool._read, prepared_job(f"map-{name}"), 60.0)["body"])
            for name in maps.MAP_QUERIES}
    live = maps.map_data(rows)
    kept = maps.stored_map_data(pool)
    assert kept == live and kept.edges and kept.members
    assert maps.data_from_bytes(maps.data_to_bytes(live)) == live
    principle = max(live.principles, key=lambda p: sum(1 for _ in maps.governance_map(live, principle=p)["edges"]))
    reads = pool.counters["aggregate-answers"]
    answer = client.get("/api/map", params={"principle": principle})
    assert answer.status_code == 200 and answer.json() == maps.governance_map(live, principle=principle)
    assert answer.json()["edges"]
    assert pool.counters["aggregate-answers"] == reads  # no query answer read: the kept data was enough


def test_pages_and_library_queries_are_answered_from_the_aggregates(client, release):
    pool = client.app.state.pool
    before = pool.counters["aggregate-answers"]
    home = client.get("/?format=json")
    assert home.status_code == 200 and home.json()["practices"] > 50
    assert pool.counters["aggregate-answers"] == before + 1
    answered = client.get("/api/queries/practices-per-country", params={"format": "csv"})
    assert answered.status_code == 200 and answered.headers["content-type"].startswith("text/csv")
    assert pool.counters["aggregate-answers"] == before + 2
    job = prepared_job(precomputed_library(client.app.state.settings.queries_dir)[0], {}, None)
    assert Aggregates(release).answer(job) is None  # Python values of a library query were never asked for
    metrics = client.get("/metrics").text
    assert f"icgraph_aggregate_answers_total {float(before + 2)}" in metrics


def test_a_changed_query_is_never_answered_from_a_stale_aggregate(client, release):
    aggregates = Aggregates(release)
    job = prepared_job("headline-counts")
    assert aggregates.answer(job) is not None
    edited = dict(job, query=job["query"].replace("COUNT(DISTINCT ?x) AS ?practices", "COUNT(?x) AS ?practices"))
    assert edited["query"] != job["query"] and aggregates.answer(edited) is None
    rebound = dict(job, format="json")
    assert aggregates.answer(rebound) is None


def test_home_counts_and_map_follow_a_new_release(tmp_path):
    """The pages' per-release data (home counts, map) is recomputed when the served release changes."""
    location, build_dir = tmp_path / "store", tmp_path / "build"
    one = tmp_path / "one.nq"
    one.write_text(PEOPLE, encoding="utf-8")
    first = release_from_dump(one, location, build_dir)
    settings = Settings(store=location, build_dir=build_dir)
    with pooled_client(create_app(settings), settings) as client:
        counts = client.get("/?format=json").json()
        assert client.app.state.pool.release_id == first.id
        two = tmp_path / "two.nq"
        two.write_text(PEOPLE + f"<{EX}dave> <{EX}p> \"Dave\" <{EX}g> .\n", encoding="utf-8")
        second = release_from_dump(two, location, build_dir)
        pool = client.app.state.pool
        deadline = time.monotonic() + 30  # the pool looks at the current link at most once a second
        while pool.release_id != second.id and time.monotonic() < deadline:
            time.sleep(0.2)
        assert pool.release_id == second.id
        assert client.get("/?format=json").json()["triples"] == counts["triples"] + 1


def test_a_job_past_the_time_limit_is_left_to_the_live_path_and_the_rest_is_written(release, built, tmp_path):
    """A release is never held back by one heavy query: its process is killed at the limit, the
    job is listed as refused, and what was answered is written (at 100x a library query can run for minutes)."""
    from icgraph.precompute import write_aggregates

    from conftest import library_with_an_endless_query

    queries = library_with_an_endless_query(tmp_path, built.queries_dir)
    target = tmp_path / "aggregates.sqlite"
    entry = write_aggregates(Path(release.path) / "store", target, queries, built.max_result_bytes, timeout=2.0)
    assert "library/every-pair-of-triples" in entry["refused"]
    assert all("time limit" in message for message in entry["refused"].values())
    assert target.is_file()
    assert "library/every-pair-of-triples" not in entry["by_label"]  # a refused query leaves no answer behind
    (queries / "every-pair-of-triples.rq").unlink()

    entry = write_aggregates(Path(release.path) / "store", target.with_name("again.sqlite"), queries,
                             built.max_result_bytes, timeout=built.query_timeout)
    assert entry["refused"] == {} and "library/cooperation-edges" in entry["by_label"]


def test_library_only_aggregates_hold_the_library_and_one_run_serves_every_results_format(release, built, tmp_path):
    """``library_only`` (python -m bench api) leaves the pages' answers out; a SELECT runs once, and its
    XML, CSV and TSV answers are written from the JSON one (each equals a live run: the test above)."""
    import shutil

    from icgraph.precompute import write_aggregates

    queries = tmp_path / "queries"
    queries.mkdir()
    shutil.copy(built.queries_dir / "practices-per-country.rq", queries)
    entry = write_aggregates(Path(release.path) / "store", tmp_path / "library.sqlite", queries, built.max_result_bytes,
                             timeout=built.query_timeout, library_only=True)
    assert set(entry["by_label"]) == {"library/practices-per-country"} and entry["refused"] == {}
    assert entry["by_label"]["library/practices-per-country"]["answers"] == 4  # json, xml, csv, tsv


def test_the_pages_data_is_kept_past_the_result_limit_that_bounds_what_clients_get(release, built, tmp_path):
    """The practice browser's rows and the map's data never leave the release writer: they are kept past
    ``max_result_bytes`` (at 1000x they were refused, and /practices and /map ran live past the time limit),
    while a library answer past it is still kept only as pages or refused, as a client would be."""
    import shutil

    from icgraph.precompute import write_aggregates
    from icgraph.server.facet_index import INDEX_NAME

    queries = tmp_path / "queries"
    queries.mkdir()
    shutil.copy(built.queries_dir / "practices.rq", queries)
    limit = 20_000  # bytes: less than the facet rows, the map's data and the practices' answer at 1x
    entry = write_aggregates(Path(release.path) / "store", tmp_path / "small.sqlite", queries, limit, timeout=built.query_timeout)
    assert "practices" not in entry["refused"] and "map" not in entry["refused"]
    assert INDEX_NAME in entry["indexes"] and len(entry["indexes"]) > 1  # the facet index and the map's
    kept = Aggregates.__new__(Aggregates)
    kept._path, kept._db_handle = tmp_path / "small.sqlite", None
    library = [a for a in kept.answers() if a.label == "library/practices"]
    assert [a.content_type for a in library if not a.job.get("page")] == [KEPT_AS_PAGES]  # not kept whole: as pages
