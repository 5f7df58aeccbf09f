"""HTTP caching tied to the release: validators on every public GET, 304 on revalidation, new ones with each release."""

from __future__ import annotations

import time

import httpx

from icgraph.publish import release_from_dump

from endpoint_fixtures import EX, PEOPLE, running_server

SELECT = {"query": "SELECT ?s WHERE { GRAPH ?g { ?s <http://xmlns.com/foaf/0.1/name> ?n } } ORDER BY ?s"}
JSON = {"Accept": "application/sparql-results+json"}


#: The GETs the growth issue lists: pages, /sparql results, dumps, /id/ documents (and the other documents).
EVERY_GET = (
    ("/", {}, {}), ("/practices", {}, {}), ("/practices", {"country": "es", "level": "regional", "role": "lead"}, {}),
    ("/id/practice/bilbao-anti-rumours-strategy.html", {}, {}), ("/id/actor/municipality-bilbao.html", {}, {}),
    ("/map", {}, {}), ("/search", {"q": "roma"}, {}),
    ("/sparql", SELECT, JSON), ("/sparql", SELECT, {"Accept": "text/csv"}),
    ("/downloads", {}, {}), ("/downloads/icgraph.nq", {}, {}), ("/downloads/icgraph.ttl", {}, {}),
    ("/id/place/es.ttl", {}, {}), ("/id/place/es.jsonld", {}, {}), ("/id/practice/bilbao-anti-rumours-strategy.ttl", {}, {}),
    ("/def.ttl", {}, {}), ("/.well-known/void", {}, {"Accept": "text/turtle"}),
    ("/api/queries/practices-by-country", {"country": "place:it", "format": "csv"}, {}),
)
#: The GETs a release of the small PEOPLE graph answers (no practice or place pages there).
RELEASE_GETS = (
    ("/", {}, {}), ("/practices", {}, {}), ("/sparql", SELECT, JSON), ("/downloads", {}, {}), ("/downloads/icgraph.nq", {}, {}),
    ("/downloads/icgraph.trig", {}, {}), ("/.well-known/void", {}, {"Accept": "text/turtle"}), ("/.well-known/void.jsonld", {}, {}),
)


def _dump(tmp_path, name, text):
    path = tmp_path / f"{name}.nq"
    path.write_text(text, encoding="utf-8")
    return path


def test_pages_and_queries_carry_validators_and_revalidate_with_304(built):
    with running_server(built.store, token=None, union_default_graph=True) as server:
        for path, params, headers in EVERY_GET:
            first = httpx.get(server.url + path, params=params, headers=headers, timeout=60)
            assert first.status_code == 200, path
            etag, modified = first.headers["etag"], first.headers["last-modified"]
            assert etag.startswith('W/"') and "no-cache" in first.headers["cache-control"]
            again = httpx.get(server.url + path, params=params, headers={**headers, "If-None-Match": etag}, timeout=60)
            assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag, path
            since = httpx.get(server.url + path, params=params, headers={**headers, "If-Modified-Since": modified}, timeout=60)
            assert since.status_code == 304, path
        turtle = httpx.get(server.url + "/id/place/es", headers={"Accept": "text/turtle"}, follow_redirects=True)
        html = httpx.get(server.url + "/id/place/es", headers={"Accept": "text/html"}, follow_redirects=True)
        assert turtle.headers["etag"] != html.headers["etag"]


def test_a_new_release_changes_every_validator(tmp_path):
    location, build_dir = tmp_path / "store", tmp_path / "build"
    release_from_dump(_dump(tmp_path, "one", PEOPLE), location, build_dir)
    with running_server(location, token=None, build_dir=str(build_dir)) as server:
        def get(path, params, headers, **more):
            return httpx.get(server.url + path, params=params, headers={**headers, **more}, timeout=60)

        first = {}
        for path, params, headers in RELEASE_GETS:
            response = get(path, params, headers)
            assert response.status_code == 200 and response.headers.get("etag"), (path, response.status_code)
            first[path] = response.headers["etag"]
        release_from_dump(_dump(tmp_path, "two", f'<{EX}dave> <http://xmlns.com/foaf/0.1/name> "Dave" <{EX}g> .\n'), location, build_dir)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # the server looks at the current link at most once a second
            revalidated = httpx.get(server.sparql, params=SELECT, headers={**JSON, "If-None-Match": first["/sparql"]})
            if revalidated.status_code == 200:
                break
            time.sleep(0.2)
        assert revalidated.status_code == 200 and revalidated.headers["etag"] != first["/sparql"]
        # The answer is the new release's, never the old one's.
        assert f"{EX}dave" in revalidated.text and f"{EX}alice" not in revalidated.text
        for path, params, headers in RELEASE_GETS:
            again = get(path, params, headers, **{"If-None-Match": first[path]})
            assert again.status_code == 200, path  # the old validator no longer matches: the new answer is sent
            assert again.headers["etag"] != first[path], path
        dump = get("/downloads/icgraph.nq", {}, {})
        assert f"{EX}dave" in dump.text and f"{EX}alice" not in dump.text


def test_answers_that_are_not_a_function_of_the_data_carry_no_validator(tmp_path):
    location = tmp_path / "store"
    release_from_dump(_dump(tmp_path, "one", PEOPLE), location, tmp_path / "build")
    with running_server(location, token=None) as server:
        response = httpx.get(server.sparql, params={"query": "SELECT (RAND() AS ?r) WHERE {}"}, headers=JSON)
        assert response.status_code == 200 and "etag" not in response.headers
        metrics = httpx.get(server.url + "/metrics")
        assert "etag" not in metrics.headers
        with_token = httpx.get(server.sparql, params=SELECT, headers={**JSON, "Authorization": "Bearer x"})
        assert "etag" not in with_token.headers
