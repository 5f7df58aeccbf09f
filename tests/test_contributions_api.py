"""The submissions API: 201, 422 with every SHACL result, 400/401/403/409/413/415/429, and every role boundary."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from icgraph.contributions import checking
from icgraph.server.app import create_app

from contribution_fixtures import JSON_LD, TURTLE, contribution_site


@pytest.fixture
def site(built, tmp_path):
    site = contribution_site(built, tmp_path)
    site.settings.submission_rate = "6/minute"
    site.settings.submission_max_bytes = 8 * 1024
    with TestClient(create_app(site.settings), base_url="https://testserver") as client:
        site.client = client
        yield site


def _post(site, who, body=TURTLE, media_type="text/turtle"):
    headers = {"Content-Type": media_type, **(site.auth(who) if who else {})}
    return site.client.post("/api/submissions", content=body, headers=headers)


def test_a_conforming_practice_is_created_with_its_iri(site):
    answer = _post(site, "carla")
    assert answer.status_code == 201, answer.text
    data = answer.json()
    assert data["iri"] == f"https://w3id.org/icgraph/id/submission/{data['id']}"
    assert answer.headers["location"] == data["url"] == f"https://testserver/api/submissions/{data['id']}"
    assert data["state"] == "submitted" and data["conforms"] is True
    assert data["practice"].startswith("https://w3id.org/icgraph/id/practice/neighbourhood-language-cafes-in-paris-")
    assert all(result["severity"] != "Violation" for result in data["results"])
    # The stored version carries its derivation from the submission.
    assert f"prov:wasDerivedFrom <{data['iri']}>" in data["rdf"]


def test_json_ld_under_the_projects_context_is_read_like_turtle(site):
    answer = _post(site, "carla", JSON_LD, "application/ld+json")
    assert answer.status_code == 201, answer.text
    assert "municipality-paris" in answer.json()["rdf"]


def test_a_practice_with_mistakes_gets_422_with_every_result_and_is_kept_as_a_draft(site):
    broken = TURTLE.replace(b"principle:interaction", b"principle:nonsense").replace(b"icg:practiceType ptype:project ;", b"")
    answer = _post(site, "carla", broken)
    assert answer.status_code == 422
    data = answer.json()
    assert data["state"] == "draft"
    violations = {(r["path"], r["value"]) for r in data["results"] if r["severity"] == "Violation"}
    assert violations == {("icg:principle", "principle:nonsense"), ("icg:practiceType", None)}
    messages = [r["message"] for r in data["results"] if r["path"] == "icg:principle"]
    assert messages == ["Give the practice exactly one principle (icg:principle) from the principle scheme; fix the section heading in the source or data/curation."]
    # The draft is kept: its owner finds it, and fixing it submits it.
    assert site.client.get(data["url"], headers=site.auth("carla")).json()["state"] == "draft"
    fixed = site.client.put(data["url"], content=TURTLE, headers={"Content-Type": "text/turtle", **site.auth("carla")})
    assert fixed.status_code == 200 and fixed.json()["state"] == "submitted"
    assert fixed.json()["practice"] == data["practice"]  # an edit keeps the practice's IRI
    history = site.client.get(data["url"], headers=site.auth("carla")).json()["history"]
    assert [(h["action"], h["to"]) for h in history] == [("create", "draft"), ("edit", "submitted")]
    assert "principle/nonsense" in history[1]["changes"] and "principle/interaction" in history[1]["changes"]


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"@prefix icg: <https://w3id.org/icgraph/def#> .\n[] a icg:Practice ;", "the Turtle does not parse"),
        (b'{"@type": "icg:Practice", ', "the JSON does not parse: line 1"),
    ],
)
def test_unreadable_bodies_get_400_saying_where(site, body, says):
    media_type = "text/turtle" if body.startswith(b"@") else "application/ld+json"
    answer = _post(site, "carla", body, media_type)
    assert answer.status_code == 400 and says in answer.text
    assert site.client.get("/api/submissions", headers=site.auth("carla")).json()["submissions"] == []


def test_what_a_contributor_may_not_describe_is_named(site):
    intruding = TURTLE + (b'\n<https://w3id.org/icgraph/id/actor/municipality-paris> '
                          b'<http://www.w3.org/2004/02/skos/core#prefLabel> "Hacked"@en .\n')
    answer = _post(site, "carla", intruding)
    assert answer.status_code == 422
    assert any(r["value"] == "actor:municipality-paris" and "published already" in r["message"] for r in answer.json()["results"])
    # Naming a published practice proposes a correction of it (tests/test_contributions_corrections.py): it is not rewritten.
    published = "https://w3id.org/icgraph/id/practice/paris-improving-access-to-the-law"
    answer = _post(site, "carla", TURTLE.replace(b"[] a icg:Practice", f"<{published}> a icg:Practice".encode()))
    assert answer.status_code == 201 and answer.json()["corrects"] == published
    assert answer.json()["practice"] == f"{published}-correction-{answer.json()['id']}"


def test_without_credentials_one_reads_and_submits_nothing(site):
    assert site.client.get("/api/submissions").status_code == 401
    answer = _post(site, None)
    assert answer.status_code == 401 and answer.headers["www-authenticate"].startswith("Bearer")
    assert _post(site, None, TURTLE).status_code == 401
    wrong = site.client.post("/api/submissions", content=TURTLE, headers={"Content-Type": "text/turtle", "Authorization": "Bearer icg_nope"})
    assert wrong.status_code == 401 and "not known" in wrong.text
    assert site.client.get("/").status_code == 200  # reading needs no account


def test_role_boundaries(site):
    url = _post(site, "carla").json()["url"]
    decision = url + "/decision"
    # Another contributor can neither see, edit nor decide.
    assert site.client.get(url, headers=site.auth("dino")).status_code == 403
    assert site.client.put(url, content=TURTLE, headers={"Content-Type": "text/turtle", **site.auth("dino")}).status_code == 403
    assert site.client.post(decision, json={"action": "reject", "comment": "no"}, headers=site.auth("dino")).status_code == 403
    # The owner cannot decide on their own submission either.
    for action in ("accept", "request changes", "reject"):
        answer = site.client.post(decision, json={"action": action, "comment": "x"}, headers=site.auth("carla"))
        assert answer.status_code == 403 and "Only a reviewer" in answer.text
    assert site.client.get("/api/submissions?state=submitted", headers=site.auth("carla")).status_code == 403
    assert site.client.get("/api/audit", headers=site.auth("carla")).status_code == 403
    # A reviewer sees the queue, reads the submission and decides.
    queue = site.client.get("/api/submissions?state=submitted", headers=site.auth("rui")).json()["submissions"]
    assert [s["url"] for s in queue] == [url]
    assert site.client.get(url, headers=site.auth("rui")).status_code == 200
    assert site.client.post(decision, json={"action": "request changes"}, headers=site.auth("rui")).status_code == 400
    asked = site.client.post(decision, json={"action": "request changes", "comment": "Name the partners."}, headers=site.auth("rui"))
    assert asked.status_code == 200 and asked.json()["state"] == "changes requested"
    again = site.client.post(decision, json={"action": "reject", "comment": "no"}, headers=site.auth("rui"))
    assert again.status_code == 409 and "changes requested" in again.text
    log = site.client.get("/api/audit", headers=site.auth("rui")).json()["decisions"]
    assert [(d["reviewer"], d["action"], d["comment"]) for d in log] == [("rui", "request changes", "Name the partners.")]
    assert site.client.get("/api/submissions/nope", headers=site.auth("rui")).status_code == 404


def test_size_type_and_rate_limits_per_account(site):
    big = TURTLE + b"#" * (9 * 1024)
    assert _post(site, "carla", big).status_code == 413
    assert _post(site, "carla", b"<a> <b> <c> .", "application/n-triples").status_code == 415
    answers = [_post(site, "carla").status_code for _ in range(4)]  # 2 counted above, 6 a minute
    assert answers == [201, 201, 201, 201]
    refused = _post(site, "carla")
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
    assert _post(site, "dino").status_code == 201  # another account has its own allowance


def test_checking_reads_only_the_neighbourhood(built):
    registry = checking.registry(built)
    graph = checking.parse(TURTLE, "text/turtle")
    near = registry.neighbourhood(graph)
    subjects = {str(s) for s in near.subjects()}
    assert "https://w3id.org/icgraph/id/place/fr-paris" in subjects and "https://w3id.org/icgraph/id/actor/municipality-paris" in subjects
    assert "https://w3id.org/icgraph/id/place/fr" in subjects  # reached through the places it is in
    assert len(near) < sum(len(t) for t in registry.by_subject.values()) / 10
