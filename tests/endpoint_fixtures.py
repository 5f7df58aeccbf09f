"""A real icgraph server on 127.0.0.1 (random free port, fresh temporary store) for the endpoint tests.

The server runs in a subprocess through `icgraph.server.app.serve`, exactly as
`icgraph serve` runs it; tests talk to it over real HTTP.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

TOKEN = "test-update-token"

_LAUNCH = """
import json, sys
from pathlib import Path
from icgraph.config import Settings
from icgraph.server.app import serve
options = json.loads(sys.argv[1])
port = options.pop("port")
options["store"] = Path(options["store"])
if "build_dir" in options:
    options["build_dir"] = Path(options["build_dir"])
if "failed_token_limits" in options:
    options["failed_token_limits"] = tuple(options["failed_token_limits"])
if "federation_allowlist" in options:
    options["federation_allowlist"] = tuple(options["federation_allowlist"])
serve(Settings(**options), "127.0.0.1", port)
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class LiveServer:
    url: str
    store: Path
    token: str | None
    process: subprocess.Popen

    @property
    def sparql(self) -> str:
        return self.url + "/sparql"

    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def update(self, text: str) -> httpx.Response:
        response = httpx.post(
            self.url + "/update", content=text.encode(), headers={"Content-Type": "application/sparql-update", **self.auth()}, timeout=30
        )
        assert response.status_code == 204, response.text
        return response

    def alive(self) -> bool:
        return self.process.poll() is None


@contextlib.contextmanager
def running_server(store: Path, token: str | None = TOKEN, **settings):
    """Start a server over ``store`` with these Settings fields; stop it (and its workers) afterwards."""
    port = free_port()
    options = {
        "store": str(store),
        "update_token": token,
        "update_token_file": None,
        "union_default_graph": False,
        "query_workers": 2,
        "query_memory_mb": 1024,
        "port": port,
        **settings,
    }
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    log = open(store.parent / f"server-{port}.log", "wb")
    process = subprocess.Popen([sys.executable, "-c", _LAUNCH, json.dumps(options)], stdout=log, stderr=subprocess.STDOUT, env=env)
    server = LiveServer(f"http://127.0.0.1:{port}", store, token, process)
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError("server exited:\n" + (store.parent / f"server-{port}.log").read_text(errors="replace"))
            try:
                if httpx.get(server.sparql, params={"query": "ASK {}"}, timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start in 60 s")
            time.sleep(0.1)
        yield server
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        log.close()


def seed_store(store: Path, nquads: str) -> None:
    """Create ``store`` holding these N-Quads (in a subprocess, so no RocksDB lock lingers here)."""
    code = (
        "import sys, pyoxigraph as ox\n"
        "s = ox.Store(sys.argv[1])\n"
        "s.load(sys.stdin.buffer.read(), ox.RdfFormat.N_QUADS)\n"
        "s.flush()\n"
    )
    subprocess.run([sys.executable, "-c", code, str(store)], input=nquads.encode(), check=True)


EX = "http://example.org/"

#: A small dataset: two named graphs of people, one triple in the default graph.
PEOPLE = f"""
<{EX}alice> <http://xmlns.com/foaf/0.1/name> "Alice" <{EX}graph/people> .
<{EX}alice> <http://xmlns.com/foaf/0.1/knows> <{EX}bob> <{EX}graph/people> .
<{EX}bob> <http://xmlns.com/foaf/0.1/name> "Bob" <{EX}graph/people> .
<{EX}carol> <http://xmlns.com/foaf/0.1/name> "Carol" <{EX}graph/more> .
<{EX}dataset> <http://purl.org/dc/terms/title> "people" .
"""
