"""Safe by default: no outbound traffic, no file reads, time and memory limits that really stop
the work, request-size and concurrency limits, and other clients served while a query of death runs."""

from __future__ import annotations

import concurrent.futures
import json
import socket
import threading
import time

import httpx
import pytest

from endpoint_fixtures import EX, running_server, seed_store

# Cross products over 600 triples. Sorted, the 3-way one needs memory without end; counted,
# the 4-way one (1.3e11 rows) needs little memory and hours of CPU.
SORTED_CROSS_PRODUCT = "SELECT * WHERE { GRAPH ?g { ?a ?p ?x . ?b ?q ?y . ?c ?r ?z } } ORDER BY ?x ?y ?z"
COUNTED_CROSS_PRODUCT = "SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?a ?p ?x . ?b ?q ?y . ?c ?r ?z . ?d ?s ?w } }"


def _numbers(count: int) -> str:
    return "".join(f"<{EX}s{i}> <{EX}value> \"{i}\" <{EX}graph/numbers> .\n" for i in range(count))


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    store = tmp_path_factory.mktemp("security") / "store"
    seed_store(store, _numbers(600))
    with running_server(store, query_timeout=20, query_memory_mb=1024, max_request_bytes=64 * 1024, max_result_bytes=200_000) as live:
        yield live


class Listener:
    """A TCP listener on 127.0.0.1 that records every connection it receives."""

    def __init__(self):
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(16)
        self.socket.settimeout(0.2)
        self.port = self.socket.getsockname()[1]
        self.connections = 0
        self.stopped = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while not self.stopped:
            try:
                connection, _ = self.socket.accept()
            except OSError:
                continue
            self.connections += 1
            connection.close()

    def close(self):
        time.sleep(0.5)  # leave time for a connection that would come late
        self.stopped = True
        self.thread.join()
        self.socket.close()


@pytest.fixture
def listener():
    probe = Listener()
    yield probe
    probe.close()


def ask(server, text: str, **params) -> httpx.Response:
    return httpx.post(server.sparql, data={"query": text, **params}, timeout=60)


# -- no outbound traffic ---------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "SELECT * WHERE { SERVICE <http://127.0.0.1:{port}/sparql> { ?s ?p ?o } }",
        "PREFIX remote: <http://127.0.0.1:{port}/> SELECT * WHERE { SERVICE SILENT remote:sparql { ?s ?p ?o } }",
        "ASK { { SELECT * WHERE { OPTIONAL { SERVICE <http://127.0.0.1:{port}/> { ?s ?p ?o } } } } }",
        "SELECT * WHERE { SERVICE ?endpoint { ?s ?p ?o } VALUES ?endpoint { <http://127.0.0.1:{port}/> } }",
    ],
)
def test_service_is_refused_and_nothing_is_contacted(server, listener, text):
    response = ask(server, text.replace("{port}", str(listener.port)))
    assert response.status_code == 400
    assert "SERVICE" in response.text and "refused" in response.text
    listener.close()
    assert listener.connections == 0


@pytest.mark.parametrize(
    "text",
    [
        "LOAD <http://127.0.0.1:{port}/data.ttl>",
        "LOAD SILENT <http://127.0.0.1:{port}/data.ttl> INTO GRAPH <http://example.org/g>",
        "INSERT { GRAPH <http://example.org/g> { ?s ?p ?o } } WHERE { SERVICE <http://127.0.0.1:{port}/> { ?s ?p ?o } }",
    ],
)
def test_load_and_service_in_updates_are_refused(server, listener, text):
    response = httpx.post(
        server.url + "/update", data={"update": text.replace("{port}", str(listener.port))}, headers=server.auth(), timeout=30
    )
    assert response.status_code == 400
    assert "refused" in response.text
    listener.close()
    assert listener.connections == 0


def test_load_of_a_file_is_refused(server, tmp_path):
    secret = tmp_path / "secret.nt"
    secret.write_text(f"<{EX}secret> <{EX}p> \"top secret\" .\n")
    response = httpx.post(server.url + "/update", data={"update": f"LOAD <{secret.as_uri()}>"}, headers=server.auth())
    assert response.status_code == 400
    assert json.loads(ask(server, 'ASK { GRAPH ?g { ?s ?p "top secret" } }').text)["boolean"] is False


def test_from_a_file_reads_nothing(server, tmp_path):
    secret = tmp_path / "secret.nt"
    secret.write_text(f"<{EX}secret> <{EX}p> \"top secret\" .\n")
    for text in (
        f"SELECT * FROM <{secret.as_uri()}> WHERE {{ ?s ?p ?o }}",
        f"SELECT * FROM NAMED <{secret.as_uri()}> WHERE {{ GRAPH ?g {{ ?s ?p ?o }} }}",
        f"SELECT * FROM <file:///etc/passwd> WHERE {{ ?s ?p ?o }}",
    ):
        response = ask(server, text)
        assert response.status_code == 200
        assert json.loads(response.text)["results"]["bindings"] == []
    update = f"INSERT {{ GRAPH <{EX}graph/stolen> {{ ?s ?p ?o }} }} USING <{secret.as_uri()}> WHERE {{ ?s ?p ?o }}"
    assert httpx.post(server.url + "/update", data={"update": update}, headers=server.auth()).status_code == 204
    assert json.loads(ask(server, f"ASK {{ GRAPH <{EX}graph/stolen> {{ ?s ?p ?o }} }}").text)["boolean"] is False


# -- time limit ------------------------------------------------------------------------


def test_query_of_death_is_stopped_while_other_clients_are_served(server):
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        started = time.monotonic()
        death = pool.submit(ask, server, COUNTED_CROSS_PRODUCT, timeout="2")
        time.sleep(0.3)
        latencies = []
        # Another client (another address): one client may hold all readers but one (server/workers.py).
        other = httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.2"), timeout=60)
        while not death.done():
            t0 = time.monotonic()
            response = other.post(server.sparql, data={"query": f"ASK {{ GRAPH ?g {{ <{EX}s1> ?p ?o }} }}"})
            latencies.append(time.monotonic() - t0)
            assert response.status_code == 200 and json.loads(response.text)["boolean"] is True
            time.sleep(0.05)
        other.close()
        response = death.result()
        elapsed = time.monotonic() - started
    assert response.status_code == 504, response.text
    assert "stopped after 2 s" in response.text
    assert elapsed < 6
    assert len(latencies) >= 5 and sorted(latencies)[len(latencies) // 2] < 0.5 and max(latencies) < 2.0, latencies
    # The killed worker is replaced: two queries at once are served again.
    time.sleep(1.5)
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: ask(server, "ASK {}").status_code, range(4)))
    assert results == [200] * 4


def test_timeout_parameter_cannot_raise_the_limit(server):
    started = time.monotonic()
    response = ask(server, COUNTED_CROSS_PRODUCT, timeout="1")
    assert response.status_code == 504 and time.monotonic() - started < 4
    assert ask(server, "ASK {}", timeout="99999").status_code == 200


# -- memory and result size ----------------------------------------------------------


def test_memory_ceiling_stops_a_sorted_cross_product_cleanly(server):
    response = ask(server, SORTED_CROSS_PRODUCT)
    assert response.status_code == 503, response.text
    assert "MiB" in response.text and "memory" in response.text
    assert server.alive()
    time.sleep(1.5)
    assert ask(server, "ASK {}").status_code == 200


def test_result_size_cap(server):
    response = ask(server, "SELECT * WHERE { GRAPH ?g { ?a ?p ?x . ?b ?q ?y } } LIMIT 100000")
    assert response.status_code == 503
    assert "larger than this endpoint's limit of 200000 bytes" in response.text


# -- request size ----------------------------------------------------------------------


def test_oversized_bodies_get_413(server):
    big = "ASK {} #" + "x" * (70 * 1024)
    assert httpx.post(server.sparql, data={"query": big}).status_code == 413
    assert httpx.post(server.sparql, content=big.encode(), headers={"Content-Type": "application/sparql-query"}).status_code == 413

    def chunked():
        for _ in range(80):
            yield b"x" * 1024

    response = httpx.post(server.sparql, content=chunked(), headers={"Content-Type": "application/sparql-query"})
    assert response.status_code == 413
    assert httpx.put(server.url + "/store", params={"default": ""}, content=big.encode(), headers={"Content-Type": "text/turtle", **server.auth()}).status_code == 413
    assert ask(server, "ASK {}").status_code == 200


# -- concurrency -----------------------------------------------------------------------


def test_excess_load_gets_503_with_retry_after(tmp_path):
    store = tmp_path / "store"
    seed_store(store, _numbers(300))
    with running_server(store, query_workers=2, max_waiting_requests=1, queue_timeout=1.0, query_timeout=4) as busy:
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            started = time.monotonic()
            responses = list(pool.map(lambda _: ask(busy, COUNTED_CROSS_PRODUCT, timeout="3"), range(8)))
            elapsed = time.monotonic() - started
        statuses = sorted(r.status_code for r in responses)
        assert 503 in statuses and 504 in statuses, statuses
        assert set(statuses) <= {503, 504}
        overloaded = [r for r in responses if r.status_code == 503]
        assert all(r.headers.get("retry-after") for r in overloaded)
        assert all("busy" in r.text for r in overloaded)
        assert elapsed < 15  # nobody hangs: 3 s limit, 1 s queue wait, spare for a loaded machine
        time.sleep(1.5)
        assert ask(busy, "ASK {}").status_code == 200


@pytest.mark.parametrize("text", [
    "SELECT * WHERE { SERVICE <http://127.0.0.1:9/> { ?s ?p ?o } }",
    "select * where { service <http://127.0.0.1:9/> { ?s ?p ?o } }",
    "SELECT * FROM <file:///etc/passwd> WHERE { ?s ?p ?o }",
    "SELECT * WHERE { \\u0053ERVICE <http://127.0.0.1:9/> { ?s ?p ?o } }",
])
def test_the_quick_inspection_never_waves_through_what_could_reach_out(text):
    """The parser-free fast path hands every query that names SERVICE or FROM (or hides a word in
    a codepoint escape) to the full parse."""
    from icgraph.server.security import quick_inspect_query

    assert quick_inspect_query(text) is None


def test_the_quick_inspection_reads_the_form_of_a_plain_query():
    from icgraph.server.security import quick_inspect_query

    found = quick_inspect_query('PREFIX service: <http://x/> CONSTRUCT WHERE { ?s service:p "SERVICE FROM" } # SERVICE')
    assert found is not None and found.form == "CONSTRUCT" and not found.services
