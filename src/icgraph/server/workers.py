"""The worker processes that hold the store and run Oxigraph, so a runaway query can be stopped.

pyoxigraph cannot cancel a query, so queries never run in the web server's process:

- **Readers** (``Settings.query_workers`` processes, at least 2) each open the store with
  ``Store.read_only``, evaluate one query at a time, serialise the *whole* result with
  Oxigraph's writers (capped at ``Settings.max_result_bytes``) and send the bytes back. A
  query that outlives its time limit is stopped by killing its process (SIGKILL) and a fresh
  reader replaces it; the client gets 504, never a truncated 200. Each process runs under an
  address-space ceiling (``RLIMIT_AS`` = ``Settings.query_memory_mb``): a query that needs
  more aborts its own process only, and the client gets 503.
- **The server's own queries** (pages, facets, map, entity pages, search, the query library:
  `icgraph.server.prepared`) run on the same readers, through the same admission, as the job
  ``prepared`` (`StorePool.prepared`): the text of a ``icgraph/sparql`` file and its bindings as
  pyoxigraph terms (``substitutions``); the answer comes back as Python values (rows of terms,
  triples, a boolean), pickled and capped at ``max_result_bytes`` like any result.
- **Extension functions.** Every query on a reader, the public's and the server's, knows the
  text functions ``icgf:match`` and ``icgf:score`` (`icgraph.sparql.functions`, docs/sparql.md).
- **The writer** (only when an update token is set) is the one process that opens the store
  read-write. It runs SPARQL updates and Graph Store writes one at a time, under the same
  time and memory limits (Oxigraph writes are transactional, so killing it loses nothing).
- **Visibility of writes.** Opening a RocksDB store read-only while another process writes
  it is undefined behaviour, so with updates enabled the readers never open the live store:
  after every committed write the writer takes a checkpoint (``Store.backup``: hard links,
  milliseconds) into a private snapshot folder next to the store, and each reader switches to
  the newest snapshot before its next query. A write is therefore visible to every query that
  starts after the write's response; a snapshot is deleted once no reader has it open.
  Without an update token nothing writes, and readers open the store itself.
- Every worker process is moved into an empty network namespace when the OS allows
  (`security.isolate_network`), behind the parser check that refuses SERVICE and LOAD.
- Admission: a request waits at most ``Settings.queue_timeout`` seconds for a free reader,
  and at most ``Settings.max_waiting_requests`` may wait; beyond that, 503 with Retry-After.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import gc
import logging
import os
import resource
import shutil
import signal
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from icgraph.config import Settings
from icgraph.release import PARTIAL_PREFIX, Release, current_release, hold, is_release, let_go
from icgraph.server.lifeline import die_with_parent
from icgraph.server.origin import current as current_origin
from icgraph.server.processes import worker_context
from icgraph.store import holds_merge, merge_named_graphs, prepare_writable, release_holds_merge
from icgraph.server.security import EndpointError
from icgraph.sparql.functions import CUSTOM_FUNCTIONS

log = logging.getLogger("icgraph.server")

READER = "reader"
WRITER = "writer"
#: The content type of a `prepared` reply that carries Python values (pickled by our own worker).
PICKLED = "application/x-icgraph-values"


class WorkerTimedOut(Exception):
    pass


class WorkerDied(Exception):
    """The worker process exited mid-job; ``args[0]`` is its exit code."""

    @property
    def out_of_memory(self) -> bool:
        return death_reason(self.args[0] if self.args else None) == "memory"


def death_reason(exitcode: int | None) -> str:
    """Why a worker process ended, from its exit code: memory, killed, or crashed.

    Rust aborts (SIGABRT) when an allocation fails under the RLIMIT_AS ceiling, and a failed
    allocation in C code may end in SIGSEGV; SIGKILL comes from outside (the kernel's
    out-of-memory killer, an operator, or this pool stopping a query).
    """
    if exitcode in (-signal.SIGABRT, -signal.SIGSEGV):
        return "memory"
    if exitcode == -signal.SIGKILL:
        return "killed"
    return "crashed"


#: Why a reader was replaced, as the server's metrics count it.
DEATHS = ("timeout", "abandoned", "memory", "killed", "crashed", "died-idle")


# ---------------------------------------------------------------------------
# Inside a worker process
# ---------------------------------------------------------------------------


#: The size of the pieces a serialised result is kept and sent in (`_CappedBuffer`).
CHUNK_BYTES = 1 << 20


class _CappedBuffer:
    """A binary sink for Oxigraph's writers that gives up past ``cap`` bytes.

    Oxigraph writes many small pieces; they are gathered into chunks of `CHUNK_BYTES`, and a large
    result is sent to the server chunk by chunk (`chunks`) rather than joined into one copy.
    """

    def __init__(self, cap: int):
        self.cap = cap
        self.size = 0
        self.parts: list[bytes] = []
        self.current = bytearray()
        self.overflowed = False

    def write(self, data) -> int:
        self.size += len(data)
        if self.size > self.cap:
            self.overflowed = True
            raise OverflowError("result too large")
        self.current += data
        if len(self.current) >= CHUNK_BYTES:
            self.parts.append(bytes(self.current))
            self.current = bytearray()
        return len(data)

    def flush(self) -> None:
        pass

    def chunks(self) -> list[bytes]:
        if self.current:
            self.parts.append(bytes(self.current))
            self.current = bytearray()
        return self.parts

    def getvalue(self) -> bytes:
        chunks = self.chunks()
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _error(status: int, message: str, details: dict | None = None) -> tuple:
    return ("error", status, message, details)


def _syntax_error(text: str, parser_message: str, what: str) -> tuple:
    """A 400 that explains a syntax error: line, column, token at fault and a hint (`query_errors.explain`)."""
    from icgraph.server.query_errors import explain

    problem = explain(text, parser_message, what)
    return _error(400, problem.message(), problem.as_json())


class _WorkerState:
    def __init__(self, role: str, config: dict[str, Any]):
        self.role = role
        self.config = config
        self.store = None
        self.opened: str | None = None
        #: Whether the open store's default graph holds the merge of its named graphs
        #: (`icgraph.store`); if not (a store made before), queries fall back to Oxigraph's union.
        self.merged = False
        self.isolated = False

    # -- store handles -------------------------------------------------------

    def reader_store(self, snapshot: str):
        from pyoxigraph import Store

        if snapshot != self.opened:
            self.store = None
            gc.collect()  # close the old snapshot before opening the new one
            self.store = Store.read_only(snapshot)
            self.opened = snapshot
            # a release's store (or one being written: the aggregates are computed before the release is listed)
            # is checked in O(1) (release_holds_merge); any other store triple by triple
            folder = Path(snapshot).parent
            by_writer = is_release(folder) or folder.name.startswith(PARTIAL_PREFIX)
            self.merged = release_holds_merge(self.store) if by_writer else holds_merge(self.store)
        return self.store

    def writer_store(self):
        from pyoxigraph import Store

        if self.store is None:
            Path(self.config["store"]).mkdir(parents=True, exist_ok=True)
            self.store = Store(self.config["store"])
            if self.config["union_default_graph"] and not holds_merge(self.store):
                merge_named_graphs(self.store)
        return self.store

    def write_keeping_merge(self, write) -> tuple:
        """Run ``write()`` (a change to the writer's store), then make the default graph the merge again.

        A checkpoint taken before the write (hard links) says which triples of the default graph
        came from a named graph, so those the write left unstated leave the default graph too.
        """
        if not self.config["union_default_graph"]:
            answer = write()
        else:
            answer = self._write_and_merge(write)
        if answer[0] == "ok":
            answer[1]["snapshot"] = self.take_snapshot()
        return answer

    def _write_and_merge(self, write) -> tuple:
        from pyoxigraph import Store

        store = self.writer_store()
        before = Path(self.config["snapshot_dir"]) / f"before-{uuid.uuid4().hex}"
        store.backup(str(before))
        try:
            answer = write()
            if answer[0] == "ok":
                merge_named_graphs(store, Store.read_only(str(before)))
                gc.collect()  # close the checkpoint before it is removed
        finally:
            shutil.rmtree(before, ignore_errors=True)
        return answer

    def take_snapshot(self) -> str:
        target = Path(self.config["snapshot_dir"]) / uuid.uuid4().hex
        self.writer_store().backup(str(target))
        return str(target)

    # -- helpers ---------------------------------------------------------------

    def serialise(self, results, fmt, chunked: bool = False) -> tuple:
        """The whole result written in ``fmt`` (503 past ``max_result_bytes``, before any byte is sent);
        ``chunked``: as ``parts`` (a list of chunks, sent one by one) when it is larger than one chunk."""
        sink = _CappedBuffer(self.config["max_result_bytes"])
        try:
            results.serialize(sink, fmt.oxigraph)
        except Exception:
            if sink.overflowed:
                return _error(
                    503, f"The result is larger than this endpoint's limit of {self.config['max_result_bytes']} bytes; add a LIMIT or narrow the query."
                )
            raise
        if chunked and len(sink.chunks()) > 1:
            return ("ok", {"parts": sink.chunks(), "content_type": fmt.content_type})
        return ("ok", {"body": sink.getvalue(), "content_type": fmt.content_type})

    def syntax_error_from_oxigraph(self, text: str, update: bool) -> str | None:
        """Oxigraph's own syntax message (with its line:column) for text rdflib could not parse.

        Oxigraph parses before it evaluates, so a syntax error stops it before any work; when
        the text is valid for Oxigraph, it is evaluated against an empty in-memory store, and
        only in a network-isolated process.
        """
        from pyoxigraph import Store

        if not self.isolated:
            return None
        try:
            if update:
                Store().update(text)
            else:
                Store().query(text)
        except SyntaxError as error:
            return str(error)
        except Exception:
            return None
        return None

    # -- operations --------------------------------------------------------------

    def query(self, job: dict) -> tuple:
        from pyoxigraph import NamedNode, QueryBoolean, QuerySolutions
        from pyparsing import ParseException

        from icgraph.server import negotiation, security

        text = job["query"]
        try:
            found = security.inspect_request_query(text)
        except ParseException as error:
            message = self.syntax_error_from_oxigraph(text, update=False)
            if message is None and not self.isolated:
                message = security.parse_error_message(error)
            if message is not None:
                return _syntax_error(text, message, "query")
            found = None  # valid for Oxigraph, beyond rdflib's grammar; safe here (no network)
        settings = _settings_view(self.config)
        if found is not None:
            try:
                security.check_outbound(found, settings)
            except security.EndpointError as refused:
                return _error(refused.status, refused.message)
            kind = negotiation.RESULTS if found.form in ("SELECT", "ASK") else negotiation.GRAPH
            try:
                fmt = negotiation.choose_format(kind, job.get("accept"), job.get("format"))
            except negotiation.NotAcceptable as error:
                return _error(406, str(error))

        kwargs: dict[str, Any] = {}
        default_graphs, named_graphs = job.get("default_graphs"), job.get("named_graphs")
        if default_graphs or named_graphs:
            # SPARQL 1.1 Protocol §2.1.4: the protocol dataset replaces FROM / FROM NAMED.
            kwargs["default_graph"] = [NamedNode(iri) for iri in default_graphs or []]
            kwargs["named_graphs"] = [NamedNode(iri) for iri in named_graphs or []]
        store = self.reader_store(job["snapshot"])
        if not (default_graphs or named_graphs) and self.config["union_default_graph"] and not self.merged \
                and not (found and found.has_dataset_clause):
            kwargs["use_default_graph_as_union"] = True

        try:
            results = store.query(text, base_iri=job.get("base_iri"), custom_functions=CUSTOM_FUNCTIONS, **kwargs)
        except SyntaxError as error:
            return _syntax_error(text, str(error), "query")
        if found is None:
            kind = negotiation.RESULTS if isinstance(results, (QuerySolutions, QueryBoolean)) else negotiation.GRAPH
            try:
                fmt = negotiation.choose_format(kind, job.get("accept"), job.get("format"))
            except negotiation.NotAcceptable as error:
                return _error(406, str(error))
        return self.serialise(results, fmt, chunked=True)

    def prepared(self, job: dict) -> tuple:
        """A trusted query of the server (`icgraph.server.prepared`) with its substitutions (RDF terms).

        Answers with the results as Python values (rows of terms, triples, a boolean), pickled
        and capped like any result; with ``format``, serialised like a /sparql answer instead.
        """
        import pickle

        from pyoxigraph import Variable

        from icgraph.server import negotiation
        from icgraph.sparql import as_values

        substitutions = {Variable(name): term for name, term in (job.get("substitutions") or {}).items()}
        store = self.reader_store(job["snapshot"])
        try:
            results = store.query(
                job["query"], use_default_graph_as_union=not self.merged, substitutions=substitutions or None,
                custom_functions=CUSTOM_FUNCTIONS,
            )
        except SyntaxError as error:  # a broken query file: the server's fault, not the client's
            return _error(500, f"The server's query does not parse: {error}")
        more = None
        if job.get("page"):
            from icgraph.server.paging import page_of

            results, more = page_of(results, *job["page"], job["query"])
        if job.get("format"):
            from icgraph.queries import without_variables

            fmt = next(f for f in negotiation.RESULT_FORMATS + negotiation.GRAPH_FORMATS if f.key == job["format"])
            hidden = set(job.get("hide") or ())
            if job.get("pages"):  # the whole answer as pages of that many rows (a release keeps a too large one so)
                from icgraph.server.paging import pages_of

                bodies, rows = pages_of(results, job["pages"], job["query"], fmt, lambda page: without_variables(page, hidden))
                return ("ok", {"pages": bodies, "rows": rows, "content_type": fmt.content_type})
            reply = self.serialise(without_variables(results, hidden), fmt)
            if more is not None and reply[0] == "ok":
                reply[1]["more"] = more
            return reply
        body = pickle.dumps(as_values(results), protocol=pickle.HIGHEST_PROTOCOL)
        if len(body) > self.config["max_result_bytes"]:
            return _error(503, f"The result is larger than this endpoint's limit of {self.config['max_result_bytes']} bytes.")
        return ("ok", {"body": body, "content_type": PICKLED})

    def graph_get(self, job: dict) -> tuple:
        from pyoxigraph import DefaultGraph, NamedNode

        from icgraph.server import negotiation

        try:
            fmt = negotiation.choose_format(negotiation.GRAPH, job.get("accept"), job.get("format"))
        except negotiation.NotAcceptable as error:
            return _error(406, str(error))
        store = self.reader_store(job["snapshot"])
        graph = job.get("graph")
        if graph is None and self.config["union_default_graph"] and not self.merged:
            results = store.query(_server_query("union-construct"), use_default_graph_as_union=True)
            return self.serialise(results, fmt)
        name = DefaultGraph() if graph is None else NamedNode(graph)
        if graph is not None and not store.contains_named_graph(name):
            return _error(404, f"No graph <{graph}> in this store.")

        class _Dump:
            def serialize(self, sink, rdf_format):
                store.dump(sink, rdf_format, from_graph=name)

        return self.serialise(_Dump(), fmt)

    def statistics(self, job: dict) -> tuple:
        store = self.reader_store(job["snapshot"])
        counts = {
            str(row["g"].value): int(row["n"].value)
            for row in store.query(_server_query("graph-triple-counts"))
        }
        for name in store.named_graphs():
            counts.setdefault(str(name.value), 0)
        union = self.config["union_default_graph"] and not self.merged
        default = next(iter(store.query(_server_query("union-triples"), use_default_graph_as_union=union)))
        return ("ok", {"graphs": sorted(counts.items()), "default_triples": int(default["n"].value)})

    def update(self, job: dict) -> tuple:
        return self.write_keeping_merge(lambda: self._update(job))

    def graph_write(self, job: dict) -> tuple:
        return self.write_keeping_merge(lambda: self._graph_write(job))

    def _update(self, job: dict) -> tuple:
        from pyparsing import ParseException

        from icgraph.server import security

        text = job["update"]
        using, using_named = job.get("using") or [], job.get("using_named") or []
        try:
            found = security.inspect_update(text)
        except ParseException as error:
            message = self.syntax_error_from_oxigraph(text, update=True) or security.parse_error_message(error)
            return _syntax_error(text, message, "update")
        try:
            text = security.prepare_update(text, found, using, using_named, _settings_view(self.config))
        except security.EndpointError as refused:
            return _error(refused.status, refused.message)
        try:
            self.writer_store().update(text, base_iri=job.get("base_iri"))
        except SyntaxError as error:
            return _syntax_error(text, str(error), "update")
        return ("ok", {})

    def _graph_write(self, job: dict) -> tuple:
        from pyoxigraph import DefaultGraph, NamedNode, Quad, RdfFormat, parse

        store = self.writer_store()
        graph = job.get("graph")
        name = DefaultGraph() if graph is None else NamedNode(graph)
        existed = graph is None or store.contains_named_graph(name)
        if job["op"] == "graph_delete":
            if not existed:
                return _error(404, f"No graph <{graph}> in this store.")
            if graph is None:
                store.clear_graph(name)
            else:
                store.remove_graph(name)
            return ("ok", {"created": False})

        quads = []
        for data, media_type in job["parts"]:
            rdf_format = RdfFormat.from_media_type(media_type or "")
            if rdf_format is None:
                return _error(415, f"Cannot read RDF sent as {media_type!r}; send Turtle, N-Triples, RDF/XML, JSON-LD, TriG or N-Quads.")
            try:
                for quad in parse(data, rdf_format, base_iri=job.get("base_iri") or graph, rename_blank_nodes=True):
                    quads.append(Quad(quad.subject, quad.predicate, quad.object, name))
            except (SyntaxError, ValueError) as error:
                return _error(400, f"Cannot parse the {media_type} body: {error}")
        if job["op"] == "graph_put":
            if graph is None:
                store.clear_graph(name)
            elif existed:
                store.remove_graph(name)
        if graph is not None:
            store.add_graph(name)
        store.extend(quads)
        return ("ok", {"created": not existed})


def _server_query(name: str) -> str:
    from icgraph import sparql

    return sparql.load(name)


@dataclass
class _SettingsView:
    """The few settings a worker needs, rebuilt from plain data."""

    federation_allowlist: tuple[str, ...] = ()


def _settings_view(config: dict) -> Any:
    return _SettingsView(tuple(config["federation_allowlist"]))


def _create_store(path: str) -> None:
    """Create an empty store at ``path`` (run in a short-lived process)."""
    from pyoxigraph import Store

    Path(path).mkdir(parents=True, exist_ok=True)
    store = Store(path)
    store.flush()


def _merge_plain_store(path: str) -> None:
    """Write the merge of the named graphs into the default graph of the plain store at ``path``, if missing
    (run in a short-lived process, so no RocksDB handle lingers in the server)."""
    from pyoxigraph import Store

    if holds_merge(Store.read_only(path)):
        return
    gc.collect()
    store = Store(path)
    merge_named_graphs(store)
    store.flush()


def worker_main(conn, role: str, config: dict[str, Any]) -> None:
    """The loop of one worker process: receive a job, answer it, repeat until the pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the server shuts workers down itself
    die_with_parent()  # the fork server; it ends with the web server (server/lifeline.py)
    state = _WorkerState(role, config)
    if not config["federation_allowlist"]:
        from icgraph.server.security import isolate_network

        state.isolated = isolate_network()
    try:
        if role == WRITER:
            state.writer_store()
        else:
            state.reader_store(config["snapshot"])
    except Exception as error:  # noqa: BLE001 - reported to the server, which refuses to start
        conn.send(("failed", f"{type(error).__name__}: {error}"))
        return
    # The ceiling comes after the first open, once RocksDB has started its background threads
    # (thread stacks and malloc arenas take address space, not memory).
    limit = config["memory_mb"] * 1024 * 1024
    if limit > 0:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    conn.send(("ready", state.isolated))
    handlers = {
        "query": state.query,
        "prepared": state.prepared,
        "graph_get": state.graph_get,
        "statistics": state.statistics,
        "update": state.update,
        "graph_put": state.graph_write,
        "graph_post": state.graph_write,
        "graph_delete": state.graph_write,
        "snapshot": lambda job: ("ok", {"snapshot": state.take_snapshot()}),
    }
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            break
        if job is None:
            break
        try:
            reply = handlers[job["op"]](job)
        except MemoryError:
            reply = _error(503, _memory_message(config))
        except SyntaxError as error:
            reply = _error(400, str(error))
        except ConnectionError as error:
            reply = _error(502, f"A federated SERVICE call failed: {error}")
        except OSError as error:
            reply = _error(500, f"Storage error: {error}")
        except Exception as error:  # noqa: BLE001 - Oxigraph's evaluation errors are the query's
            reply = _error(400, f"The query could not be evaluated: {error}")
        try:
            _send_reply(conn, reply)
        except (OSError, ValueError):
            break
    state.store = None
    gc.collect()


#: A reply body up to this size goes in the same message as its header (one write, one wake-up of the server).
ONE_MESSAGE_BYTES = 64 * 1024


def _send_reply(conn, reply: tuple) -> None:
    """Send a reply; a result body past `ONE_MESSAGE_BYTES` goes as its own raw message after a small header.

    The server reads the header in its event loop and then the body, inline when it is small
    and in a thread when it is large, so no pickling of large result bytes and no thread hop for
    the common case. A small body is pickled with its header: two messages would wake the server
    twice, and the server, woken by the header, would wait in the pipe for the body.
    """
    if reply[0] == "ok" and isinstance(reply[1].get("body"), bytes) and len(reply[1]["body"]) <= ONE_MESSAGE_BYTES:
        conn.send(reply)
    elif reply[0] == "ok" and isinstance(reply[1].get("parts"), list):
        meta = dict(reply[1])
        parts = meta.pop("parts")
        conn.send(("parts", meta, [len(part) for part in parts]))
        while parts:
            conn.send_bytes(parts.pop(0))  # each chunk freed once sent
    elif reply[0] == "ok" and isinstance(reply[1].get("body"), bytes):
        meta = dict(reply[1])
        body = meta.pop("body")
        conn.send(("body", meta, len(body)))
        conn.send_bytes(body)
    else:
        conn.send(reply)


def _death_message(died: WorkerDied, config: dict) -> str:
    """What to tell the client whose query's process died, by the cause its exit code shows."""
    reason = death_reason(died.args[0] if died.args else None)
    if reason == "memory":
        return _memory_message(config)
    if reason == "killed":
        return ("The query's process was killed from outside (the system ran short of memory, or an operator "
                "stopped it); please retry, and narrow the query if it happens again.")
    return f"The query's process crashed (exit code {died.args[0] if died.args else '?'}); please retry, and report it if it happens again."


def _memory_message(config: dict) -> str:
    return (
        f"The query needed more than this endpoint's {config['memory_mb']} MiB of working memory and was stopped; "
        "add a LIMIT, avoid unconstrained cross products or ORDER BY over huge intermediate results."
    )


# ---------------------------------------------------------------------------
# In the server process
# ---------------------------------------------------------------------------


INLINE_BODY_BYTES = 256 * 1024  # a larger reply body is read in a thread, not in the event loop


@dataclass
class _Worker:
    role: str
    process: Any
    conn: Any
    snapshot: str | None = None
    isolated: bool = False
    busy: asyncio.Lock = field(default_factory=asyncio.Lock)
    #: The client whose query it runs now (None when idle), and whether that client hung up.
    client: str | None = None
    assigned: bool = False
    abandoned: bool = False

    async def ask(self, job: dict, timeout: float, threads: concurrent.futures.Executor) -> tuple:
        """Send one job and wait for its reply without a thread: the event loop watches the pipe.

        Raises WorkerTimedOut when no reply starts within ``timeout`` seconds (the worker sends
        only complete answers, so the first byte means the job is done), WorkerDied when the
        process exits mid-job.
        """
        loop = asyncio.get_running_loop()
        async with self.busy:
            try:
                self.conn.send(job)
                ready = loop.create_future()
                fd = self.conn.fileno()
                loop.add_reader(fd, lambda: ready.done() or ready.set_result(None))
                try:
                    await asyncio.wait_for(ready, timeout)
                except asyncio.TimeoutError:
                    raise WorkerTimedOut() from None
                finally:
                    loop.remove_reader(fd)
                    os.set_blocking(fd, True)  # uvloop makes a watched descriptor non-blocking
                reply = self.conn.recv()
                if reply[0] == "parts":
                    _, meta, sizes = reply
                    receive = lambda: [self.conn.recv_bytes() for _ in sizes]  # noqa: E731
                    parts = receive() if sum(sizes) <= INLINE_BODY_BYTES else await loop.run_in_executor(threads, receive)
                    return ("ok", {**meta, "parts": parts})
                if reply[0] != "body":
                    return reply
                _, meta, size = reply
                if size <= INLINE_BODY_BYTES:
                    body = self.conn.recv_bytes()
                else:
                    body = await loop.run_in_executor(threads, self.conn.recv_bytes)
                return ("ok", {**meta, "body": body})
            except (EOFError, BrokenPipeError, ConnectionResetError):
                await loop.run_in_executor(threads, self.process.join, 2)
                raise WorkerDied(self.process.exitcode) from None

    def kill(self) -> None:
        try:
            if self.process.is_alive():
                self.process.kill()
            self.process.join(5)
        finally:
            self.conn.close()


class StorePool:
    """Readers, the optional writer, and the snapshots that connect them."""

    def __init__(self, settings: Settings, writable: bool):
        self.settings = settings
        self.writable = writable
        #: The release served (None for a plain store folder), followed as `icgraph build` or
        #: `icgraph rollback` moves the current link (`_follow_release`); pinned while updates are on.
        self.release: Release | None = None
        self._lease: Path | None = None
        self._checked = 0.0
        self._store_folder = str(settings.store)
        self.snapshot = str(settings.store)
        self.network_isolated = False
        self._context = worker_context()
        self._readers: list[_Worker] = []
        self._idle: list[_Worker] = []
        self._waiters: collections.deque[tuple[asyncio.Future, str | None]] = collections.deque()
        #: Readers each client holds now; a client may hold all but one (`_share`).
        self._held: collections.Counter[str | None] = collections.Counter()
        #: Replaced readers by reason (`DEATHS`), abandoned queries, busy refusals: the metrics.
        self.counters: collections.Counter[str] = collections.Counter()
        self._writer: _Worker | None = None
        self._write_lock: asyncio.Lock | None = None
        self._snapshot_dir: Path | None = None
        self._threads = concurrent.futures.ThreadPoolExecutor(max_workers=settings.query_workers + 4, thread_name_prefix="icgraph-pool")
        self._statistics: tuple[str, dict] | None = None
        self._aggregates_of = None
        from icgraph.server.result_cache import ResultCache

        #: Answers kept until the next release (`Settings.result_cache_bytes`).
        self.results = ResultCache(settings.result_cache_bytes)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False

    # -- lifecycle ---------------------------------------------------------------

    def _config(self, snapshot: str | None = None) -> dict[str, Any]:
        s = self.settings
        return {
            "store": self._store_folder,
            "snapshot": snapshot or self.snapshot,
            "snapshot_dir": str(self._snapshot_dir) if self._snapshot_dir else None,
            "memory_mb": s.query_memory_mb,
            "max_result_bytes": s.max_result_bytes,
            "federation_allowlist": list(s.federation_allowlist),
            "union_default_graph": s.union_default_graph,
        }

    def _spawn(self, role: str) -> _Worker:
        parent, child = self._context.Pipe()
        process = self._context.Process(
            target=worker_main, args=(child, role, self._config()), name=f"icgraph-{role}", daemon=True
        )
        for attempt in range(5):
            try:
                process.start()
                break
            except (EOFError, ConnectionError):
                # The fork server asks to die with the *thread* that started it (lifeline.py), and
                # multiprocessing may hand us one that is being killed as that thread ends: once it
                # is reaped, `start` launches a fresh fork server.
                if attempt == 4:
                    raise
                time.sleep(0.2 * (attempt + 1))
                process = self._context.Process(
                    target=worker_main, args=(child, role, self._config()), name=f"icgraph-{role}", daemon=True
                )
        child.close()
        worker = _Worker(role, process, parent, snapshot=self.snapshot)
        if not parent.poll(60):
            worker.kill()
            raise RuntimeError(f"The {role} process did not start within 60 s.")
        try:
            status, detail = parent.recv()
        except EOFError:
            worker.kill()
            raise RuntimeError(f"The {role} process exited while opening the store {self.settings.store}.") from None
        if status != "ready":
            worker.kill()
            raise RuntimeError(f"The {role} process could not open the store {self.settings.store}: {detail}")
        worker.isolated = detail
        return worker

    @property
    def release_id(self) -> str:
        """What caches are keyed by: the release id, or the snapshot of a plain or written store."""
        self._follow_release()
        if self.release is not None and not self.writable:
            return self.release.id
        return f"{self.release.id + '+' if self.release else ''}{Path(self.snapshot).name}"

    def _follow_release(self) -> None:
        """Serve the release the current link names now (a readlink at most once a second)."""
        now = time.monotonic()
        if self.writable or self.release is None or now - self._checked < 1.0:
            return
        self._checked = now
        latest = current_release(self.settings.store, self.settings.build_dir)
        if latest is None or latest.id == self.release.id:
            return
        log.info("Serving release %s (was %s)", latest.id, self.release.id)
        self.release = latest
        self.snapshot = str(latest.store)
        self._statistics = None
        self._lease = hold(self.settings.store, self.settings.build_dir, latest)

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._write_lock = asyncio.Lock()
        self.release = current_release(self.settings.store, self.settings.build_dir)
        if self.writable:
            self._store_folder = str(prepare_writable(self.settings.store))
        elif self.release is not None:
            self._store_folder = str(self.release.store)
        else:
            self._store_folder = str(self.settings.store)
        self.snapshot = self._store_folder
        self._lease = hold(self.settings.store, self.settings.build_dir, self.release)
        store = Path(self._store_folder)
        store.parent.mkdir(parents=True, exist_ok=True)
        if self.writable:
            self._snapshot_dir = Path(tempfile.mkdtemp(prefix=f".{store.name}.snapshots-", dir=store.parent))
            self._writer = await self._in_thread(self._spawn, WRITER)
            status, reply = (await self._writer.ask({"op": "snapshot"}, 60, self._threads))[:2]
            if status != "ok":
                raise RuntimeError(f"Cannot snapshot the store: {reply}")
            self.snapshot = reply["snapshot"]
        elif not (store / "CURRENT").exists():
            process = self._context.Process(target=_create_store, args=(str(store),), daemon=True)
            process.start()
            await self._in_thread(process.join, 60)
        elif self.release is None and self.settings.union_default_graph:
            # A plain store folder gets the merge of its named graphs in its default graph once
            # (a release has it already); if it cannot be written, readers fall back to the union.
            process = self._context.Process(target=_merge_plain_store, args=(str(store),), daemon=True)
            process.start()
            await self._in_thread(process.join, 300)
            if process.exitcode != 0:
                log.warning("Could not write the merge of the named graphs into %s; queries use Oxigraph's union "
                            "(a triple stated in two graphs is matched twice).", store)
        # The server answers once two readers are up; the others (one per core plus one by default)
        # start beside its first queries and join the pool as they come (`_add_reader`).
        count = max(2, self.settings.query_workers)
        self._readers = list(await asyncio.gather(*(self._in_thread(self._spawn, READER) for _ in range(2))))
        self._idle = list(self._readers)
        for worker in self._readers:
            self._watch(worker)
        for _ in range(count - 2):
            self._threads.submit(self._start_reader)
        self.network_isolated = all(w.isolated for w in self._readers) and (self._writer is None or self._writer.isolated)
        if not self.settings.federation_allowlist and not self.network_isolated:
            log.warning("Worker processes could not be taken off the network; SERVICE/LOAD are refused by the parser check only.")

    async def close(self) -> None:
        self._closed = True
        for waiter in self._waiters:
            if not waiter.done():
                waiter.cancel()
        if self._writer is not None:
            writer = self._writer
            try:
                writer.conn.send(None)
                await self._in_thread(writer.process.join, 10)
            except OSError:
                pass
            writer.kill()
        for worker in list(self._readers):
            self._forget(worker)
            await self._in_thread(worker.kill)
        self._threads.shutdown(wait=False, cancel_futures=True)
        let_go(self._lease)
        if self._snapshot_dir is not None:
            shutil.rmtree(self._snapshot_dir, ignore_errors=True)

    async def _in_thread(self, function, *args):
        return await asyncio.get_running_loop().run_in_executor(self._threads, function, *args)

    # -- admission ---------------------------------------------------------------

    def _busy(self) -> EndpointError:
        self.counters["busy"] += 1
        running = len(self._readers) - len(self._idle)
        return EndpointError(
            503,
            f"The endpoint is busy ({running} queries running, {len(self._waiters)} waiting); please retry shortly.",
            {"Retry-After": "5"},
        )

    def _share(self) -> int:
        """How many readers one client may hold at once: all but one, so another client always finds one."""
        return max(1, max(2, self.settings.query_workers) - 1)

    def _may_take(self, client: str | None) -> bool:
        return client is None or self._held[client] < self._share()

    def _assign(self, worker: _Worker, client: str | None) -> _Worker:
        worker.client, worker.assigned, worker.abandoned = client, True, False
        self._held[client] += 1
        return worker

    def _unassign(self, worker: _Worker) -> None:
        if worker.assigned:
            self._held[worker.client] -= 1
            if self._held[worker.client] <= 0:
                del self._held[worker.client]
        worker.client, worker.assigned = None, False

    async def _acquire(self, client: str | None = None) -> _Worker:
        if self._closed:
            raise EndpointError(503, "The endpoint is shutting down.", {"Retry-After": "30"})
        if self._idle and self._may_take(client) and not any(self._may_take(c) for _, c in self._waiters):
            return self._assign(self._idle.pop(), client)
        if len(self._waiters) >= self.settings.max_waiting_requests:
            raise self._busy()
        waiter = self._loop.create_future()
        entry = (waiter, client)
        self._waiters.append(entry)
        try:
            return await asyncio.wait_for(asyncio.shield(waiter), self.settings.queue_timeout)
        except asyncio.TimeoutError:
            if waiter.done() and not waiter.cancelled():
                return waiter.result()
            waiter.cancel()
            raise self._busy() from None
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._release(waiter.result())
            waiter.cancel()
            raise
        finally:
            if entry in self._waiters:
                self._waiters.remove(entry)

    def _release(self, worker: _Worker) -> None:
        """Give a free reader to the first waiter whose client may take one more, else keep it idle."""
        self._unassign(worker)
        for entry in list(self._waiters):
            waiter, client = entry
            if waiter.done():
                self._waiters.remove(entry)
                continue
            if self._may_take(client):
                self._waiters.remove(entry)
                waiter.set_result(self._assign(worker, client))
                return
        self._idle.append(worker)

    def _finished(self, worker: _Worker, task: asyncio.Task) -> None:
        """A reader's job ended: give the worker back, or replace it (saying why).

        A reader whose client hung up has been sent a kill (in a thread): it is replaced even when its reply
        came first, or the kill would land on the next client's query (a 503 "killed from outside")."""
        error = task.exception() if not task.cancelled() else None
        if isinstance(error, (WorkerTimedOut, WorkerDied)) or worker.abandoned:
            if worker.abandoned:
                reason = "abandoned"
            elif isinstance(error, WorkerTimedOut):
                reason = "timeout"
            else:
                reason = death_reason(error.args[0] if error.args else None)
            self.counters[reason] += 1
            log.warning("Query process %s replaced (%s)", worker.process.pid, reason)
            self._unassign(worker)
            self._forget(worker)
            self._threads.submit(self._replace, worker)
        else:
            self._release(worker)
        self._collect_snapshots()

    def _forget(self, worker: _Worker) -> None:
        if worker in self._readers:
            self._readers.remove(worker)
        if worker in self._idle:
            self._idle.remove(worker)
        try:
            self._loop.remove_reader(worker.process.sentinel)
        except (ValueError, OSError):
            pass

    def _watch(self, worker: _Worker) -> None:
        """Notice a reader that dies while idle (its process sentinel becomes readable) and replace it at once."""
        self._loop.add_reader(worker.process.sentinel, self._died, worker)

    def _died(self, worker: _Worker) -> None:
        self._loop.remove_reader(worker.process.sentinel)
        if worker not in self._idle:
            return  # busy: its job notices the death and `_finished` replaces it
        worker.process.join(0)
        reason = death_reason(worker.process.exitcode)
        self.counters["died-idle"] += 1
        log.warning("Idle query process %s died (%s, exit code %s); starting another", worker.process.pid, reason, worker.process.exitcode)
        self._forget(worker)
        self._threads.submit(self._replace, worker)

    def _replace(self, worker: _Worker) -> None:
        """Kill a reader and start a fresh one (in a thread)."""
        worker.kill()
        self._start_reader()

    def _start_reader(self) -> None:
        """Start a reader (in a thread) and give it to the pool."""
        if self._closed:
            return
        try:
            fresh = self._spawn(READER)
        except RuntimeError:
            log.exception("Could not start a query worker")
            return
        try:
            self._loop.call_soon_threadsafe(self._add_reader, fresh)
        except RuntimeError:  # the pool closed and its event loop ended meanwhile
            fresh.kill()

    def _add_reader(self, worker: _Worker) -> None:
        if self._closed:
            self._threads.submit(worker.kill)
            return
        self._readers.append(worker)
        self.network_isolated = self.network_isolated and worker.isolated
        self._watch(worker)
        self._release(worker)

    # -- reading -----------------------------------------------------------------

    async def read(self, job: dict, timeout: float) -> dict:
        """Run a read job (query, prepared, graph_get, statistics) on a reader; raise EndpointError on failure.

        A query's or server query's reply is kept in the result cache until the next release
        (`icgraph.server.result_cache`), and answered from there when asked again.
        """
        self._follow_release()
        key = self.results.key(self.release_id, job)
        reply = self.results.get(key)
        if reply is None:
            reply = await self._read(job, timeout)
            self.results.put(key, reply)
        return reply

    async def _read(self, job: dict, timeout: float) -> dict:
        origin = current_origin()
        worker = await self._acquire(origin.client if origin else None)
        if origin is not None and origin.gone().done():  # hung up while waiting: nothing to run
            self.counters["abandoned-queries"] += 1
            self._release(worker)
            raise EndpointError(499, "The client closed the connection before its query started.")
        job = dict(job, snapshot=self.snapshot)
        worker.snapshot = self.snapshot
        # A task of its own, so that a request cancelled mid-query still gives the worker back
        # (or replaces it) once the worker has answered.
        task = asyncio.ensure_future(worker.ask(job, timeout, self._threads))
        task.add_done_callback(lambda t: self._finished(worker, t))
        try:
            if origin is not None:
                # A query whose client has hung up is stopped: its reader is killed and replaced.
                gone = origin.gone()
                await asyncio.wait((task, gone), return_when=asyncio.FIRST_COMPLETED)
                if not task.done():
                    self.counters["abandoned-queries"] += 1
                    worker.abandoned = True
                    self._threads.submit(worker.process.kill)
                    raise EndpointError(499, "The client closed the connection; its query was stopped.")
            reply = await asyncio.shield(task)
        except WorkerTimedOut:
            raise EndpointError(
                504, f"The query was stopped after {timeout:g} s, this endpoint's time limit; simplify it or add a LIMIT."
            ) from None
        except WorkerDied as died:
            raise EndpointError(503, _death_message(died, self._config())) from None
        return _unwrap(reply)

    async def prepared(self, query, bindings=None, *, fmt=None, hide=(), timeout: float | None = None,
                       page: tuple[int, int] | None = None):
        """Run one of the server's own queries on a reader, with the limits and admission of /sparql.

        ``query``: the name of a file of ``icgraph/sparql`` (``"practice-partnerships"``), a
        `LibraryQuery`, or query text composed from those files (`icgraph.server.prepared`);
        ``bindings``: RDF terms by parameter or variable name, bound through ``substitutions``.
        Returns rows (``[{variable: term or None}]``) for SELECT, a list of triples for
        CONSTRUCT, a boolean for ASK; with ``fmt`` (a `negotiation.Format`), the serialised
        result ``{"body": bytes, "content_type": str}``, without the variables ``hide`` (a library
        query's parameters: projected to be bound, not columns). Raises EndpointError (504 past
        ``timeout``, default ``Settings.query_timeout``; 503 when busy or out of memory).
        ``page`` = (offset, limit): only those rows (`icgraph.server.paging.page_of`), with ``fmt``;
        the reply then says whether ``more`` follow.
        """
        job = prepared_job(query, bindings, fmt, hide, page)
        reply = await precomputed_reply(self.aggregates(), job, query, bindings, fmt, hide, page, self._threads)
        if reply is not None:
            self.counters["aggregate-answers"] += 1
        else:
            reply = await self.read(job, self.settings.query_timeout if timeout is None else timeout)
        if fmt is not None:
            return reply
        return await _unpickle(reply["body"], self._threads)

    def aggregates(self):
        """The answers computed when the served release was made (`icgraph.aggregates`); None for a plain or written store."""
        self._follow_release()
        if self.release is None or self.writable:
            return None
        if self._aggregates_of is None or self._aggregates_of.release_id != self.release.id:
            from icgraph.aggregates import Aggregates

            self._aggregates_of = Aggregates(self.release)
        return self._aggregates_of

    async def statistics(self, timeout: float = 30.0) -> dict:
        """Named graphs with their triple counts, and the default graph's: the release's manifest says them;
        a plain or written store is counted (through a reader) once per snapshot."""
        self._follow_release()
        if self.release is not None and not self.writable:
            manifest = self.release.manifest
            return {"graphs": sorted(manifest["graphs"].items()), "default_triples": manifest["triples"]}
        snapshot = self.snapshot
        if self._statistics and self._statistics[0] == snapshot:
            return self._statistics[1]
        result = await self.read({"op": "statistics"}, timeout)
        self._statistics = (snapshot, result)
        return result

    # -- writing -----------------------------------------------------------------

    async def write(self, job: dict, timeout: float) -> dict:
        """Run a write job on the writer, one at a time; the new snapshot is in place when it returns."""
        if self._writer is None:
            raise EndpointError(403, "Updates are disabled on this endpoint.")
        try:
            await asyncio.wait_for(self._write_lock.acquire(), self.settings.queue_timeout)
        except asyncio.TimeoutError:
            raise EndpointError(503, "Another update is running; please retry shortly.", {"Retry-After": "5"}) from None
        try:
            task = asyncio.ensure_future(self._writer.ask(job, timeout, self._threads))
            try:
                reply = await asyncio.shield(task)
            except (WorkerTimedOut, WorkerDied) as error:
                died_of_memory = isinstance(error, WorkerDied) and error.out_of_memory
                await self._in_thread(self._writer.kill)
                self._writer = await self._in_thread(self._spawn, WRITER)
                if isinstance(error, WorkerTimedOut):
                    raise EndpointError(504, f"The update was stopped after {timeout:g} s and rolled back.") from None
                raise EndpointError(
                    503, _memory_message(self._config()) if died_of_memory else
                    f"The update process {death_reason(error.args[0] if error.args else None)} before it finished; nothing was written."
                ) from None
            result = _unwrap(reply)
            if result.get("snapshot"):
                self.snapshot = result["snapshot"]
                self._collect_snapshots()
            return result
        finally:
            self._write_lock.release()

    def _collect_snapshots(self) -> None:
        """Delete snapshots that neither new queries nor any reader still use."""
        if self._snapshot_dir is None:
            return
        in_use = {self.snapshot} | {w.snapshot for w in self._readers}
        for path in self._snapshot_dir.iterdir():
            if str(path) not in in_use:
                shutil.rmtree(path, ignore_errors=True)


def prepared_job(query, bindings=None, fmt=None, hide=(), page: tuple[int, int] | None = None) -> dict:
    """The reader's job for one of the server's own queries (`StorePool.prepared`; `icgraph.aggregates` runs the same job)."""
    from icgraph.server.prepared import substitutions

    text, by_variable = substitutions(query, bindings)
    job = {"op": "prepared", "query": text, "substitutions": by_variable, "format": fmt.key if fmt else None, "hide": list(hide)}
    if page is not None:
        job["page"] = tuple(page)
    return job


async def precomputed_reply(aggregates, job: dict, query, bindings, fmt, hide, page, executor) -> dict | None:
    """The reply to a `prepared_job` from a release's aggregates (`icgraph.aggregates.Aggregates`), or None: then it runs live.

    The one lookup of both pools (`StorePool.prepared`, `icgraph.server.remote.RemotePool.prepared`): the job's
    own answer, or a page of it cut from the precomputed whole answer (parsed in ``executor``), or from the
    pages the release keeps of an answer too large to send whole. A whole request for such an answer is
    refused at once (503) with how to ask for its pages."""
    if aggregates is None:
        return None
    reply = aggregates.answer(job)
    if reply is not None or fmt is None:
        return reply
    from icgraph.server.paging import MAX_PAGE_SIZE, page_of_answer, page_of_pages, whole_format

    whole_job = prepared_job(query, bindings, whole_format(fmt), hide)
    kept = aggregates.kept_pages(whole_job)
    if kept is not None and page is None:
        raise EndpointError(503, (
            f"The answer has {kept['rows']} rows, more than this endpoint sends in one response. Ask for it in pages: "
            f"add limit=N (at most {MAX_PAGE_SIZE} rows) and follow each page's 'next' link (the Link header)."))
    loop = asyncio.get_running_loop()
    if kept is not None:
        read = lambda number: aggregates.kept_page(whole_job, number, kept["size"])  # noqa: E731
        return await loop.run_in_executor(executor, page_of_pages, kept, read, page[0], page[1], fmt)
    whole = aggregates.answer(whole_job) if page is not None else None
    if whole is None:
        return None
    return await loop.run_in_executor(executor, page_of_answer, whole, page[0], page[1], job["query"], fmt)


def local_reader(max_result_bytes: int) -> _WorkerState:
    """A reader's state in this process, for `run_here` (the release's aggregates are made with it)."""
    return _WorkerState(READER, {"max_result_bytes": max_result_bytes, "federation_allowlist": [], "union_default_graph": True})


def run_here(reader: _WorkerState, store_folder: str, job: dict) -> dict:
    """Run a `prepared_job` in this process exactly as a reader runs it: ``{"body", "content_type"}`` or EndpointError."""
    return _unwrap(reader.prepared(dict(job, snapshot=store_folder)))


async def _unpickle(body: bytes, threads: concurrent.futures.Executor):
    """The values a reader pickled (our own process, trusted); a large body is read in a thread."""
    import pickle

    if len(body) <= INLINE_BODY_BYTES:
        return pickle.loads(body)
    return await asyncio.get_running_loop().run_in_executor(threads, pickle.loads, body)


def _unwrap(reply: tuple) -> dict:
    if reply[0] == "ok":
        return reply[1]
    _, status, message, *details = reply
    raise EndpointError(status, message, details=details[0] if details else None)
