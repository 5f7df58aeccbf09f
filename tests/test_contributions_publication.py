"""Accepting publishes a new release: the previous graphs unchanged, graph:contributions with PROV, a new
VoID version, served at once; a kill -9 at either delicate moment leaves release and submission consistent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from rdflib import Graph, URIRef

from icgraph import release as releases
from icgraph.contributions import submissions
from icgraph.contributions.publication import reconcile
from icgraph.server.app import create_app

from contribution_fixtures import TURTLE, contribution_site

#: Graphs derived from the sources alone: an accept keeps their files byte for byte (graph:inferred grows by
#: what the contribution implies, tests/test_contributions_incremental.py).
BYTE_IDENTICAL = ("ontology", "compendium", "meeting-report", "curation", "vocabularies", "provenance")


def _submit(site, client) -> dict:
    answer = client.post("/api/submissions", content=TURTLE, headers={"Content-Type": "text/turtle", **site.auth("carla")})
    assert answer.status_code == 201, answer.text
    return answer.json()


def _ask(client, query: str) -> bool:
    answer = client.get("/sparql", params={"query": query}, headers={"Accept": "application/sparql-results+json"})
    assert answer.status_code == 200, answer.text
    return answer.json()["boolean"]


def test_accept_publishes_a_new_release_with_the_practice_and_its_provenance(built, tmp_path):
    site = contribution_site(built, tmp_path)
    before = releases.current_release(site.settings.store, site.settings.build_dir)
    with TestClient(create_app(site.settings), base_url="https://testserver") as client:
        submitted = _submit(site, client)
        practice = submitted["practice"]
        assert not _ask(client, f"ASK {{ <{practice}> ?p ?o }}")
        decided = client.post(submitted["url"] + "/decision", json={"action": "accept"}, headers=site.auth("rui"))
        assert decided.status_code == 200, decided.text
        assert decided.json()["state"] == "accepted"
        after = releases.current_release(site.settings.store, site.settings.build_dir)
        assert after.id != before.id and decided.json()["release"] == after.id
        # The server follows the new release (it re-reads the link about once a second).
        for _ in range(100):
            if _ask(client, f"ASK {{ GRAPH <https://w3id.org/icgraph/graph/contributions> {{ <{practice}> a <https://w3id.org/icgraph/def#Practice> }} }}"):
                break
            time.sleep(0.1)
        else:
            pytest.fail("the server did not serve the new release")
        assert _ask(client, f"""PREFIX prov: <http://www.w3.org/ns/prov#>
            ASK {{ <{practice}> prov:wasDerivedFrom <{submitted['iri']}> ;
                     prov:wasAttributedTo <https://w3id.org/icgraph/id/account/carla> ;
                     prov:wasGeneratedBy ?review .
                   ?review prov:used <{submitted['iri']}> ; prov:wasAssociatedWith <https://w3id.org/icgraph/id/account/rui> ;
                           prov:endedAtTime ?when . }}""")
        history = client.get(submitted["url"], headers=site.auth("carla")).json()["history"]
        assert [(h["actor"], h["action"], h["to"]) for h in history][-1] == ("rui", "accept", "accepted")
        _changes_name_the_practice(client, after.id, practice, submitted["id"])
    # The previous release's graphs are there unchanged, and one more: graph:contributions.
    for name in BYTE_IDENTICAL:
        assert (after.path / "graphs" / f"{name}.nt").read_bytes() == (before.path / "graphs" / f"{name}.nt").read_bytes(), name
    assert set(after.manifest["graphs"]) == set(before.manifest["graphs"]) | {"https://w3id.org/icgraph/graph/contributions"}
    assert after.manifest["contributions"] == [submitted["id"]] and after.manifest["previous"] == before.id
    assert after.manifest["validation"]["conforms"] is True and after.report_json.is_file()
    dcat_version = URIRef("http://www.w3.org/ns/dcat#version")
    assert {str(v) for v in Graph().parse(after.void).objects(None, dcat_version)} == {after.id}


def _changes_name_the_practice(client, release_id: str, practice: str, submission_id: str) -> None:
    """/changes and its Atom feed list what the release added, with links, and nothing else."""
    import xml.etree.ElementTree as ET

    path = practice.removeprefix("https://w3id.org/icgraph")
    page = client.get("/changes")
    assert page.status_code == 200
    section = page.text.split(f'id="{release_id}"', 1)[1].split("</section>", 1)[0]
    assert f'<a href="{path}">' in section and "accepted contribution" in section
    assert "Changed" not in section and "Removed" not in section
    feed = client.get("/changes.atom")
    assert feed.headers["content-type"].startswith("application/atom+xml")
    atom = "{http://www.w3.org/2005/Atom}"
    entries = ET.fromstring(feed.content).findall(f"{atom}entry")
    newest = entries[0]
    assert newest.find(f"{atom}id").text.endswith(f"/changes#{release_id}")
    related = {link.get("title"): link.get("href") for link in newest.findall(f"{atom}link") if link.get("rel") == "related"}
    assert related[f"added: practice:{path.rsplit('/', 1)[1]}"] == f"https://testserver{path}"
    assert f"added: id:submission/{submission_id}" in related
    assert not [title for title in related if not title.startswith("added: ")]


def _accept_process(site, submission_id: str, pause: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[1] / "src"), os.environ.get("PYTHONPATH", "")])}
    settings = site.settings
    return subprocess.Popen(
        [sys.executable, "-m", "icgraph.contributions.publication", "accept", submission_id, "rui", "--store", str(settings.store),
         "--build-dir", str(settings.build_dir), "--state-dir", str(settings.state_dir), f"--pause-{pause}", "600"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )


def _kill_when_paused(process: subprocess.Popen) -> None:
    try:
        for line in process.stderr:
            if line.startswith("paused"):
                break
        else:
            pytest.fail(f"the accept ended before its pause: {process.stdout.read()}")
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(30)
    assert process.returncode == -signal.SIGKILL


@pytest.mark.parametrize("moment", ["before-activation", "after-activation"])
def test_kill_9_during_accept_leaves_the_served_release_and_the_submission_consistent(built, tmp_path, moment):
    site = contribution_site(built, tmp_path)
    with TestClient(create_app(site.settings), base_url="https://testserver") as client:
        submitted = _submit(site, client)
    before = releases.current_release(site.settings.store, site.settings.build_dir)
    _kill_when_paused(_accept_process(site, submitted["id"], moment))
    served = releases.current_release(site.settings.store, site.settings.build_dir)
    assert reconcile(site.settings) == [submitted["id"]]
    settled = submissions.get(site.settings.state_dir, submitted["id"])
    history = submissions.history(site.settings.state_dir, submitted["id"])
    if moment == "before-activation":
        # The old release still serves, complete; the submission is still submitted and can be accepted again.
        assert served.id == before.id and served.manifest == before.manifest
        assert settled.state == "submitted" and history[-1].action == "accept interrupted"
        from icgraph.contributions.accounts import find_user
        from icgraph.contributions.publication import accept

        accepted = accept(site.settings, submitted["id"], find_user(site.settings.state_dir, "rui"))
        assert releases.current_release(site.settings.store, site.settings.build_dir).id == accepted.id
        assert submissions.get(site.settings.state_dir, submitted["id"]).state == "accepted"
        assert not [p for p in served.path.parent.iterdir() if p.name.startswith(releases.PARTIAL_PREFIX)]
    else:
        # The new release serves; the submission is recorded as accepted in it.
        assert served.id != before.id and served.manifest["contributions"] == [submitted["id"]]
        assert settled.state == "accepted" and settled.release == served.id
        assert history[-1].action == "accept" and "recorded after the accepting process stopped" in history[-1].comment
    assert reconcile(site.settings) == []
