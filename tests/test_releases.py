"""Releases: a build writes one immutable release; publishing moves `current` atomically; the server
only reads what the release holds; killed builds and publishes leave the previous release served."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pyoxigraph as ox
import pytest
from click.testing import CliRunner

from icgraph import release as releases
from icgraph.build import BuildError, build
from icgraph.cli import main
from icgraph.publish import release_from_dump
from icgraph.store import StoreError, open_store, prepare_writable, writable_copy

from endpoint_fixtures import EX, PEOPLE, TOKEN, running_server


def _dump(tmp_path: Path, name: str, nquads: str) -> Path:
    path = tmp_path / f"{name}.nq"
    path.write_text(nquads, encoding="utf-8")
    return path


def _tree_digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*")) if p.is_file()
    }


# --------------------------------------------------------------------------- what a release holds


def test_a_release_holds_everything_the_server_reads(built):
    release = built.build_result.release
    manifest = release.manifest
    assert manifest["id"] == release.id and release.path.parent.name.endswith(".releases")
    for name in releases.DUMPS:
        assert release.dump(name).stat().st_size == manifest["dumps"][name]["bytes"] > 1000
        assert releases.file_digest(release.dump(name)) == manifest["dumps"][name]["sha256"]
    for path in (release.report_ttl, release.report_json, release.void, release.service_description, release.search_index):
        assert path.is_file() and path.stat().st_size > 0, path
    store = open_store(built.store)
    counted = {str(row["g"].value): int(row["n"].value)
               for row in store.query("SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g")}
    assert manifest["graphs"] == counted
    for graph, count in counted.items():
        assert sum(1 for _ in ox.parse(path=str(release.graph_file(graph)), format=ox.RdfFormat.N_TRIPLES)) == count
    report = json.loads(release.report_json.read_text(encoding="utf-8"))
    assert report["counts"] == built.build_result.validation.counts == {k: manifest["validation"][k] for k in report["counts"]}
    assert len(manifest["inputs"]) > 20 and "data/sources/cdadi-2024-39-compendium.txt" in manifest["inputs"]
    assert set(manifest["timings"]) >= {"parse", "infer", "validate", "dumps", "store load", "search index", "describe"}


def test_a_gzipped_nquads_dump_is_the_hand_off_file(built):
    import gzip

    release = built.build_result.release
    with gzip.open(release.dump("icgraph.nq.gz"), "rb") as stream:
        assert stream.read() == release.dump("icgraph.nq").read_bytes()


# --------------------------------------------------------------------------- publishing, listing, rolling back


def test_releases_are_listed_newest_first_and_rollback_serves_the_previous_one(tmp_path):
    location = tmp_path / "store"
    first = release_from_dump(_dump(tmp_path, "one", PEOPLE), location, tmp_path / "build")
    second = release_from_dump(_dump(tmp_path, "two", f"<{EX}dave> <{EX}p> \"Dave\" <{EX}g> .\n"), location, tmp_path / "build")
    assert [r.id for r in releases.list_releases(location, tmp_path / "build")] == [second.id, first.id]
    assert releases.current_release(location, tmp_path / "build").id == second.id
    assert second.manifest["previous"] == first.id

    result = CliRunner().invoke(main, ["rollback", "--store", str(location)])
    assert result.exit_code == 0, result.output
    assert releases.current_release(location, tmp_path / "build").id == first.id
    assert open_store(location).query(f"ASK {{ GRAPH ?g {{ <{EX}alice> ?p ?o }} }}")

    result = CliRunner().invoke(main, ["rollback", "--store", str(location), "--to", "no-such-release"])
    assert result.exit_code == 1 and "no release 'no-such-release'" in result.output


def test_a_running_server_follows_the_current_release(tmp_path):
    """Publishing and rolling back switch a running server at its next requests; nothing restarts."""
    location = tmp_path / "store"
    release_from_dump(_dump(tmp_path, "one", PEOPLE), location, tmp_path / "build")
    ask = {"query": f"ASK {{ GRAPH ?g {{ <{EX}dave> ?p ?o }} }}"}
    with running_server(location, token=None) as server:
        assert httpx.get(server.sparql, params=ask, headers={"Accept": "application/sparql-results+json"}).json()["boolean"] is False
        release_from_dump(_dump(tmp_path, "two", f"<{EX}dave> <{EX}p> \"Dave\" <{EX}g> .\n"), location, tmp_path / "build")
        answers = []
        deadline = time.monotonic() + 30  # the server looks at the link at most once a second
        while time.monotonic() < deadline:
            answers.append(httpx.get(server.sparql, params=ask, headers={"Accept": "application/sparql-results+json"}).json()["boolean"])
            if answers[-1]:
                break
            time.sleep(0.2)
        assert answers[-1] is True
        assert CliRunner().invoke(main, ["rollback", "--store", str(location)]).exit_code == 0
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if not httpx.get(server.sparql, params=ask, headers={"Accept": "application/sparql-results+json"}).json()["boolean"]:
                break
            time.sleep(0.2)
        else:
            pytest.fail("the server kept serving the newer release after a rollback")


def test_pruning_keeps_the_newest_releases_and_any_a_server_has_open(tmp_path):
    location, build_dir = tmp_path / "store", tmp_path / "build"
    made = [release_from_dump(_dump(tmp_path, f"r{i}", PEOPLE), location, build_dir) for i in range(2)]
    # A live process (this test's child) holds the oldest release open.
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        lease = releases.releases_root(location, build_dir) / releases.LEASES / str(holder.pid)
        lease.parent.mkdir(exist_ok=True)
        lease.write_text(made[0].id)
        made += [release_from_dump(_dump(tmp_path, f"r{i}", PEOPLE), location, build_dir) for i in range(2, 6)]
        kept = {r.id for r in releases.list_releases(location, build_dir)}
        assert kept == {r.id for r in made[-releases.KEEP_RELEASES:]} | {made[0].id}
    finally:
        holder.kill()
        holder.wait()
    # Once its holder is gone, the lease no longer protects it.
    releases.prune(location, build_dir)
    assert made[0].id not in {r.id for r in releases.list_releases(location, build_dir)}


def test_two_store_locations_never_share_files(project_copy, tmp_path):
    """A build for --store S2 leaves every file of S1's release as it was (they used to share build/)."""
    first = build(project_copy)
    before = _tree_digest(first.release.path)
    other = type(project_copy)(project_dir=project_copy.project_dir, store=tmp_path / "s2" / "store", build_dir=project_copy.build_dir)
    second = build(other)
    assert second.release.path.parent != first.release.path.parent
    assert _tree_digest(first.release.path) == before
    assert releases.current_release(project_copy.store, project_copy.build_dir).id == first.release.id


# --------------------------------------------------------------------------- kill -9 at any moment

_BUILD = """
import sys
from pathlib import Path
from icgraph.config import Settings
from icgraph.build import build
settings = Settings(project_dir=Path(sys.argv[1]), store=Path(sys.argv[2]), build_dir=Path(sys.argv[3]))
if sys.argv[4] == "die-while-publishing":
    import os, signal
    from icgraph import publish, release
    real = release.activate
    def activate(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGKILL)  # after the release folder is renamed, before the link moves
    publish.releases.activate = activate
build(settings)
"""


def _run_build(settings, mode: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", _BUILD, str(settings.project_dir), str(settings.store), str(settings.build_dir), mode],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def test_a_build_killed_at_any_moment_leaves_the_previous_release_served(project_copy):
    previous = build(project_copy).release
    before = _tree_digest(previous.path)
    root = previous.path.parent
    # Kill builds at moments spread over a whole build (about 5 s here): each assertion holds whatever was running.
    for delay in (0.3, 1.5, 3.0, 4.5):
        process = _run_build(project_copy, "normal")
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        process.wait()
        current = releases.current_release(project_copy.store, project_copy.build_dir)
        assert current is not None and open_store(project_copy.store).query("ASK { GRAPH ?g { ?s ?p ?o } }")
        listed = releases.list_releases(project_copy.store, project_copy.build_dir)
        assert all(r.path.name[0] != "." for r in listed), "a partial release was listed"
        if current.id == previous.id:
            assert _tree_digest(previous.path) == before
    # The next build removes what the killed ones left.
    build(project_copy)
    assert not [p for p in root.iterdir() if p.name.startswith(releases.PARTIAL_PREFIX)]


def test_a_publish_killed_between_the_rename_and_the_link_leaves_current_valid(project_copy):
    previous = build(project_copy).release
    process = _run_build(project_copy, "die-while-publishing")
    assert process.wait() == -signal.SIGKILL
    current = releases.current_release(project_copy.store, project_copy.build_dir)
    assert current.id == previous.id
    assert open_store(project_copy.store).query("ASK { GRAPH ?g { ?s ?p ?o } }")
    # The complete but never-published release is listed (and can be chosen by `icgraph rollback --to`).
    assert len(releases.list_releases(project_copy.store, project_copy.build_dir)) == 2


# --------------------------------------------------------------------------- updates never write into a release


def test_updates_write_a_copy_and_a_build_refuses_to_hide_them(tmp_path, monkeypatch):
    """It used to be: build, serve with updates, build again, one INSERT DATA -> 500 and a destroyed store."""
    location, build_dir = tmp_path / "store", tmp_path / "build"
    base = release_from_dump(_dump(tmp_path, "one", PEOPLE), location, build_dir)
    before = _tree_digest(base.path)
    with running_server(location, token=TOKEN) as server:
        server.update(f"INSERT DATA {{ GRAPH <{EX}g> {{ <{EX}erin> <{EX}p> \"Erin\" }} }}")
        # A new release may be made (by `icgraph load` here; `icgraph build` refuses, below) ...
        release_from_dump(_dump(tmp_path, "two", f"<{EX}dave> <{EX}p> \"Dave\" <{EX}g> .\n"), location, build_dir)
        # ... and the server keeps writing its own copy, never the release's files.
        server.update(f"INSERT DATA {{ GRAPH <{EX}g> {{ <{EX}frank> <{EX}p> \"Frank\" }} }}")
        response = httpx.get(server.sparql, params={"query": f"ASK {{ GRAPH ?g {{ <{EX}frank> ?p \"Frank\" }} }}"},
                             headers={"Accept": "application/sparql-results+json"})
        assert response.json()["boolean"] is True
    assert _tree_digest(base.path) == before
    copy = writable_copy(location)
    assert ox.Store.read_only(str(copy)).query(f"ASK {{ GRAPH ?g {{ <{EX}erin> ?p ?o }} }}")
    # The copy was made from another release than the current one: a server refuses to start on it, clearly.
    with pytest.raises(StoreError, match="holds updates made on release"):
        prepare_writable(location)


def test_a_build_refuses_to_publish_over_a_servers_updates(project_copy):
    build(project_copy)
    prepare_writable(project_copy.store)
    with pytest.raises(BuildError, match="holds updates made through /update"):
        build(project_copy)
    result = CliRunner().invoke(main, ["stats", "--store", str(project_copy.store)])
    assert result.exit_code == 0, result.output


def test_the_cli_lists_releases(tmp_path):
    location = tmp_path / "store"
    made = release_from_dump(_dump(tmp_path, "one", PEOPLE), location, tmp_path / "build")
    result = CliRunner().invoke(main, ["releases", "--store", str(location)])
    assert result.exit_code == 0
    assert f"* {made.id}" in result.output and "no SHACL report" in result.output


def test_a_plain_store_folder_is_not_a_release(tmp_path):
    from endpoint_fixtures import seed_store

    seed_store(tmp_path / "plain", PEOPLE)
    assert releases.current_release(tmp_path / "plain", tmp_path / "build") is None
    assert open_store(tmp_path / "plain").query(f"ASK {{ GRAPH ?g {{ <{EX}alice> ?p ?o }} }}")
    assert os.path.isdir(tmp_path / "plain")


def test_a_release_opens_as_an_rdflib_dataset_and_validates_as_built(built):
    """oxrdflib's role: rdflib users (and pySHACL) read the release's store without parsing a dump."""
    import icgraph
    from icgraph.validate import validate

    dataset = icgraph.open_graph(built.store)
    release = built.build_result.release
    from rdflib import Graph
    from rdflib.namespace import VOID

    from icgraph.void import DATASET

    distinct = Graph().parse(release.void).value(DATASET, VOID.triples).toPython()
    assert len(dataset) == distinct > 40_000
    report = validate(dataset, built)
    assert report.counts == built.build_result.validation.counts
    assert sorted(i.focus_node for i in report.issues) == sorted(i.focus_node for i in built.build_result.validation.issues)
