"""HTTP caching tied to the release: validators on every public GET, 304 on revalidation, new ones with each release."""

from __future__ import annotations

import time

import httpx

from icgraph.publish import release_from_dump

from endpoint_fixtures import EX, PEOPLE, running_server

SELECT = {"query": f"SELECT ?s WHERE {{ GRAPH ?g {{ ?s <http://xmlns.com/foaf/0.1/name> ?n }} }} ORDER BY ?s"}
JSON = {"Accept": "application/sparql-results+json"}


def _dump(tmp_path, name, text):
    path = tmp_path / f"{name}.nq"
    path.write_text(text, encoding="utf-8")
    return path


def test_pages_and_queries_carry_validators_and_revalidate_with_304(built):
    with running_server(built.store, token=None, union_default_graph=True) as server:
        for path, params, headers in (("/practices", {}, {}), ("/.well-known/void", {}, {"Accept": "text/turtle"}),
                                      ("/sparql", SELECT, JSON), ("/id/place/es.ttl", {}, {})):
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
    with running_server(location, token=None) as server:
        first = httpx.get(server.sparql, params=SELECT, headers=JSON)
        etag = first.headers["etag"]
        release_from_dump(_dump(tmp_path, "two", f'<{EX}dave> <http://xmlns.com/foaf/0.1/name> "Dave" <{EX}g> .\n'), location, build_dir)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            revalidated = httpx.get(server.sparql, params=SELECT, headers={**JSON, "If-None-Match": etag})
            if revalidated.status_code == 200:
                break
            time.sleep(0.2)
        assert revalidated.status_code == 200 and revalidated.headers["etag"] != etag
        # The answer is the new release's, never the old one's.
        assert f"{EX}dave" in revalidated.text and f"{EX}alice" not in revalidated.text


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
