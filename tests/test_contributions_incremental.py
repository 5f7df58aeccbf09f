"""An accept writes its release from the previous one: the graphs from the sources stay the same bytes,
every dump still holds the whole new dataset, and a contributed practice gets the inferred triples the build's
rules give a source practice."""

from __future__ import annotations

import gzip
import hashlib

import pyoxigraph as ox
import pytest
from fastapi.testclient import TestClient
from rdflib import Graph

from icgraph import release as releases
from icgraph.contributions.accounts import find_user
from icgraph.contributions.incremental import HEAD_KEY, head_of
from icgraph.contributions.publication import accept
from icgraph.infer import infer
from icgraph.namespaces import CONTRIBUTIONS_GRAPH, INFERRED_GRAPH
from icgraph.server.app import create_app
from icgraph.terms import from_ox

from contribution_fixtures import TURTLE, contribution_site

#: The graphs the build derives from the sources and curation alone.
SOURCE_GRAPHS = ("ontology", "vocabularies", "compendium", "meeting-report", "curation", "provenance")
ICG = "https://w3id.org/icgraph/def#"
#: The fixture's practice with a second participant at another level (the EU agency, European level).
MULTILEVEL = TURTLE.replace(
    b"icg:role role:lead ] .",
    b"icg:role role:lead ] , [ icg:agent actor:fra ; icg:role role:adviser ] .",
)


def _sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _submit(site, client, body: bytes) -> dict:
    answer = client.post("/api/submissions", content=body, headers={"Content-Type": "text/turtle", **site.auth("carla")})
    assert answer.status_code == 201, answer.text
    return answer.json()


def _canonical(statements) -> list:
    """Quads or triples as a store holds them (Oxigraph writes typed literals in their canonical form)."""
    statements = list(statements)
    store = ox.Store()
    store.extend([s if isinstance(s, ox.Quad) else ox.Quad(s.subject, s.predicate, s.object, ox.DefaultGraph()) for s in statements])
    return [q.triple if q.graph_name == ox.DefaultGraph() else q for q in store.quads_for_pattern(None, None, None, None)]


def _ground(triples) -> tuple[set, int]:
    """Statements without blank nodes as a set, and how many have one (their labels differ between files)."""
    ground, blank = set(), 0
    for triple in _canonical(triples):
        if any(isinstance(term, ox.BlankNode) for term in (triple.subject, triple.object)):
            blank += 1
        else:
            ground.add(triple)
    return ground, blank


@pytest.fixture(scope="module")
def two_accepts(built, tmp_path_factory):
    """A site where two practices were accepted one after the other: (site, releases before/first/second, submissions)."""
    site = contribution_site(built, tmp_path_factory.mktemp("incremental"))
    with TestClient(create_app(site.settings), base_url="https://testserver") as client:
        first, second = _submit(site, client, TURTLE), _submit(site, client, MULTILEVEL)
    rui = find_user(site.settings.state_dir, "rui")
    before = releases.current_release(site.settings.store, site.settings.build_dir)
    after_first = accept(site.settings, first["id"], rui)
    after_second = accept(site.settings, second["id"], rui)
    return site, (before, after_first, after_second), (first, second)


def test_the_graphs_from_the_sources_keep_their_bytes_through_accepts(two_accepts):
    _, (before, *accepted), _ = two_accepts
    for release in accepted:
        for name in SOURCE_GRAPHS:
            assert _sha256(release.path / "graphs" / f"{name}.nt") == _sha256(before.path / "graphs" / f"{name}.nt"), name
        # The dumps start with the build's dump, byte for byte; the contributions follow it.
        head = release.manifest[HEAD_KEY]
        for name in ("icgraph.nq", "icgraph.trig", "icgraph.ttl", "icgraph.nq.gz"):
            built = before.dump(name).read_bytes()
            assert head[f"dumps/{name}"] == len(built) and release.dump(name).read_bytes()[: len(built)] == built, name
        inferred = (before.path / "graphs" / "inferred.nt").read_bytes()
        assert (release.path / "graphs" / "inferred.nt").read_bytes().startswith(inferred)
    # A graph an accept does not change is the same file (a hard link), not a copy.
    assert (accepted[1].path / "graphs" / "compendium.nt").stat().st_ino == (before.path / "graphs" / "compendium.nt").stat().st_ino
    assert head_of(accepted[1]) == head_of(before)


def test_every_dump_of_an_accepted_release_holds_its_whole_dataset(two_accepts):
    site, (_, _, release), (first, second) = two_accepts
    store = ox.Store.read_only(str(release.store))
    named = [q for q in store.quads_for_pattern(None, None, None, None) if q.graph_name != ox.DefaultGraph()]
    merge = [q.triple for q in store.quads_for_pattern(None, None, None, ox.DefaultGraph())]
    nquads = release.dump("icgraph.nq").read_bytes()
    assert gzip.decompress(release.dump("icgraph.nq.gz").read_bytes()) == nquads
    from_nq = list(ox.parse(nquads, format=ox.RdfFormat.N_QUADS))
    assert len(set(from_nq)) == len(from_nq) == len(named)
    assert _ground(from_nq) == _ground(named)
    assert set(ox.parse(path=str(release.dump("icgraph.trig")), format=ox.RdfFormat.TRIG)) == set(from_nq)
    expected = _ground(merge)
    turtle = set(ox.parse(path=str(release.dump("icgraph.ttl")), format=ox.RdfFormat.TURTLE))
    assert _ground(turtle) == expected
    jsonld = Graph().parse(release.dump("icgraph.jsonld"), format="json-ld")
    assert _ground(ox.parse(jsonld.serialize(format="nt", encoding="utf-8"), format=ox.RdfFormat.N_TRIPLES)) == expected
    # Each graph's file holds that graph; both practices are in graph:contributions.
    for graph in {q.graph_name for q in named}:
        path = release.graph_file(graph.value)
        assert _ground(ox.parse(path=str(path), format=ox.RdfFormat.N_TRIPLES)) == _ground(q.triple for q in named if q.graph_name == graph)
    contributed = {q.subject.value for q in named if q.graph_name.value == str(CONTRIBUTIONS_GRAPH)}
    assert {first["practice"], second["practice"]} <= contributed
    assert release.manifest["contributions"] == [first["id"], second["id"]]


def test_a_contributed_practice_gets_the_inferred_triples_the_build_would_give_it(two_accepts):
    _, (_, _, release), (_, second) = two_accepts
    store = ox.Store.read_only(str(release.store))
    inferred = ox.NamedNode(str(INFERRED_GRAPH))
    # What the build's inference finds in the asserted graphs of this release, contributions included.
    asserted = Graph()
    for quad in store.quads_for_pattern(None, None, None, None):
        if quad.graph_name not in (ox.DefaultGraph(), inferred):
            asserted.add((from_ox(quad.subject), from_ox(quad.predicate), from_ox(quad.object)))
    expected = {t for t in infer(asserted) if not any(type(term).__name__ == "BNode" for term in t)}
    held = {(from_ox(q.subject), from_ox(q.predicate), from_ox(q.object)) for q in store.quads_for_pattern(None, None, None, inferred)}
    held = {t for t in held if not any(type(term).__name__ == "BNode" for term in t)}
    assert held == expected
    practice = second["practice"]
    about = {(str(p), str(o)) for s, p, o in held if str(s) == practice}
    assert (ICG + "spansLevel", "https://w3id.org/icgraph/id/level/local") in about
    assert (ICG + "spansLevel", "https://w3id.org/icgraph/id/level/european") in about
    assert ("http://www.w3.org/1999/02/22-rdf-syntax-ns#type", ICG + "MultilevelPractice") in about
    assert (ICG + "levelCount", "2") in about
    edges = {str(s) for s, p, o in held if str(p) == ICG + "viaPractice" and str(o) == practice}
    assert len(edges) == 1 and all(edge.startswith(practice + "#coop-") for edge in edges)


def _added_triples(turtle: bytes) -> list[ox.Triple]:
    from icgraph.terms import to_ox

    return [ox.Triple(to_ox(s), to_ox(p), to_ox(o)) for s, p, o in Graph().parse(data=turtle, format="turtle")]


def _correction_of_a_one_level_practice(store: ox.Store) -> list[ox.Triple]:
    """A new participation in a published practice that spans one level, by an actor at another level (its count changes)."""
    inferred = ox.NamedNode(str(INFERRED_GRAPH))
    level_count, spans = ox.NamedNode(ICG + "levelCount"), ox.NamedNode(ICG + "spansLevel")
    governance_level, agent, participation = (ox.NamedNode(ICG + n) for n in ("governanceLevel", "agent", "hasParticipation"))
    practice = next(q.subject for q in store.quads_for_pattern(None, level_count, ox.Literal("1", datatype=ox.NamedNode(
        "http://www.w3.org/2001/XMLSchema#integer")), inferred))
    (spanned,) = {q.object for q in store.quads_for_pattern(practice, spans, None, inferred)}
    other = next(q.subject for q in store.quads_for_pattern(None, governance_level, None, None) if q.object != spanned)
    joined = ox.BlankNode()
    return [ox.Triple(practice, participation, joined), ox.Triple(joined, agent, other)]


@pytest.mark.parametrize("change", ["new practice", "correction"])
def test_inference_on_the_neighbourhood_of_a_change_equals_inference_on_the_whole_graph(store, change):
    from icgraph.infer import infer_change, infer_from_store

    inferred = ox.NamedNode(str(INFERRED_GRAPH))
    asserted = [g for g in store.named_graphs() if isinstance(g, ox.NamedNode) and g != inferred]
    added = _added_triples(TURTLE) if change == "new practice" else _correction_of_a_one_level_practice(store)
    whole = infer_from_store(store, asserted, added, inferred=None)
    assert infer_from_store(store, asserted, added) == whole
    gained, lost = infer_change(store, asserted, added)
    held = {q.triple for q in store.quads_for_pattern(None, None, None, inferred)}
    assert gained and gained <= whole and not lost & whole
    if change == "correction":  # the practice's level count went from 1 to 2: the old count is lost
        assert {t.object.value for t in lost if t.predicate.value == ICG + "levelCount"} == {"1"}
        assert {t.object.value for t in gained if t.predicate.value == ICG + "levelCount"} == {"2"}
    assert (held - lost) | gained == whole


def test_the_void_counts_of_an_accepted_release_are_those_of_its_store(two_accepts):
    from icgraph.void import counts_of_void, store_statistics, void_counts

    _, (before, *accepted), _ = two_accepts
    for release in accepted:  # the second's counts are the first's changed: each accept adds to the one before
        store = ox.Store.read_only(str(release.store))
        counts = counts_of_void(Graph().parse(release.path / "void.ttl", format="turtle"))
        assert counts == void_counts(store)
        statistics = store_statistics(store)
        assert release.manifest["triples"] == statistics["default_triples"]
        assert release.manifest["graphs"] == dict(statistics["graphs"])
    graphs = counts_of_void(Graph().parse(accepted[0].path / "void.ttl", format="turtle"))["graphs"]
    assert graphs[str(CONTRIBUTIONS_GRAPH)]["classes"]["https://w3id.org/icgraph/def#Practice"] == 1
    assert str(CONTRIBUTIONS_GRAPH) not in counts_of_void(Graph().parse(before.path / "void.ttl", format="turtle"))["graphs"]


def _index_content(path) -> tuple:
    """Documents (names as a set: GROUP_CONCAT's order is the store's), vocabulary, similar practices, basis."""
    import sqlite3

    with sqlite3.connect(path) as db:
        documents = sorted((kind, slug, iri, title, text_title, tuple(sorted(names.split(" · "))), body)
                           for kind, slug, iri, title, text_title, names, body in db.execute(
                               "SELECT d.kind, d.slug, d.iri, d.title, t.title, t.names, t.body FROM document d JOIN text t ON t.rowid = d.id"))
        return (documents, sorted(db.execute("SELECT * FROM vocabulary")),
                sorted(db.execute("SELECT practice, rank, other, score, reason, reasons FROM similar")),
                sorted(db.execute("SELECT * FROM similar_basis")))


def test_the_search_index_of_an_accept_equals_the_index_written_whole(two_accepts, tmp_path):
    """The accept updates the previous index; writing the whole index of the new store, weighed by the build's
    basis as the accept's is, gives the same documents, vocabulary and similar practices."""
    import sqlite3

    from icgraph.search import build_search_index, search
    from icgraph.similar import _read_basis, similar_to

    _, (before, first, second), (_, contributed) = two_accepts
    with sqlite3.connect(before.search_index) as db:
        basis = _read_basis(db)
    for release in (first, second):
        whole = build_search_index(ox.Store.read_only(str(release.store)), tmp_path / f"{release.id}.sqlite", basis=basis)
        assert _index_content(release.search_index) == _index_content(whole)
    assert _index_content(second.search_index)[3] == _index_content(before.search_index)[3]  # the build's basis, kept
    assert contributed["practice"] in {hit.iri for hit in search(second.search_index, "neighbourhood language cafés")}
    assert contributed["practice"] not in {hit.iri for hit in search(before.search_index, "neighbourhood language cafés")}
    found = similar_to(second.search_index, contributed["practice"])
    assert found and all(s.score > 0 and s.reasons for s in found)
    # The new practice entered the lists of practices it resembles most.
    assert any(contributed["practice"] in {s.iri for s in similar_to(second.search_index, s.iri)} for s in found)


def test_an_accepted_release_gets_its_aggregates_after_publication_each_equal_to_its_query_on_the_new_store(two_accepts):
    """The accept publishes without waiting for the aggregates; they follow into the release's folder, and each
    answer is what its query gives on that release's store (the server serves it only for that release)."""
    import pickle

    from icgraph.aggregates import Aggregates, job_key
    from icgraph.precompute import complete_release, precomputed_library, written_entry
    from icgraph.server.facet_index import INDEX_NAME, FacetIndex

    from conftest import pooled_client

    site, (before, _, release), (_, contributed) = two_accepts
    settings = site.settings
    assert release.manifest["aggregates"]["after publication"] is True
    complete_release(release.path, settings.queries_dir, settings.max_result_bytes, settings.precompute_timeout)
    entry = written_entry(release.path)
    stored = Aggregates(release).answers()
    assert entry["answers"] == len(stored) > 50 and entry["refused"] == {}
    assert {f"library/{q.name}" for q in precomputed_library(settings.queries_dir)} | {"headline-counts", "map", "practices"} <= set(entry["by_label"])
    browsed = FacetIndex.from_bytes(Aggregates(release).index(INDEX_NAME)).practices
    assert contributed["practice"].rsplit("/", 1)[-1] in {p.rsplit("/", 1)[-1] for p in browsed}
    previous = {a.key: a.body for a in Aggregates(before).answers()}
    with pooled_client(create_app(settings), settings) as client:
        pool = client.app.state.pool
        assert pool.release.id == release.id
        for answer in stored:
            assert job_key(answer.job) == answer.key
            live = client.portal.call(pool._read, answer.job, 60.0)  # the reader itself, not the aggregates
            assert live["content_type"] == answer.content_type, answer.label
            if answer.job["format"] is None:
                assert pickle.loads(live["body"]) == pickle.loads(answer.body), answer.label
            else:
                assert live["body"] == answer.body, answer.label
    assert any(previous.get(a.key) != a.body for a in stored)  # the new practice changed some answers


def test_aggregates_a_dead_writer_left_undone_are_written_again_by_one_writer(two_accepts, tmp_path):
    """A release published without its aggregates, whose writer died (its partial file left, no lock held), is pending:
    reconcile starts a writer again. While a writer holds the lock it is not pending; the next writer clears what the
    dead one left and writes them, once."""
    import fcntl
    import shutil

    from icgraph.precompute import AGGREGATES, AGGREGATES_LOCK, aggregates_pending, complete_release, written_entry

    site, (_, first, _), _ = two_accepts
    settings = site.settings
    copy = tmp_path / first.id
    shutil.copytree(first.path, copy, ignore=shutil.ignore_patterns(f"{AGGREGATES}*", AGGREGATES_LOCK))
    stale = copy / f"{AGGREGATES}.4242.partial"
    stale.write_bytes(b"half written")
    arguments = (settings.queries_dir, settings.max_result_bytes, settings.precompute_timeout)
    assert aggregates_pending(copy)
    with open(copy / AGGREGATES_LOCK, "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        assert not aggregates_pending(copy)
    entry = complete_release(copy, *arguments)
    assert entry == written_entry(copy) and entry["answers"] > 50
    assert not stale.exists() and not aggregates_pending(copy)
    assert complete_release(copy, *arguments) is None  # written once


def test_the_next_tail_from_the_change_alone_is_the_tail_the_accept_wrote(two_accepts):
    """`next_tail` reads only the neighbourhood of the change; the second accept's tail, as its dump holds it, is the same."""
    from icgraph.contributions.incremental import next_tail, tail_of

    _, (_, first, second), _ = two_accepts
    contributions = ox.NamedNode(str(CONTRIBUTIONS_GRAPH))
    old_tail, new_tail = tail_of(first, head_of(first)), tail_of(second, head_of(second))
    had = {q.triple for q in old_tail if q.graph_name == contributions}
    added = [q.triple for q in new_tail if q.graph_name == contributions and q.triple not in had]
    computed = next_tail(ox.Store.read_only(str(first.store)), old_tail, added)
    assert computed is not None and _ground(computed) == _ground(new_tail)
    assert len(computed) == len(new_tail)
