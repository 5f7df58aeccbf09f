"""Corrections of published practices, new actors in the form, and likely duplicates (docs/contributions.md).

A correction goes through the same flow as a new practice: the API (prov:wasRevisionOf), the form filled in
from the published practice, the difference shown readable on real data, the role boundaries (a contributor
cannot accept, nobody edits another's submission), and on accept graph:contributions holds the corrected
practice with PROV while the graphs of the two source documents stay byte-identical.
"""

from __future__ import annotations

import re
import time

import pyoxigraph as ox
import pytest
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, PROV, SKOS

from icgraph import release as releases
from icgraph.contributions import accounts, checking, corrections, duplicates, submissions
from icgraph.contributions import form as practice_form
from icgraph.queries import load_library
from icgraph.store import default_dataset
from icgraph.validate import load_ontology

from contribution_fixtures import PASSWORD, TURTLE, contribution_site, served_site

ID = "https://w3id.org/icgraph/id/"
#: A real practice of the Compendium (graph:compendium and graph:curation), with generic actor groups among its participants.
BILBAO = ID + "practice/bilbao-intersectional-board-on-female-genital-mutilation-prevention"
SOURCE_GRAPHS = ("compendium", "curation", "meeting-report")
#: The library's tag for queries about what the source documents state: a corrected practice answers as its source describes it.
SOURCE_FACTS = "source facts"
RDF_TYPE = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
PRACTICE_CLASS = ox.NamedNode("https://w3id.org/icgraph/def#Practice")


@pytest.fixture
def site(built, tmp_path):
    yield from served_site(built, tmp_path)


def _correction_turtle(settings, change) -> bytes:
    """The published practice as the form fills it in, changed by ``change(values)``, as the submission's Turtle."""
    values = corrections.published_values(settings, BILBAO)
    change(values)
    graph = practice_form.to_graph(practice_form.practice_fields(settings), values)
    return graph.serialize(format="turtle").encode()


def _retitled(values):
    values["title"] = ["Intersectional Board on Female Genital Mutilation prevention, Bilbao"]
    values["startYear"] = ["2014"]


def _post(site, who, body):
    return site.client.post("/api/submissions", content=body, headers={"Content-Type": "text/turtle", **site.auth(who)})


def _label(iri: str) -> str:
    return str(load_ontology().value(URIRef(iri), SKOS.prefLabel))


# --------------------------------------------------------------------------- the difference, on real data


def test_the_difference_from_the_published_practice_is_readable_and_exact(built, tmp_path):
    site = contribution_site(built, tmp_path)
    settings = site.settings
    published = corrections.published_values(settings, BILBAO)
    area, target = published["areaOfIntervention"][0], ID + "target-group/migrants"
    assert target not in published["targetGroup"]

    def change(values):
        values["title"] = ["Intersectional Board against Female Genital Mutilation, Bilbao"]
        values["areaOfIntervention"] = [a for a in values["areaOfIntervention"] if a != area]
        values["targetGroup"] = values["targetGroup"] + [target]

    check = checking.check(settings, Graph().parse(data=_correction_turtle(settings, change), format="turtle"), "d1ff")
    assert check.conforms, check.issues
    assert check.corrects == URIRef(BILBAO) and str(check.practice) == BILBAO + "-correction-d1ff"
    found = corrections.difference(settings, checking.turtle(check.graph), str(check.practice), BILBAO)
    title_field = next(f.label for f in practice_form.practice_fields(settings) if f.name == "title")
    area_field = next(f.label for f in practice_form.practice_fields(settings) if f.name == "areaOfIntervention")
    target_field = next(f.label for f in practice_form.practice_fields(settings) if f.name == "targetGroup")
    assert [(s.field, s.value) for s in found.removed] == sorted(
        [(title_field, published["title"][0]), (area_field, _label(area))], key=lambda r: [title_field, area_field].index(r[0]))
    assert {(s.field, s.value, s.term) for s in found.added} == {
        (title_field, "Intersectional Board against Female Genital Mutilation, Bilbao", '"Intersectional Board against Female Genital Mutilation, Bilbao"@en'),
        (target_field, _label(target), f"<{target}>"),
    }
    # Labels, not IRIs, for concepts; and everything else (participants, the generic actor groups among them) kept.
    assert _label(area) and not _label(area).startswith("http")
    participants = len(published["participant_actor"])
    assert found.kept >= participants and not [s for s in found.removed + found.added if "#group-" in s.term]


def test_naming_the_published_practice_itself_is_a_correction_of_it(built, tmp_path):
    site = contribution_site(built, tmp_path)
    body = _correction_turtle(site.settings, _retitled).decode()
    # The submission names practice:x instead of saying prov:wasRevisionOf practice:x.
    graph = Graph().parse(data=body, format="turtle")
    blank = next(graph.subjects(PROV.wasRevisionOf, URIRef(BILBAO)))
    named = Graph()
    for s, p, o in graph:
        if p != PROV.wasRevisionOf:
            named.add((URIRef(BILBAO) if s == blank else s, p, o))
    check = checking.check(site.settings, named, "n4me")
    assert check.conforms and check.corrects == URIRef(BILBAO)
    assert (check.practice, PROV.wasRevisionOf, URIRef(BILBAO)) in check.graph
    assert (URIRef(BILBAO), DCTERMS.isReplacedBy, check.practice) in check.graph


# --------------------------------------------------------------------------- the API: flow and role boundaries


def test_a_correction_that_names_no_published_practice_gets_422_saying_so(site):
    body = TURTLE.replace(b"[] a icg:Practice ;", b"[] a icg:Practice ; <http://www.w3.org/ns/prov#wasRevisionOf> <https://w3id.org/icgraph/id/actor/municipality-paris> ;")
    answer = _post(site, "carla", body)
    assert answer.status_code == 422
    results = [(r["path"], r["value"]) for r in answer.json()["results"] if r["severity"] == "Violation"]
    assert results == [("prov:wasRevisionOf", "actor:municipality-paris")]
    assert "Name a published practice" in answer.json()["results"][0]["message"]


def test_a_correction_through_the_api_respects_every_role_and_publishes_beside_the_sources(site):
    settings, client = site.settings, site.client
    before = releases.current_release(settings.store, settings.build_dir)
    created = _post(site, "carla", _correction_turtle(settings, _retitled))
    assert created.status_code == 201, created.text
    data = created.json()
    assert data["corrects"] == BILBAO and data["practice"] == f"{BILBAO}-correction-{data['id']}"
    shown = client.get(data["url"], headers=site.auth("rui")).json()
    assert {(d["value"]) for d in shown["difference"]["added"]} == {"Intersectional Board on Female Genital Mutilation prevention, Bilbao", "2014"}
    assert len(shown["difference"]["removed"]) == 2

    # Nobody edits another's submission, a reviewer included; a contributor cannot accept, not even their own.
    for who in ("dino", "rui"):
        edit = client.put(data["url"], content=TURTLE, headers={"Content-Type": "text/turtle", **site.auth(who)})
        assert edit.status_code == 403 and "only its owner edits it" in edit.text
    own_accept = client.post(data["url"] + "/decision", json={"action": "accept"}, headers=site.auth("carla"))
    assert own_accept.status_code == 403 and "Only a reviewer may decide" in own_accept.text
    assert client.get(data["url"], headers=site.auth("dino")).status_code == 403
    assert submissions.get(settings.state_dir, data["id"]).state == "submitted"

    # Another contributor corrects the same practice meanwhile: it waits in the queue beside the first.
    concurrent = _post(site, "dino", _correction_turtle(settings, lambda values: values.update(startYear=["2013"])))
    assert concurrent.status_code == 201, concurrent.text

    # The reviewer accepts: a new release, the sources' graphs byte-identical, the correction in graph:contributions.
    decided = client.post(data["url"] + "/decision", json={"action": "accept"}, headers=site.auth("rui"))
    assert decided.status_code == 200, decided.text
    after = releases.current_release(settings.store, settings.build_dir)
    assert after.id != before.id and decided.json()["state"] == "accepted"
    for name in SOURCE_GRAPHS:
        assert (after.path / "graphs" / f"{name}.nt").read_bytes() == (before.path / "graphs" / f"{name}.nt").read_bytes(), name
    contributions = Graph().parse(after.path / "graphs" / "contributions.nt", format="nt")
    correction = URIRef(data["practice"])
    assert (correction, PROV.wasRevisionOf, URIRef(BILBAO)) in contributions
    assert (URIRef(BILBAO), DCTERMS.isReplacedBy, correction) in contributions
    assert (correction, PROV.wasDerivedFrom, URIRef(data["iri"])) in contributions
    assert (correction, DCTERMS.title, Literal("Intersectional Board on Female Genital Mutilation prevention, Bilbao", lang="en")) in contributions
    # The source's title stays in the sources' graph: the correction is stated beside it, not over it.
    compendium = (after.path / "graphs" / "compendium.nt").read_text()
    assert f'<{BILBAO}> <http://purl.org/dc/terms/title> "Intersectional Board on Female Genital Mutilation prevention in Bilbao"@en' in compendium

    # /changes lists the corrected practice as changed, with its correction, and not as a practice added.
    path = BILBAO.removeprefix("https://w3id.org/icgraph")
    page = client.get("/changes").text
    section = page.split(f'id="{after.id}"', 1)[1].split("</section>", 1)[0]
    changed = section.split('class="changes-changed"', 1)[1].split("</ul>", 1)[0]
    assert f'<a href="{path}">' in changed and "corrected by a contribution" in changed and f'href="{path}-correction-{data["id"]}"' in changed
    added = section.split('class="changes-added"', 1)[1].split("</ul>", 1)[0] if "changes-added" in section else ""
    assert "-correction-" not in added
    assert f"Corrected: practice:{path.rsplit('/', 1)[1]} by" in client.get("/changes.atom").text

    # The practice's page shows the correction; the correction's page points back.
    for _ in range(100):  # the server follows the new release within about a second
        practice_page = client.get(path, follow_redirects=True)
        if "corrected-by" in practice_page.text:
            break
        time.sleep(0.1)
    assert practice_page.status_code == 200 and 'id="corrected-by"' in practice_page.text
    assert f"{path}-correction-{data['id']}" in practice_page.text
    correction_page = client.get(f"{path}-correction-{data['id']}", follow_redirects=True)
    assert correction_page.status_code == 200 and 'id="correction-of"' in correction_page.text

    _the_correction_stands_for_the_practice(site, before, after, BILBAO, str(correction))
    _a_correction_of_the_replaced_version_is_refused(site, concurrent.json(), str(correction))


def _the_correction_stands_for_the_practice(site, before, after, replaced: str, current: str) -> None:
    """Lists, facets, counts, search, the map and every library query show the correction, never the practice it replaced."""
    client = site.client
    path, current_path = _site_path(replaced), _site_path(current)
    practices_before = {q.subject for q in ox.Store.read_only(str(before.store)).quads_for_pattern(None, RDF_TYPE, PRACTICE_CLASS, None)}
    listing = client.get("/practices").text
    count = int(re.search(r'id="result-count" data-count="(\d+)"', listing).group(1))
    assert count == len(practices_before) > 0
    assert f'href="{current_path}"' in listing and f'href="{path}"' not in listing
    home = client.get("/").text
    assert re.search(r'data-count="practices"><div class="count">([\d,]+)<', home).group(1).replace(",", "") == str(count)
    principle = re.search(r'href="/practices\?principle=([^"&]+)"', listing).group(1)
    assert f'href="{path}"' not in client.get(f"/practices?principle={principle}").text
    found = client.get("/search", params={"q": "Intersectional Board Female Genital Mutilation Bilbao"}).text
    assert current_path in found and f'href="{path}"' not in found
    drawn = client.get("/api/map").text  # practices by IRI or by slug, each quoted
    assert not {f'"{replaced}"', f'"{replaced.rsplit("/", 1)[1]}"'} & _quoted(drawn)
    assert {f'"{current}"', f'"{current.rsplit("/", 1)[1]}"'} & _quoted(drawn)
    # Every library query, with its defaults, on the new release: the replaced practice is in none of the answers,
    # but those tagged "source facts", which say what the source documents state (lines, dates as printed, outcomes).
    store = ox.Store.read_only(str(after.store))
    dataset = default_dataset(store)
    mentioned = []
    for name, query in load_library(site.settings.queries_dir).items():
        bindings = query.bindings({})
        if SOURCE_FACTS in query.tags or any(term.value == replaced for term in bindings.values()):
            continue  # about the sources, or asked about the replaced practice itself
        answer = store.query(query.text, substitutions=bindings or None, **dataset)
        if any(term is not None and term.value == replaced for row in answer for term in row):
            mentioned.append(name)
    assert not mentioned, f"library queries that still list the replaced practice: {mentioned}"


def _a_correction_of_the_replaced_version_is_refused(site, waiting: dict, current: str) -> None:
    """A correction written against the replaced version cannot be accepted (it would undo the accepted one); a new one is refused at once."""
    client = site.client
    assert client.get(waiting["url"], headers=site.auth("rui")).json()["supersededBy"] == current
    refused = client.post(waiting["url"] + "/decision", json={"action": "accept"}, headers=site.auth("rui"))
    assert refused.status_code == 409 and "has been corrected already" in refused.text, refused.text
    assert submissions.get(site.settings.state_dir, waiting["id"]).state == "submitted"
    _login(client, "rui")
    review = client.get(f"/contribute/submissions/{waiting['id']}").text
    assert 'id="superseded"' in review and _site_path(current) in review
    # The form starts a correction from the current version; one that names the replaced version is refused at once.
    again = _post(site, "dino", _correction_turtle(site.settings, lambda values: values.update(startYear=["2012"])))
    assert again.status_code == 201 and again.json()["corrects"] == current, again.text
    stale = _post(site, "dino", _correction_turtle(site.settings, lambda values: values.update(corrects=[BILBAO])))
    assert stale.status_code == 422 and "has been corrected already" in stale.text, stale.text


def _quoted(text: str) -> set[str]:
    return set(re.findall(r'"[^"]*"', text))


def _site_path(iri: str) -> str:
    return iri.removeprefix("https://w3id.org/icgraph")


# --------------------------------------------------------------------------- the form: corrections and new actors


def _csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def _login(client, name: str) -> None:
    page = client.get("/login")
    answer = client.post("/login", data={"name": name, "password": PASSWORD, "csrf": _csrf(page.text), "next": "/contribute"})
    assert answer.status_code == 303


def test_the_correction_form_is_filled_in_from_the_published_practice(site):
    client = site.client
    assert client.get(f"/contribute/correct?practice={BILBAO}").status_code == 303  # log in first
    _login(client, "carla")
    page = client.get("/contribute/correct", params={"practice": BILBAO})
    assert page.status_code == 200
    assert 'value="Intersectional Board on Female Genital Mutilation prevention in Bilbao"' in page.text
    assert f'<input type="hidden" name="corrects" value="{BILBAO}">' in page.text
    assert 'id="correcting"' in page.text
    assert client.get("/contribute/correct", params={"practice": ID + "actor/municipality-bilbao"}).status_code == 404
    # The published practice's page offers it.
    practice_page = client.get(BILBAO.removeprefix("https://w3id.org/icgraph"), follow_redirects=True)
    assert 'id="propose-correction"' in practice_page.text and "/contribute/correct?practice=https%3A//w3id.org" in practice_page.text


NEW_ACTOR_FORM = {
    "title": "Neighbourhood mediators in Lyon",
    "principle": ID + "principle/interaction",
    "practiceType": ID + "practice-type/project",
    "country": ID + "place/fr",
    "startYear": "2021",
    "participant_actor": "Lyon Neighbourhood Mediation Collective",
    "participant_role": ID + "role/lead",
    "new_actor_prefLabel": "Lyon Neighbourhood Mediation Collective",
    "new_actor_type": "https://w3id.org/icgraph/def#CivilSocietyOrganisation",
    "new_actor_governanceLevel": ID + "level/local",
    "new_actor_country": ID + "place/fr",
}


def test_a_new_actor_is_proposed_in_the_form_with_problems_beside_its_fields(site):
    client = site.client
    _login(client, "carla")
    fields = {f.name for f in practice_form.actor_fields(site.settings)}
    assert {"prefLabel", "type", "governanceLevel", "actorFamily", "country"} <= fields
    home = client.get("/contribute")
    assert 'name="new_actor_type"' in home.text and 'name="new_actor_governanceLevel"' in home.text
    # No family: the shape's message beside the new actor's family field, and everything typed kept.
    answer = client.post("/contribute", data={**NEW_ACTOR_FORM, "csrf": _csrf(home.text)})
    assert answer.status_code == 422
    family = answer.text.split('id="new-actor-0-actorFamily"', 1)[1].split("</div>", 1)[0]
    assert 'class="problem"' in family and "Say which family of institutions the actor belongs to" in family
    assert 'value="Lyon Neighbourhood Mediation Collective"' in answer.text
    assert f'<option value="{ID}level/local" selected>' in answer.text
    # With a family it is submitted, the actor proposed with it.
    family_iri = next(iri for iri, _ in next(f for f in practice_form.actor_fields(site.settings) if f.name == "actorFamily").options)
    action = re.search(r'action="(/contribute/submissions/[^"]+/edit)"', answer.text).group(1)
    fixed = client.post(action, data={**NEW_ACTOR_FORM, "new_actor_actorFamily": family_iri, "csrf": _csrf(answer.text)})
    assert fixed.status_code == 303, fixed.text
    stored = submissions.owned_by(site.settings.state_dir, accounts.find_user(site.settings.state_dir, "carla"))[0]
    assert stored.state == "submitted"
    graph = Graph().parse(data=stored.rdf, format="turtle")
    actor = URIRef(ID + "actor/lyon-neighbourhood-mediation-collective")
    assert (actor, SKOS.prefLabel, Literal("Lyon Neighbourhood Mediation Collective", lang="en")) in graph
    assert (None, URIRef("https://w3id.org/icgraph/def#agent"), actor) in graph


def test_a_new_actor_named_like_a_registry_actor_is_refused_beside_its_name(site):
    client = site.client
    _login(client, "carla")
    home = client.get("/contribute")
    taken = {**NEW_ACTOR_FORM, "new_actor_prefLabel": "Municipality Paris", "participant_actor": "City of Paris", "csrf": _csrf(home.text)}
    answer = client.post("/contribute", data=taken)
    assert answer.status_code == 422
    name = answer.text.split('id="new-actor-0-prefLabel"', 1)[1].split("</div>", 1)[0]
    assert "The registry has actor:municipality-paris" in name
    assert submissions.owned_by(site.settings.state_dir, accounts.find_user(site.settings.state_dir, "carla")) == []


# --------------------------------------------------------------------------- likely duplicates


def test_duplicates_by_shared_actors_and_by_a_proposed_actors_name(built, tmp_path):
    site = contribution_site(built, tmp_path)
    settings = site.settings
    published = corrections.published_values(settings, BILBAO)
    actors = [a for a in published["participant_actor"] if a.startswith(ID + "actor/")]
    ttl = "\n".join([
        "@prefix icg: <https://w3id.org/icgraph/def#> . @prefix dct: <http://purl.org/dc/terms/> .",
        "@prefix skos: <http://www.w3.org/2004/02/skos/core#> .",
        "<https://w3id.org/icgraph/id/practice/p-1> a icg:Practice ; dct:title \"A board of many departments\"@en ;",
        "  icg:hasParticipation " + ", ".join(f"[ icg:agent <{a}> ]" for a in actors) + " , [ icg:agent <https://w3id.org/icgraph/id/actor/new-one> ] .",
        "<https://w3id.org/icgraph/id/actor/new-one> skos:prefLabel \"Bilbao City Council \"@en .",
    ])
    found = duplicates.likely_duplicates(settings, ttl, ID + "practice/p-1")
    assert found.by_actors and found.by_actors[0].practice == BILBAO
    assert set(found.by_actors[0].shared) == set(actors)
    assert [(a.proposed, a.actor) for a in found.actor_names][:1] == [(ID + "actor/new-one", ID + "actor/municipality-bilbao")]
    # A correction is no duplicate of the practice it corrects.
    assert not [r for r in duplicates.likely_duplicates(settings, ttl, ID + "practice/p-1", corrects=BILBAO).by_actors if r.practice == BILBAO]


def test_a_correction_sent_from_the_form_is_edited_by_its_owner_only_and_decided_by_a_reviewer_only(site):
    client = site.client
    _login(client, "carla")
    page = client.get("/contribute/correct", params={"practice": BILBAO})
    values = corrections.published_values(site.settings, BILBAO)
    _retitled(values)
    sent = client.post("/contribute", data={**values, "csrf": _csrf(page.text)})
    assert sent.status_code == 303, sent.text
    submission_path = sent.headers["location"]
    submission_id = submission_path.rsplit("/", 1)[1]
    stored = submissions.get(site.settings.state_dir, submission_id)
    assert stored.state == "submitted" and stored.practice == f"{BILBAO}-correction-{submission_id}"
    own = client.get(submission_path).text
    assert 'id="correction-diff"' in own and "2014" in own.split('id="correction-diff"', 1)[1].split("</table>", 1)[0]
    # The owner cannot accept their own correction.
    refused = client.post(submission_path + "/decision", data={"action": "accept", "csrf": _csrf(own)})
    assert refused.status_code == 403 and "Only a reviewer may decide" in refused.text
    # Nobody else edits it: another contributor, or a reviewer.
    for who in ("dino", "rui"):
        _login(client, who)
        home = client.get("/contribute")
        edit = client.post(submission_path + "/edit", data={**values, "title": "Taken over", "csrf": _csrf(home.text)})
        assert edit.status_code == 403, who
    assert submissions.get(site.settings.state_dir, submission_id).title == values["title"][0]
    review = client.get("/review").text  # logged in as rui
    row = review.split(f"/contribute/submissions/{submission_id}", 1)[1].split("</tr>", 1)[0]
    assert "<td>correction</td>" in row
