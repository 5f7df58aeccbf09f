"""The systems under test, each started as its own server process on 127.0.0.1.

- ``icgraph``: ``icgraph serve --store STORE`` (the endpoint at /sparql);
- ``oxigraph``: ``oxigraph serve-read-only --location STORE --union-default-graph`` (/query);
- ``rdflib-endpoint``: ``rdflib-endpoint serve DUMP`` (an rdflib Dataset with the union
  of the named graphs as its default graph, at /), from the TriG / N-Quads dump.

The floor (pyoxigraph in-process on the same store) needs no server: see bench.library.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

SYSTEMS = ("floor", "icgraph", "oxigraph", "rdflib-endpoint")
PROBE = "ASK { ?s ?p ?o }"


def executable(name: str) -> str | None:
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else shutil.which(name)


def available(system: str) -> bool:
    return system == "floor" or executable({"icgraph": "icgraph", "oxigraph": "oxigraph", "rdflib-endpoint": "rdflib-endpoint"}[system]) is not None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    """A server process and the URL of its SPARQL query endpoint."""

    system: str
    command: list[str]
    url: str
    process: subprocess.Popen | None = None
    started_at: float = 0.0
    ready_after: float = 0.0

    def start(self, timeout: float = 120.0) -> "Server":
        self.started_at = time.perf_counter()
        self.process = subprocess.Popen(
            self.command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        try:
            self.ready_after = wait_until_answering(self.url, self.process, self.started_at, timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)  # the server and the workers it started
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(5)
        except ProcessLookupError:
            pass

    def __enter__(self) -> "Server":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def wait_until_answering(url: str, process: subprocess.Popen, started: float, timeout: float) -> float:
    """Seconds from ``started`` to the first 200 answer to a query."""
    deadline = started + timeout
    with httpx.Client(timeout=5) as client:
        while time.perf_counter() < deadline:
            if process.poll() is not None:
                error = process.stderr.read().decode(errors="replace")[-2000:] if process.stderr else ""
                raise RuntimeError(f"{url}: the server exited with {process.returncode}: {error}")
            try:
                response = client.get(url, params={"query": PROBE}, headers={"Accept": "application/sparql-results+json"})
                if response.status_code == 200:
                    return time.perf_counter() - started
            except httpx.HTTPError:
                pass
            time.sleep(0.005)
    raise RuntimeError(f"{url} did not answer within {timeout:g} s")


def icgraph_server(store: Path, port: int | None = None, extra: list[str] | None = None) -> Server:
    port = port or free_port()
    command = [executable("icgraph"), "serve", "--store", str(store), "--host", "127.0.0.1", "--port", str(port), *(extra or [])]
    return Server("icgraph", command, f"http://127.0.0.1:{port}/sparql")


def oxigraph_server(store: Path, port: int | None = None) -> Server:
    port = port or free_port()
    command = [
        executable("oxigraph"), "serve-read-only", "--location", str(Path(store).resolve()),
        "--bind", f"127.0.0.1:{port}", "--union-default-graph",
    ]
    return Server("oxigraph", command, f"http://127.0.0.1:{port}/query")


def rdflib_server(dump: Path, port: int | None = None) -> Server:
    port = port or free_port()
    command = [executable("rdflib-endpoint"), "serve", str(dump), "--host", "127.0.0.1", "--port", str(port)]
    return Server("rdflib-endpoint", command, f"http://127.0.0.1:{port}/")


def server_for(system: str, store: Path, dump: Path) -> Server:
    if system == "icgraph":
        return icgraph_server(store)
    if system == "oxigraph":
        return oxigraph_server(store)
    if system == "rdflib-endpoint":
        return rdflib_server(dump)
    raise ValueError(system)
