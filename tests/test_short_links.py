"""Short links for queries (icgraph.server.short_links): stable ids, SQLite under state_dir, limits, bad ids.

The application has the short-link routes and the pages (the editor at /q/{id}), its state in a
temporary state_dir; a "restart" here is a second application over the same folder after the
first one has gone (tests/test_result_views_browser.py restarts a real server process).
Short links query no store, so these apps need no reader pool.
"""

from __future__ import annotations

import hashlib
import sqlite3

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from icgraph.config import Settings
from icgraph.server import short_links, web
from icgraph.server.short_links import FILE_NAME, ID_LENGTH, MAX_QUERY_BYTES, ShortLinks

QUERY = "PREFIX icg: <https://w3id.org/icgraph/def#>\nSELECT ?p WHERE { ?p a icg:Practice } LIMIT 3\n"


@pytest.fixture
def settings(built, tmp_path) -> Settings:
    return Settings(store=built.store, build_dir=built.build_dir, state_dir=tmp_path / "state", query_workers=2)


def create_app(settings: Settings) -> FastAPI:
    app = FastAPI()
    app.state.settings = settings
    app.include_router(short_links.router)
    web.install(app)
    return app


@pytest.fixture
def client(settings):
    with TestClient(create_app(settings)) as client:
        yield client


def test_the_same_query_gets_the_same_id_a_hash_prefix(client):
    first = client.post("/api/short-links", json={"query": QUERY})
    assert first.status_code == 201
    link = first.json()
    assert link["id"] == hashlib.sha256(QUERY.encode()).hexdigest()[:ID_LENGTH]
    assert link["url"] == f"/q/{link['id']}" and first.headers["location"] == link["url"]
    again = client.post("/api/short-links", data={"query": QUERY})  # a form, this time
    assert again.status_code == 200 and again.json()["id"] == link["id"]
    other = client.post("/api/short-links", content=QUERY + " ", headers={"Content-Type": "application/sparql-query"})
    assert other.status_code == 201 and other.json()["id"] != link["id"]


def test_the_api_returns_the_text_and_the_page_opens_the_editor_with_it(client):
    link_id = client.post("/api/short-links", json={"query": QUERY}).json()["id"]
    as_json = client.get(f"/api/short-links/{link_id}")
    assert as_json.json()["query"] == QUERY
    text = client.get(f"/api/short-links/{link_id}", headers={"Accept": "application/sparql-query"})
    assert text.headers["content-type"].startswith("application/sparql-query") and text.text == QUERY
    page = client.get(f"/q/{link_id}", headers={"Accept": "text/html"})
    assert page.status_code == 200 and 'id="yasgui"' in page.text
    # the query is in the editor's configuration, escaped for a <script> block
    assert "LIMIT 3" in page.text and "icg:Practice" in page.text


def test_links_survive_a_restart(settings):
    with TestClient(create_app(settings)) as first:
        link_id = first.post("/api/short-links", json={"query": QUERY}).json()["id"]
    assert (settings.state_dir / FILE_NAME).is_file()
    with TestClient(create_app(settings)) as second:
        assert second.get(f"/api/short-links/{link_id}").json()["query"] == QUERY
        assert second.post("/api/short-links", json={"query": QUERY}).status_code == 200  # known, not new


@pytest.mark.parametrize("bad_id", ["XYZ", "0123456789ABCDEF", "abc", "0123456789ab'--", "a" * 65, "..%2f..%2fetc"])
def test_malformed_ids_get_400_saying_what_an_id_is(client, bad_id):
    for path in (f"/api/short-links/{bad_id}", f"/q/{bad_id}"):
        response = client.get(path)
        assert response.status_code in (400, 404), path
        if response.status_code == 400:
            assert "hexadecimal" in response.text


def test_a_well_formed_unknown_id_is_404(client):
    response = client.get("/api/short-links/" + "0" * ID_LENGTH)
    assert response.status_code == 404 and "POST /api/short-links" in response.text
    assert client.get("/q/" + "0" * ID_LENGTH).status_code == 404


def test_too_large_empty_or_malformed_queries_are_refused_and_not_stored(client, settings):
    big = "# " + "x" * MAX_QUERY_BYTES + "\nSELECT * WHERE { ?s ?p ?o }"
    response = client.post("/api/short-links", json={"query": big})
    assert response.status_code == 413 and str(MAX_QUERY_BYTES) in response.text
    assert client.post("/api/short-links", json={"query": "  \n"}).status_code == 400
    assert client.post("/api/short-links", json={"text": QUERY}).status_code == 400
    assert client.post("/api/short-links", content=b"{not json", headers={"Content-Type": "application/json"}).status_code == 400
    assert client.post("/api/short-links", content=b"\xff\xfe", headers={"Content-Type": "text/plain"}).status_code == 400
    assert client.post("/api/short-links", content=QUERY, headers={"Content-Type": "image/png"}).status_code == 415
    database = settings.state_dir / FILE_NAME
    if database.exists():
        with sqlite3.connect(database) as connection:
            assert connection.execute("SELECT COUNT(*) FROM short_link").fetchone()[0] == 0


def test_a_prefix_collision_gives_the_newcomer_a_longer_id(tmp_path):
    links = ShortLinks(tmp_path)
    first, _ = links.save(QUERY)
    # Occupy the prefix that a second query would take, as if another text had hashed to it.
    second_text = QUERY + "# another\n"
    wanted = hashlib.sha256(second_text.encode()).hexdigest()
    with sqlite3.connect(links.path) as connection:
        connection.execute("INSERT INTO short_link (id, sha256, query) VALUES (?, ?, ?)", (wanted[:ID_LENGTH], "f" * 64, "other"))
    second, new = links.save(second_text)
    assert new and second == wanted[: ID_LENGTH + 1]
    assert links.load(second) == second_text and links.load(first) == QUERY
    assert links.save(second_text) == (second, False)


def test_past_the_cap_a_new_query_gets_507_and_linked_ones_keep_their_ids(settings):
    from dataclasses import replace

    capped = replace(settings, max_short_links=2)
    with TestClient(create_app(capped)) as client:
        ids = [client.post("/api/short-links", json={"query": QUERY + f"# {n}\n"}).json()["id"] for n in range(2)]
        refused = client.post("/api/short-links", json={"query": QUERY + "# one too many\n"})
        assert refused.status_code == 507
        assert "maximum of 2 short links" in refused.text and "ICGRAPH_MAX_SHORT_LINKS" in refused.text
        again = client.post("/api/short-links", json={"query": QUERY + "# 0\n"})
        assert again.status_code == 200 and again.json()["id"] == ids[0]
        assert all(client.get(f"/api/short-links/{link_id}").status_code == 200 for link_id in ids)
    with sqlite3.connect(ShortLinks(capped.state_dir).path) as connection:
        assert connection.execute("SELECT COUNT(*) FROM short_link").fetchone()[0] == 2  # nothing stored past the cap
