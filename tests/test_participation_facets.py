"""Facets that mean what they say: level, kind and role select the same participation, on the real data;
and the list tells apart practices whose titles repeat."""

from __future__ import annotations

import pyoxigraph as ox
import pytest
from fastapi import FastAPI

from conftest import pooled_client
from icgraph.namespaces import sparql_prefixes
from icgraph.server import web
from icgraph.server.facets import title_key


def practices(store: ox.Store, where: str) -> set[str]:
    query = f"{sparql_prefixes()} SELECT DISTINCT ?practice WHERE {{ ?practice a icg:Practice . {where} }}"
    return {row["practice"].value for row in store.query(query)}


NATIONAL_FUNDER = "?practice icg:hasParticipation ?p . ?p icg:role role:funder ; icg:agent/icg:governanceLevel level:national ."
NATIONAL_ANYONE_AND_SOME_FUNDER = (
    "?practice icg:hasParticipation/icg:role role:funder ; icg:hasParticipation/icg:agent/icg:governanceLevel level:national ."
)


@pytest.fixture(scope="module")
def client(built):
    application = FastAPI()
    application.state.settings = built
    web.install(application)
    with pooled_client(application) as client:
        yield client


def browse(client, params) -> dict:
    response = client.get("/practices", params=params, headers={"Accept": "application/json"})
    assert response.status_code == 200, response.text
    return response.json()


def test_national_funder_lists_only_practices_with_a_national_funder(client, store):
    wanted = practices(store, NATIONAL_FUNDER)
    looser = practices(store, NATIONAL_ANYONE_AND_SOME_FUNDER)
    assert wanted, "the data has national funders"
    assert looser - wanted, "the data has practices with a national participant and a funder of another level"
    data = browse(client, [("level", "national"), ("role", "funder")])
    assert {p["iri"] for p in data["practices"]} == wanted
    assert data["count"] == len(wanted)


def test_counts_follow_the_same_participation(client, store):
    data = browse(client, [("level", "national")])
    roles = {v["value"]: v for v in next(f for f in data["facets"] if f["name"] == "role")["values"]}
    assert roles["funder"]["count"] == len(practices(store, NATIONAL_FUNDER))
    levels = {v["value"]: v for v in next(f for f in browse(client, [("role", "funder")])["facets"] if f["name"] == "level")["values"]}
    assert levels["national"]["count"] == len(practices(store, NATIONAL_FUNDER))
    followed = client.get(roles["funder"]["url"], headers={"Accept": "application/json"}).json()
    assert followed["count"] == roles["funder"]["count"]


def test_kind_and_role_select_the_same_participant(client, store):
    where = "?practice icg:hasParticipation ?p . ?p icg:role role:funder ; icg:agent ?a . { ?a a icg:NationalAuthority } UNION { ?a icg:memberKind icg:NationalAuthority }"
    data = browse(client, [("kind", "NationalAuthority"), ("role", "funder")])
    assert {p["iri"] for p in data["practices"]} == practices(store, where)


def test_facets_outside_participations_still_combine_by_practice(client, store):
    data = browse(client, [("country", "es"), ("level", "national"), ("role", "funder")])
    assert {p["iri"] for p in data["practices"]} == practices(store, "?practice icg:country place:es . " + NATIONAL_FUNDER)


def test_repeated_titles_show_what_tells_them_apart(client):
    listed = browse(client, [])["practices"]
    by_key: dict[str, list[dict]] = {}
    for practice in listed:
        by_key.setdefault(title_key(practice["title"]), []).append(practice)
    repeated = [group for group in by_key.values() if len(group) > 1]
    assert any("anti-rumours" in group[0]["title"].lower() for group in repeated)
    for group in repeated:
        marks = [p["distinguish"] for p in group]
        assert all(marks) and len(set(marks)) == len(marks), group
    assert all(p["distinguish"] is None for group in by_key.values() if len(group) == 1 for p in group)
    rumours = {p["slug"]: p["distinguish"] for p in listed if "anti-rumours" in p["title"].lower()}
    assert "Bilbao" in rumours["bilbao-anti-rumours-strategy"] and "Fuenlabrada" in rumours["fuenlabrada-anti-rumours-strategy-ars"]
    html = client.get("/practices").text
    assert "(Bilbao, Spain" in html
