"""The submissions store: states, who may do what, history, and nothing half-saved after kill -9."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, RDF

from icgraph.contributions import submissions
from icgraph.contributions.accounts import User
from icgraph.contributions.checking import Check
from icgraph.contributions.database import path as database_path
from icgraph.namespaces import ICG, PRACTICE

CARLA = User("carla", "contributor")
DINO = User("dino", "contributor")
RUI = User("rui", "reviewer")


def a_check(title: str, conforms: bool = True, practice: str = "cafes-x") -> Check:
    graph = Graph()
    node = PRACTICE[practice]
    graph.add((node, RDF.type, ICG.Practice))
    graph.add((node, DCTERMS.title, Literal(title, lang="en")))
    issues = [] if conforms else [{"severity": "Violation", "focus": "practice:x", "path": "icg:principle", "value": None,
                                   "message": "Give the practice exactly one principle", "shape": "icgsh:PracticePrinciple"}]
    return Check(URIRef(node), title, graph, issues)


def test_a_conforming_submission_is_submitted_and_an_invalid_one_kept_as_a_draft(tmp_path):
    good = submissions.create(tmp_path, CARLA, "s1", a_check("Language cafés"))
    bad = submissions.create(tmp_path, CARLA, "s2", a_check("Language cafés", conforms=False, practice="other"))
    assert (good.state, bad.state) == ("submitted", "draft")
    assert "Language cafés" in good.rdf and bad.report["results"][0]["path"] == "icg:principle"
    assert [s.id for s in submissions.queue(tmp_path)] == ["s1"]


def test_the_whole_review_cycle_is_recorded_in_the_history(tmp_path):
    submissions.create(tmp_path, CARLA, "s1", a_check("Language cafés"))
    submissions.request_changes(tmp_path, RUI, "s1", "Name the partners, please.")
    assert submissions.get(tmp_path, "s1").state == "changes requested"
    edited = submissions.edit(tmp_path, CARLA, "s1", a_check("Neighbourhood language cafés"))
    assert edited.state == "submitted" and edited.title == "Neighbourhood language cafés"
    submissions.reject(tmp_path, RUI, "s1", "Already published as practice:x.")
    events = submissions.history(tmp_path, "s1")
    assert [(e.actor, e.action, e.from_state, e.to_state) for e in events] == [
        ("carla", "create", None, "submitted"),
        ("rui", "request changes", "submitted", "changes requested"),
        ("carla", "edit", "changes requested", "submitted"),
        ("rui", "reject", "submitted", "rejected"),
    ]
    assert events[1].comment == "Name the partners, please."
    assert '-<https://w3id.org/icgraph/id/practice/cafes-x> <http://purl.org/dc/terms/title> "Language cafés"@en' in events[2].changes
    assert '+<https://w3id.org/icgraph/id/practice/cafes-x> <http://purl.org/dc/terms/title> "Neighbourhood language cafés"@en' in events[2].changes
    assert [e.action for e in submissions.audit_log(tmp_path)] == ["reject", "request changes"]


def test_role_and_state_boundaries(tmp_path):
    submissions.create(tmp_path, CARLA, "s1", a_check("Language cafés"))
    with pytest.raises(submissions.NotAllowed, match="only its owner edits it"):
        submissions.edit(tmp_path, DINO, "s1", a_check("Mine now"))
    with pytest.raises(submissions.NotAllowed, match="only a reviewer may reject"):
        submissions.reject(tmp_path, CARLA, "s1", "no")
    with pytest.raises(submissions.NotAllowed, match="belongs to another contributor"):
        submissions.visible(tmp_path, DINO, "s1")
    assert submissions.visible(tmp_path, RUI, "s1").id == "s1"
    with pytest.raises(ValueError, match="say why"):
        submissions.request_changes(tmp_path, RUI, "s1", "  ")
    submissions.reject(tmp_path, RUI, "s1", "Out of scope.")
    with pytest.raises(submissions.WrongState, match="is rejected"):
        submissions.edit(tmp_path, CARLA, "s1", a_check("Again"))
    with pytest.raises(submissions.WrongState, match="decides on submitted ones only"):
        submissions.request_changes(tmp_path, RUI, "s1", "more")
    with pytest.raises(submissions.SubmissionNotFound):
        submissions.get(tmp_path, "nope")
    # Refusals changed nothing.
    assert [e.action for e in submissions.history(tmp_path, "s1")] == ["create", "reject"]


_WRITER = """
import sys
from pathlib import Path
sys.path.insert(0, {tests!r})
from test_contributions_submissions import CARLA, RUI, a_check
from icgraph.contributions import submissions
state = Path({state!r})
n = 0
while True:
    sid = f"k{{n}}"
    submissions.create(state, CARLA, sid, a_check(f"Practice {{n}}", practice=f"p{{n}}"))
    submissions.request_changes(state, RUI, sid, "more please")
    submissions.edit(state, CARLA, sid, a_check(f"Practice {{n}} again", practice=f"p{{n}}"))
    print(n, flush=True)
    n += 1
"""


def test_kill_9_while_writing_loses_nothing_committed_and_leaves_nothing_half_saved(tmp_path):
    script = _WRITER.format(tests=str(Path(__file__).parent), state=str(tmp_path))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(Path(__file__).parents[1] / "src"), os.environ.get("PYTHONPATH")) if p)}
    writer = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=env)
    confirmed = -1
    try:
        while confirmed < 5:  # at least some complete rounds, then kill in the middle of the next ones
            line = writer.stdout.readline()
            assert line, "the writer stopped by itself"
            confirmed = int(line)
        time.sleep(0.05)
        writer.send_signal(signal.SIGKILL)
    finally:
        writer.wait(10)
    db = sqlite3.connect(database_path(tmp_path))
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    rows = db.execute("SELECT id, state FROM submissions").fetchall()
    assert len(rows) >= confirmed + 1  # every round it reported is there
    for sid, state in rows:
        actions = [a for (a,) in db.execute("SELECT action FROM history WHERE submission = ? ORDER BY seq", (sid,))]
        # Each state goes with exactly the history that leads to it: no change without its record, nor the reverse.
        expected = {"submitted": (["create"], ["create", "request changes", "edit"]), "changes requested": (["create", "request changes"],)}
        assert actions in [list(e) for e in expected[state]], (sid, state, actions)
    for n in range(confirmed + 1):
        assert submissions.get(tmp_path, f"k{n}").title == f"Practice {n} again"
