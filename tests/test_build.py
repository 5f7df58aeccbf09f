"""`icgraph build`: the whole pipeline, its dumps, the named-graph layout, and the guarantee that a bad build publishes nothing."""

from __future__ import annotations

import pyoxigraph as ox
import pytest
from click.testing import CliRunner

from icgraph.build import BuildError, build
from icgraph.cli import main
from icgraph.namespaces import GRAPH
from icgraph.store import open_store

NAMED_GRAPHS = ["ontology", "vocabularies", "compendium", "meeting-report", "curation", "provenance", "inferred"]


def test_build_writes_dumps_and_a_store_into_its_release(built):
    release = built.build_result.release
    assert (release.dump("icgraph.trig")).stat().st_size > 100_000
    assert (release.dump("icgraph.nq")).stat().st_size > 100_000
    assert built.store.is_symlink(), "the store path is a link swapped atomically to each complete release"
    assert built.store.resolve() == release.path


def test_every_named_graph_is_filled(store):
    graphs = {g.value for g in store.named_graphs()}
    for name in NAMED_GRAPHS:
        assert str(GRAPH[name]) in graphs
        assert store.query(f"ASK {{ GRAPH <{GRAPH[name]}> {{ ?s ?p ?o }} }}")


def test_the_real_default_graph_holds_the_merge_of_the_named_graphs(store):
    """Each distinct triple of the named graphs once, and nothing else (icgraph.store)."""
    distinct = int(next(iter(store.query("SELECT (COUNT(*) AS ?n) WHERE { SELECT DISTINCT ?s ?p ?o WHERE { GRAPH ?g { ?s ?p ?o } } }")))["n"].value)
    default = int(next(iter(store.query("SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }")))["n"].value)
    assert default == distinct
    assert not store.query("ASK { ?s ?p ?o FILTER NOT EXISTS { GRAPH ?g { ?s ?p ?o } } }")


def test_dump_and_store_hold_the_same_quads(built, store):
    dumped = sum(1 for _ in ox.parse(path=str(built.build_result.release.dump("icgraph.nq"))))
    stored = int(next(iter(store.query("SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }")))["n"].value)
    assert dumped == stored


def test_inferred_triples_are_not_also_asserted(store):
    """A user can tell asserted from derived: no triple of graph:inferred is in another graph."""
    duplicated = store.query(
        f"""ASK {{ GRAPH <{GRAPH.inferred}> {{ ?s ?p ?o }}
                  GRAPH ?g {{ ?s ?p ?o }} FILTER(?g != <{GRAPH.inferred}>) }}"""
    )
    assert not duplicated


def test_build_records_its_provenance(store):
    assert store.query(
        """PREFIX prov: <http://www.w3.org/ns/prov#>
           ASK { GRAPH <https://w3id.org/icgraph/graph/provenance> {
                 ?build a prov:Activity ; prov:used <https://w3id.org/icgraph/id/source/cdadi-2024-39> ; prov:endedAtTime ?t } }"""
    )


def test_a_violation_publishes_nothing_and_keeps_the_previous_store(project_copy):
    first = build(project_copy)
    assert first.validation.conforms
    previous = project_copy.store.resolve()

    # An actor without a governance level violates the shapes.
    broken = project_copy.curation_dir / "zz-broken.yaml"
    broken.write_text(
        "actors:\n  - id: actor:broken-body\n    kind: LocalAuthority\n    name: Broken body\n    level: level:galactic\n    lines: [1]\n"
    )
    with pytest.raises(BuildError) as error:
        build(project_copy)
    assert error.value.validation is not None and len(error.value.validation.violations) > 0
    assert project_copy.store.resolve() == previous
    store = open_store(project_copy.store)
    assert not store.query("ASK { GRAPH ?g { <https://w3id.org/icgraph/id/actor/broken-body> ?p ?o } }")
    # What was made while the gate ran (dumps, store, search index: a partial release) is gone, not left beside.
    assert [d for d in previous.parent.iterdir() if d.name != ".leases"] == [previous]
    dumped = (previous / "dumps" / "icgraph.nq").read_text(encoding="utf-8")
    assert "broken-body" not in dumped


def test_cli_build_reports_violations_and_exits_non_zero(project_copy, monkeypatch):
    (project_copy.curation_dir / "zz-broken.yaml").write_text(
        "actors:\n  - id: actor:broken-body\n    kind: LocalAuthority\n    name: Broken body\n    level: level:galactic\n    lines: [1]\n"
    )
    monkeypatch.setenv("ICGRAPH_HOME", str(project_copy.project_dir))
    monkeypatch.setattr("icgraph.cli.Settings", lambda: project_copy)
    result = CliRunner().invoke(main, ["build"])
    assert result.exit_code == 1
    assert "violation" in result.output.lower()
    assert "Broken body" in result.output or "broken-body" in result.output


def test_curation_naming_an_undefined_actor_is_reported_with_its_file(project_copy, monkeypatch):
    (project_copy.curation_dir / "zz-dangling.yaml").write_text(
        "memberships:\n  - member: actor:does-not-exist\n    organization: actor:eu-belong\n    role: mrole:member\n    lines: [2230]\n"
    )
    monkeypatch.setattr("icgraph.cli.Settings", lambda: project_copy)
    result = CliRunner().invoke(main, ["build"])
    assert result.exit_code == 1
    assert "zz-dangling.yaml" in result.output and "actor:does-not-exist" in result.output


def test_a_removed_practice_is_reported_by_the_build(project_copy, monkeypatch):
    """The table of contents is the checklist: a practice missing from the body is named, with a line number."""
    source = project_copy.sources_dir / "cdadi-2024-39-compendium.txt"
    lines = source.read_text(encoding="utf-8").splitlines(keepends=True)
    heading = next(i for i, line in enumerate(lines) if line.startswith("Tallinn Chamber of Integration") and i > 300)
    source.write_text("".join(lines[:heading] + ["MANGLED HEADING THAT NOBODY LISTED\n"] + lines[heading + 1:]), encoding="utf-8")
    monkeypatch.setattr("icgraph.cli.Settings", lambda: project_copy)
    result = CliRunner().invoke(main, ["build", "--strict"])
    assert result.exit_code == 1
    assert "Tallinn Chamber of Integration" in result.output
    assert "line" in result.output
