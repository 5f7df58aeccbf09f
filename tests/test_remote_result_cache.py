"""The result cache on a remote SPARQL store (server/remote.py `RemotePool`): answers are kept by the
release `icgraph load` recorded for the store, a kept answer is served without asking the store, a new
release is never answered from the old one's, and with no release nothing is kept. The same holds for
the answers each load precomputes on the store (`icgraph.precompute.write_remote_aggregates`).

The remote store is Oxigraph's own server (`oxigraph serve`, the `[bench]` extra) in memory, a
generic SPARQL 1.1 store with a query and an update endpoint; the data are loaded by `icgraph load`.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from icgraph.backends import parse_location
from icgraph.cli import main
from icgraph.config import Settings
from icgraph.publish import release_from_dump
from icgraph.server.app import create_app

from endpoint_fixtures import EX, PEOPLE, free_port

JSON = {"Accept": "application/sparql-results+json"}
NAMES = "SELECT ?name WHERE { GRAPH ?g { ?person <http://xmlns.com/foaf/0.1/name> ?name } } ORDER BY ?name"
#: icgraph keeps every triple in a named graph: the fixture's quads that have one.
PEOPLE_QUADS = "".join(line + "\n" for line in PEOPLE.splitlines() if "/graph/" in line)
DAVE = f'<{EX}dave> <http://xmlns.com/foaf/0.1/name> "Dave" <{EX}graph/people> .\n'


def _oxigraph() -> str:
    beside = Path(sys.executable).parent / "oxigraph"
    found = str(beside) if beside.exists() else shutil.which("oxigraph")
    assert found, "the oxigraph server is not installed: pip install -e '.[bench]'"
    return found


class Remote:
    """An in-memory `oxigraph serve` and the icgraph settings that name it as the store."""

    def __init__(self, tmp_path: Path):
        self.tmp_path = tmp_path
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {"ICGRAPH_BUILD_DIR": str(tmp_path / "build"), "ICGRAPH_STORE_UPDATE_URL": self.base + "/update",
                    "ICGRAPH_STORE_GRAPH_PREFIX": f"{EX}graph/"}  # the graphs icgraph owns there: the fixture's
        self.location = f"sparql+{self.base}/query"
        self.settings = Settings(store=parse_location(self.location, self.env), build_dir=tmp_path / "build")
        self.process = subprocess.Popen([_oxigraph(), "serve", "--bind", f"127.0.0.1:{self.port}"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(self.base + "/query", params={"query": "ASK {}"}, timeout=5)
                return
            except httpx.TransportError:
                assert self.process.poll() is None and time.monotonic() < deadline, "oxigraph serve did not start"
                time.sleep(0.05)

    def load(self, name: str, quads: str, as_release: bool = True) -> str | None:
        """``icgraph load`` of ``quads``: from a release's dump (recorded as the store's release), or a bare file."""
        dump = self.tmp_path / f"{name}.nq"
        dump.write_text(quads, encoding="utf-8")
        release = release_from_dump(dump, self.tmp_path / f"local-{name}", self.tmp_path / "build") if as_release else None
        source = release.dump("icgraph.nq") if release else dump
        result = CliRunner().invoke(main, ["load", "--store", self.location, "--from", str(source)], env=self.env)
        assert result.exit_code == 0, result.output
        return release.id if release else None

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


@pytest.fixture
def remote(tmp_path):
    server = Remote(tmp_path)
    yield server
    server.stop()


def _names(client) -> list[str]:
    response = client.get("/sparql", params={"query": NAMES}, headers=JSON)
    assert response.status_code == 200, response.text
    return [row["name"]["value"] for row in response.json()["results"]["bindings"]]


def test_a_kept_answer_is_served_without_asking_the_remote_store(remote):
    released = remote.load("one", PEOPLE_QUADS)
    with TestClient(create_app(remote.settings)) as client:
        pool = client.app.state.pool
        assert pool.release_id == released
        assert _names(client) == ["Alice", "Bob", "Carol"] and (pool.results.hits, pool.results.misses) == (0, 1)
        posted = client.post("/sparql", data={"query": NAMES.replace(" WHERE", "  # the same, laid out otherwise\n WHERE")}, headers=JSON)
        assert posted.status_code == 200 and pool.results.hits == 1
        library = {"country": "place:it", "format": "csv"}  # a server query (pool.prepared), answered empty here
        first = client.get("/api/queries/practices-by-country", params=library)
        assert first.status_code == 200 and client.get("/api/queries/practices-by-country", params=library).content == first.content
        assert pool.results.hits == 2
        remote.stop()  # the store is gone: what was kept still answers, anything else cannot
        assert _names(client) == ["Alice", "Bob", "Carol"] and pool.results.hits == 3
        other = client.get("/sparql", params={"query": "ASK { ?s ?p ?o }"}, headers=JSON)
        assert other.status_code == 502, other.text


def test_a_new_release_of_the_remote_store_is_never_answered_from_the_old_one(remote):
    remote.load("one", PEOPLE_QUADS)
    with TestClient(create_app(remote.settings)) as client:
        pool = client.app.state.pool
        assert _names(client) == _names(client) == ["Alice", "Bob", "Carol"] and pool.results.hits == 1
        second = remote.load("two", PEOPLE_QUADS + DAVE)
        deadline = time.monotonic() + 30  # the pool reads the current link at most once a second
        while pool.release_id != second and time.monotonic() < deadline:
            time.sleep(0.2)
        assert pool.release_id == second
        assert _names(client) == ["Alice", "Bob", "Carol", "Dave"] and pool.results.hits == 1
        assert _names(client) == ["Alice", "Bob", "Carol", "Dave"] and pool.results.hits == 2


def test_without_a_release_nothing_is_kept(remote):
    """Data loaded from a bare file: the server cannot tell when they change, so it keeps no answer."""
    remote.load("bare", PEOPLE_QUADS, as_release=False)
    with TestClient(create_app(remote.settings)) as client:
        pool = client.app.state.pool
        assert pool.release is None
        assert _names(client) == _names(client) == ["Alice", "Bob", "Carol"]
        assert (pool.results.hits, pool.results.misses, len(pool.results)) == (0, 0, 0)


def _served(pool, release_id) -> None:
    deadline = time.monotonic() + 30  # the pool reads the current link at most once a second
    while (pool.release.id if pool.release else None) != release_id and time.monotonic() < deadline:
        time.sleep(0.2)
    assert (pool.release.id if pool.release else None) == release_id


def test_the_precomputed_answers_are_those_of_the_served_release_only(remote):
    """Each `icgraph load` of a release computes its answers on the store into that release's folder; the server
    looks them up in the release its link names now, and in none once a bare file was loaded."""
    from icgraph.aggregates import remote_aggregates_file

    first = remote.load("one", PEOPLE_QUADS)
    with TestClient(create_app(remote.settings)) as client:
        pool = client.app.state.pool

        def home_from_aggregates() -> bool:
            before = pool.counters["aggregate-answers"]
            assert client.get("/?format=json").status_code == 200
            return pool.counters["aggregate-answers"] == before + 1

        assert pool.aggregates().release_id == first and home_from_aggregates()
        second = remote.load("two", PEOPLE_QUADS + DAVE)
        _served(pool, second)
        assert pool.aggregates().release_id == second and home_from_aggregates()
        for release in (first, second):  # each release's own file, in its own folder
            (folder,) = remote.tmp_path.glob(f"local-*.releases/{release}")
            assert (folder / remote_aggregates_file(remote.settings.store)).is_file()
        remote.load("bare", PEOPLE_QUADS, as_release=False)
        _served(pool, None)
        assert pool.aggregates() is None and not home_from_aggregates()
