"""The contribution pages: login with CSRF and secure cookies, a form built from the shapes whose problems
show beside their fields (what was typed is kept), escaping, and the reviewer's page."""

from __future__ import annotations

import re

import pytest

from icgraph.contributions import submissions

from contribution_fixtures import PASSWORD, TURTLE, served_site


@pytest.fixture
def site(built, tmp_path):
    yield from served_site(built, tmp_path)


def _csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def _login(client, name: str) -> str:
    page = client.get("/login")
    answer = client.post("/login", data={"name": name, "password": PASSWORD, "csrf": _csrf(page.text), "next": "/contribute"})
    assert answer.status_code == 303 and answer.headers["location"] == "/contribute"
    return answer.headers["set-cookie"]


PRACTICE_FORM = {
    "title": "Neighbourhood language cafés in Lyon",
    "principle": "https://w3id.org/icgraph/id/principle/interaction",
    "practiceType": "https://w3id.org/icgraph/id/practice-type/project",
    "country": "https://w3id.org/icgraph/id/place/fr",
    "startYear": "2023",
    "participant_actor": "City of Paris",
    "participant_role": "https://w3id.org/icgraph/id/role/lead",
}


def test_login_needs_the_forms_csrf_token_and_sets_a_secure_session_cookie(site):
    client = site.client
    page = client.get("/login")
    assert page.status_code == 200 and "icgraph_login_csrf" in page.headers["set-cookie"]
    refused = client.post("/login", data={"name": "carla", "password": PASSWORD, "csrf": "forged"})
    assert refused.status_code == 403 and "reload the page" in refused.text
    wrong = client.post("/login", data={"name": "carla", "password": "not it at all", "csrf": _csrf(page.text)})
    assert wrong.status_code == 401 and 'value="carla"' in wrong.text and "do not match" in wrong.text
    cookie = _login(client, "carla")
    assert "icgraph_session=" in cookie
    for flag in ("Secure", "HttpOnly", "SameSite=lax"):
        assert flag.lower() in cookie.lower()
    home = client.get("/contribute")
    assert home.status_code == 200 and "Logged in as <strong>carla</strong>" in home.text
    # Logging out needs the session's token too.
    assert client.post("/logout", data={"csrf": "forged"}).status_code == 403
    assert client.post("/logout", data={"csrf": _csrf(home.text)}).status_code == 303
    assert client.get("/contribute").status_code == 303  # back to /login


def test_without_an_account_the_pages_send_to_login_and_forms_are_refused(site):
    assert site.client.get("/contribute").headers["location"] == "/login?next=/contribute"
    assert site.client.post("/contribute", data=PRACTICE_FORM).status_code == 401
    assert site.client.get("/practices").status_code == 200


def test_the_form_comes_from_the_shapes_and_the_schemes(site):
    _login(site.client, "carla")
    page = site.client.get("/contribute").text
    # Fields and cardinalities of the shapes: one English title, exactly one principle, at least one practice type.
    assert re.search(r'id="field-title".*?practice title <span class="required">\(required, one\)', page, re.S)
    assert re.search(r'id="field-principle".*?\(required, one\)', page, re.S)
    assert re.search(r'id="field-practiceType".*?\(required\)', page, re.S)
    # Choices: the concepts of the SKOS schemes, with their labels; actors from the registry.
    assert '<option value="https://w3id.org/icgraph/id/principle/interaction">Fostering meaningful intercultural interaction</option>' in page
    assert 'value="https://w3id.org/icgraph/id/target-group/migrants"' in page
    assert '<option value="https://w3id.org/icgraph/id/actor/municipality-paris">City of Paris</option>' in page
    assert '<option value="https://w3id.org/icgraph/id/role/lead">' in page
    assert "<script>" not in page and " on" + "click=" not in page


def test_a_mistake_is_shown_beside_its_field_in_the_shapes_words_and_what_was_typed_is_kept(site):
    _login(site.client, "carla")
    csrf = _csrf(site.client.get("/contribute").text)
    broken = {**PRACTICE_FORM, "title": "Cafés <script>alert(1)</script>", "principle": "", "csrf": csrf}
    answer = site.client.post("/contribute", data=broken)
    assert answer.status_code == 422
    principle = re.search(r'id="field-principle".*?</fieldset>', answer.text, re.S).group(0)
    assert "Give the practice exactly one principle (icg:principle) from the principle scheme" in principle
    assert "Kept:" not in principle  # nothing was chosen, so nothing odd is kept
    assert 'value="Cafés &lt;script&gt;alert(1)&lt;/script&gt;"' in answer.text  # kept, and escaped
    assert "<script>alert(1)" not in answer.text
    assert 'value="2023"' in answer.text
    draft = submissions.owned_by(site.settings.state_dir, submissions.User("carla", "contributor"))
    assert [s.state for s in draft] == ["draft"]
    fixed = site.client.post(f"/contribute/submissions/{draft[0].id}/edit", data={**PRACTICE_FORM, "csrf": csrf})
    assert fixed.status_code == 303
    assert submissions.get(site.settings.state_dir, draft[0].id).state == "submitted"


def test_an_unknown_actor_name_is_named_and_nothing_is_stored(site):
    _login(site.client, "carla")
    csrf = _csrf(site.client.get("/contribute").text)
    answer = site.client.post("/contribute", data={**PRACTICE_FORM, "participant_actor": "Nobody Council", "csrf": csrf})
    assert answer.status_code == 422 and "No actor named “Nobody Council” in the registry" in answer.text
    assert 'value="Nobody Council"' in answer.text
    assert submissions.owned_by(site.settings.state_dir, submissions.User("carla", "contributor")) == []


def test_the_reviewer_sees_the_report_duplicates_and_decides_with_the_csrf_token(site):
    answer = site.client.post("/api/submissions", content=TURTLE.replace(b"Neighbourhood language caf\xc3\xa9s in Paris", b"Improving access to the law"),
                              headers={"Content-Type": "text/turtle", **site.auth("carla")})
    submission = answer.json()["id"]
    _login(site.client, "dino")
    assert site.client.get(f"/contribute/submissions/{submission}").status_code == 403
    _login(site.client, "rui")
    page = site.client.get(f"/contribute/submissions/{submission}")
    assert page.status_code == 200
    assert re.search(r'id="duplicates".*?Improving access to the law.*?100% alike', page.text, re.S)
    assert "practice:improving-access-to-the-law-" in page.text  # the practice as it will be published
    queue = site.client.get("/review").text
    assert f"/contribute/submissions/{submission}" in queue
    forged = site.client.post(f"/contribute/submissions/{submission}/decision", data={"action": "reject", "comment": "x", "csrf": "forged"})
    assert forged.status_code == 403
    asked = site.client.post(f"/contribute/submissions/{submission}/decision",
                             data={"action": "request changes", "comment": "Is this <b>new</b>?", "csrf": _csrf(page.text)})
    assert asked.status_code == 303
    _login(site.client, "carla")
    own = site.client.get(f"/contribute/submissions/{submission}").text
    assert "Is this &lt;b&gt;new&lt;/b&gt;?" in own and 'id="submission-state">changes requested' in own
    assert 'id="practice-form"' in own  # the owner may edit now
