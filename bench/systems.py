"""The systems under test, each started as its own server process on 127.0.0.1.

- ``icgraph``: ``icgraph serve --store STORE`` (the endpoint at /sparql);
- ``oxigraph``: ``oxigraph serve-read-only --location STORE --union-default-graph`` (/query);
- ``rdflib-endpoint``: ``rdflib-endpoint serve DUMP`` (an rdflib Dataset with the union
  of the named graphs as its default graph, at /), from the TriG / N-Quads dump;
- ``virtuoso``: Debian's Virtuoso Open Source 7 (``virtuoso-t``, as tests/virtuoso_fixtures.py
  starts it) with the N-Quads dump bulk-loaded (``ld_dir`` + ``rdf_loader_run`` through
  ``isql-vt``), at /sparql; with no graph named, Virtuoso queries the union of all graphs;
- ``icgraph-virtuoso``: ``icgraph serve --store sparql+http://…/sparql`` over that Virtuoso
  (icgraph's pages and endpoint on a remote store, docs/triple-stores.md).

The floor (pyoxigraph in-process on the same store) needs no server: see bench.library.
"""

from __future__ import annotations

import json
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

SYSTEMS = ("floor", "icgraph", "oxigraph", "rdflib-endpoint", "virtuoso", "icgraph-virtuoso")
_EXECUTABLES = {
    "icgraph": "icgraph", "oxigraph": "oxigraph", "rdflib-endpoint": "rdflib-endpoint",
    "virtuoso": "virtuoso-t", "icgraph-virtuoso": "virtuoso-t",
}
PROBE = "ASK { ?s ?p ?o }"


def executable(name: str) -> str | None:
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else shutil.which(name)


def available(system: str) -> bool:
    if system in ("virtuoso", "icgraph-virtuoso") and shutil.which("isql-vt") is None:
        return False
    return system == "floor" or executable(_EXECUTABLES[system]) is not None


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


def icgraph_server(store: Path | str, port: int | None = None, extra: list[str] | None = None) -> Server:
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


def server_for(system: str, store: Path, dump: Path, running: dict[str, Server] | None = None) -> Server:
    if system == "icgraph":
        return icgraph_server(store)
    if system == "oxigraph":
        return oxigraph_server(store)
    if system == "rdflib-endpoint":
        return rdflib_server(dump)
    if system == "virtuoso":
        return virtuoso_server(Path(store).parent / "virtuoso", _nquads(dump))
    if system == "icgraph-virtuoso":
        virtuoso = (running or {}).get("virtuoso")
        if virtuoso is None:
            raise RuntimeError("icgraph-virtuoso needs the virtuoso system in the same run (--systems ...,virtuoso,icgraph-virtuoso)")
        port = free_port()
        command = [executable("icgraph"), "serve", "--store", "sparql+" + virtuoso.url, "--host", "127.0.0.1", "--port", str(port)]
        return Server("icgraph-virtuoso", command, f"http://127.0.0.1:{port}/sparql")
    raise ValueError(system)


def _nquads(dump: Path) -> Path:
    """The N-Quads form of a dump (a release's dumps/ holds icgraph.nq beside icgraph.trig)."""
    sibling = Path(dump).with_suffix(".nq")
    return sibling if sibling.exists() else Path(dump)


# ---------------------------------------------------------------------------
# Virtuoso (Debian's virtuoso-opensource), bulk-loaded once per scale
# ---------------------------------------------------------------------------

#: virtuoso.ini of a throw-away Virtuoso, shared by the benchmark and the remote-store tests
#: (tests/virtuoso_fixtures.py); `virtuoso_ini` fills it.
VIRTUOSO_INI = """\
[Database]
DatabaseFile = {db}/virtuoso.db
ErrorLogFile = {db}/virtuoso.log
LockFile = {db}/virtuoso.lck
TransactionFile = {db}/virtuoso.trx
xa_persistent_file = {db}/virtuoso.pxa
ErrorLogLevel = 7
FileExtend = 200
MaxCheckpointRemap = 2000
Striping = 0
TempStorage = TempDatabase

[TempDatabase]
DatabaseFile = {db}/virtuoso-temp.db
TransactionFile = {db}/virtuoso-temp.trx
MaxCheckpointRemap = 2000
Striping = 0

[Parameters]
ServerPort = {sql_port}
DisableUnixSocket = 1
DisableTcpSocket = 0
MaxClientConnections = {connections}
CheckpointInterval = {checkpoint}
CaseMode = 2
DirsAllowed = {dirs}
NumberOfBuffers = {buffers}
MaxDirtyBuffers = {dirty}
MaxQueryMem = {query_mem}
ThreadsPerQuery = 2
AsyncQueueMaxThreads = 10
; The transaction log one request may write, in bytes (0: no limit). A load's switch moves every
; graph in one request; Virtuoso's default of 50,000,000 refused it at 100x (4.7 M triples).
TransactionAfterImageLimit = {after_image}

[HTTPServer]
ServerPort = {http_port}
ServerRoot = {db}
MaxClientConnections = {connections}
ServerThreads = {connections}
EnabledDavVSP = 0
Charset = UTF-8

[SPARQL]
; Above any icgraph answer: Virtuoso cuts results at this many rows (icgraph refuses a cut answer).
ResultSetMaxRows = {max_rows}
MaxQueryCostEstimationTime = 0
; Virtuoso stops a query after this many seconds and answers what it has ("anytime query", marked
; by X-SQL-State headers, which icgraph refuses); 0: no limit.
MaxQueryExecutionTime = {max_seconds}
"""


def virtuoso_ini(db: Path, sql_port: int, http_port: int, *, dirs: tuple[Path, ...] = (), buffers: int = 10000,
                 dirty: int = 6000, query_mem: str = "256M", connections: int = 10, checkpoint: int = 60,
                 max_rows: int = 1_000_000, max_seconds: int = 15, after_image: int = 0) -> str:
    """The text of a virtuoso.ini for the database folder ``db``. The defaults suit a test server: a
    runaway query stops after ``max_seconds``. The benchmark sizes the buffers to the data and lifts the limits."""
    return VIRTUOSO_INI.format(
        db=db, sql_port=sql_port, http_port=http_port, dirs=", ".join(str(d) for d in (".", db, *dirs)), buffers=buffers,
        dirty=dirty, query_mem=query_mem, connections=connections, checkpoint=checkpoint, max_rows=max_rows,
        max_seconds=max_seconds, after_image=after_image,
    )


def virtuoso_buffers(triples_file: Path) -> int:
    """8 KiB buffers for a dump: about 3 KiB of buffer per quad of N-Quads (~150 bytes a line), at least 10,000."""
    size = Path(triples_file).stat().st_size
    return max(10_000, min(700_000, int(size / 150 * 3 / 8)))


@dataclass
class VirtuosoServer(Server):
    """virtuoso-t on a database folder that holds one dump, bulk-loaded at the first start."""

    folder: Path = Path(".")
    dump: Path | None = None  # None: start empty (to be loaded by `icgraph load`)
    sql_port: int = 0
    load_seconds: float | None = None

    def start(self, timeout: float = 120.0) -> "Server":
        super().start(timeout)
        if self.dump is None:
            return self
        marker = self.folder / "loaded.json"
        stamp = {"dump": str(self.dump.resolve()), "bytes": self.dump.stat().st_size, "mtime": self.dump.stat().st_mtime}
        if not marker.exists() or json.loads(marker.read_text()) != stamp:
            started = time.perf_counter()
            statement = (
                f"ld_dir('{self.dump.resolve().parent}', '{self.dump.name}', 'urn:icgraph:bench:default'); "
                "rdf_loader_run(); checkpoint;"
            )
            loaded = self.isql(statement, timeout=4 * 3600)
            errors = self.isql("select ll_file, ll_error from DB.DBA.LOAD_LIST where ll_error is not null;")
            if loaded.returncode != 0 or errors.returncode != 0 or "0 Rows." not in errors.stdout:
                self.stop()
                raise RuntimeError(f"Virtuoso bulk load failed: {loaded.stdout[-800:]} {loaded.stderr[-500:]} {errors.stdout[-800:]}")
            self.load_seconds = time.perf_counter() - started
            marker.write_text(json.dumps(stamp))
            (self.folder / "load-seconds.txt").write_text(f"{self.load_seconds:.1f}\n")
        return self

    def isql(self, statement: str, timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run(["isql-vt", str(self.sql_port), "dba", "dba", f"exec={statement}"], capture_output=True, text=True, timeout=timeout)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            try:  # a clean shutdown writes a checkpoint, so the next start need not replay a log
                self.isql("shutdown;", timeout=120)
            except subprocess.TimeoutExpired:
                pass
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                pass
        super().stop()


def virtuoso_server(folder: Path, dump: Path | None, port: int | None = None, size_of: Path | None = None) -> VirtuosoServer:
    """Virtuoso on ``folder``, bulk-loading ``dump`` at its first start (None: empty; its buffers sized for ``size_of``)."""
    folder = Path(folder).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    port, sql_port = port or free_port(), free_port()
    buffers = virtuoso_buffers(dump or size_of)
    (folder / "virtuoso.ini").write_text(virtuoso_ini(
        folder, sql_port, port, dirs=(Path(dump or size_of).resolve().parent,), buffers=buffers, dirty=buffers * 3 // 4,
        query_mem=f"{max(256, buffers // 500)}M", connections=20, checkpoint=0, max_rows=100_000_000, max_seconds=0,
    ), encoding="utf-8")
    command = [executable("virtuoso-t"), "+foreground", "+configfile", str(folder / "virtuoso.ini")]
    return VirtuosoServer("virtuoso", command, f"http://127.0.0.1:{port}/sparql", folder=folder, dump=Path(dump) if dump else None, sql_port=sql_port)
