"""`icgraph load` writes a release from a dump by streaming (icgraph.publish.ReleaseWriter.write_from_dump,
icgraph.dump_writers): the same release as the build's, and a large one leaves out its derived dumps saying why."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx
import pyoxigraph as ox
from rdflib import Graph
from rdflib.compare import isomorphic

from icgraph import dump_writers, release as releases
from icgraph.config import Settings
from icgraph.publish import release_from_dump

from icgraph.namespaces import GRAPH

from endpoint_fixtures import EX, PEOPLE, running_server


def _quads(path: Path, fmt: ox.RdfFormat) -> set[ox.Quad]:
    return set(ox.parse(path=str(path), format=fmt))


def _graph(path: Path, fmt: str) -> Graph:
    graph = Graph()
    graph.parse(path, format=fmt)
    return graph


def _rows(path: Path, table: str) -> list[tuple]:
    with sqlite3.connect(path) as db:
        return db.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall()


def test_a_release_loaded_from_the_built_dump_equals_the_built_release(built, tmp_path, monkeypatch):
    """Store, dumps (as sets of quads or as graphs), per-graph files, search index and similar practices."""
    monkeypatch.setattr(dump_writers, "JSON_LD_BATCH", 1000)  # many batches: subjects and blank nodes cut across them
    made = releases.current_release(built.store, built.build_dir)
    settings = Settings(store=tmp_path / "store", build_dir=tmp_path / "build")
    loaded = release_from_dump(made.dump("icgraph.nq"), settings.store, settings.build_dir, settings=settings)

    stored = set(ox.Store.read_only(str(made.path / "store")))
    assert set(ox.Store.read_only(str(loaded.path / "store"))) == stored
    assert _quads(loaded.dump("icgraph.nq"), ox.RdfFormat.N_QUADS) == _quads(made.dump("icgraph.nq"), ox.RdfFormat.N_QUADS)
    # As the store holds them (literals in canonical form: "1.0"^^xsd:decimal as "1"), as `icgraph load` wrote them before.
    named = {q for q in stored if not isinstance(q.graph_name, ox.DefaultGraph)}
    assert _quads(loaded.dump("icgraph.trig"), ox.RdfFormat.TRIG) == named
    union = _graph(made.dump("icgraph.ttl"), "turtle")
    assert isomorphic(_graph(loaded.dump("icgraph.ttl"), "turtle"), union)
    assert isomorphic(_graph(loaded.dump("icgraph.jsonld"), "json-ld"), union)
    graph_files = sorted(p.name for p in (made.path / "graphs").iterdir())
    assert graph_files and sorted(p.name for p in (loaded.path / "graphs").iterdir()) == graph_files
    for name in graph_files:
        assert _quads(loaded.path / "graphs" / name, ox.RdfFormat.N_TRIPLES) == _quads(made.path / "graphs" / name, ox.RdfFormat.N_TRIPLES)
    for table in ("document", "vocabulary", "similar"):
        assert _rows(loaded.path / "search.sqlite", table) == _rows(made.path / "search.sqlite", table), table
    assert _rows(loaded.path / "search.sqlite", "similar")
    assert (loaded.manifest["triples"], loaded.manifest["graphs"]) == (made.manifest["triples"], made.manifest["graphs"])
    assert "skipped" not in loaded.manifest and set(loaded.manifest["dumps"]) == set(releases.DUMPS)


def test_a_load_above_the_limit_leaves_out_the_derived_dumps_and_the_server_says_why(tmp_path):
    dump = tmp_path / "people.nq"
    dump.write_text(PEOPLE + f'<{EX}carol> <{EX}p> "Carol" <{GRAPH}people> .\n', encoding="utf-8")
    quads = len(_quads(dump, ox.RdfFormat.N_QUADS))
    settings = Settings(store=tmp_path / "store", build_dir=tmp_path / "build", dump_max_quads=quads - 1)
    loaded = release_from_dump(dump, settings.store, settings.build_dir, settings=settings)

    assert set(loaded.manifest["skipped"]) == {"icgraph.trig", "icgraph.ttl", "icgraph.jsonld", "graphs"}
    assert set(loaded.manifest["dumps"]) == {"icgraph.nq", "icgraph.nq.gz"}
    assert sorted(p.name for p in loaded.dumps.iterdir()) == ["icgraph.nq", "icgraph.nq.gz"]
    assert not any((loaded.path / "graphs").iterdir())
    void = (loaded.path / "void.ttl").read_text(encoding="utf-8")
    assert "downloads/icgraph.nq.gz" in void and "downloads/icgraph.ttl" not in void
    # The store holds every quad and the merge all the same.
    assert _quads(loaded.dump("icgraph.nq"), ox.RdfFormat.N_QUADS) <= set(ox.Store.read_only(str(loaded.path / "store")))
    with running_server(settings.store, token=None) as server:
        base = server.sparql.rsplit("/sparql", 1)[0]
        refused = httpx.get(f"{base}/downloads/icgraph.ttl")
        assert refused.status_code == 404 and "ICGRAPH_DUMP_MAX_QUADS" in refused.text and f"{quads:,} quads" in refused.text
        graph = httpx.get(f"{base}/graph/people.nt")
        assert graph.status_code == 404 and "ICGRAPH_DUMP_MAX_QUADS" in graph.text
        assert httpx.get(f"{base}/downloads/icgraph.nq.gz").status_code == 200
        page = httpx.get(f"{base}/downloads", headers={"Accept": "text/html"})
        assert page.status_code == 200 and "icgraph.nq.gz" in page.text and "icgraph.ttl" not in page.text
