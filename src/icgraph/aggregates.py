"""Answers computed once per release: the costly queries of pages and of the query library.

The data of a release never changes, so what every visitor asks first, and what costs most,
is answered when the release is written (`icgraph.publish.ReleaseWriter`, before the folder is
renamed, so nothing half-built is published) and kept in the release as ``aggregates.sqlite``:

- the home page's counts (``headline-counts.rq``), the map (``map-*.rq``), the practice browser
  without a selection (``practices-page.rq``, every facet's unfiltered counts);
- every query of the library (``queries/*.rq``) that has no parameters, or whose header says
  ``#+ precompute: true`` (then for its default parameters), in each format the query API offers.

They are computed by RUNNING the server's own code (`headline_counts`, `load_map_data`,
`browse`, the query API's job) against a `Recorder` that has the pool's ``prepared`` method
and runs each job exactly as a reader does (`icgraph.server.workers.run_here`). So when a
facet's query or a library file changes, the aggregate follows at the next release.

Each answer is keyed by `job_key`: the SHA-256 of the query *text* (after composition), its
bindings, its format and hidden variables. The server (`StorePool.prepared`) looks the job's
key up in the served release's aggregates before it runs anything (`Aggregates.answer`): a
changed .rq file has another key, so it is never answered from a stale aggregate; it runs.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import json
import pickle
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyoxigraph as ox

#: The file of a release that holds its aggregates.
AGGREGATES = "aggregates.sqlite"
#: The header line of a library query with parameters that is precomputed for its defaults.
PRECOMPUTE_MARK = "#+ precompute: true"

_SCHEMA = """
CREATE TABLE answers (
    key TEXT PRIMARY KEY,       -- job_key: query text hash, bindings, format, hidden variables
    label TEXT NOT NULL,        -- what asked: headline-counts, map, practices, library/NAME
    query_sha256 TEXT NOT NULL,
    query TEXT NOT NULL,
    substitutions TEXT NOT NULL, -- JSON: variable -> term in N-Triples syntax
    format TEXT,                -- a negotiation format key, or NULL for Python values (pickled)
    hide TEXT NOT NULL,         -- JSON list of hidden variables
    content_type TEXT NOT NULL,
    body BLOB NOT NULL,
    seconds REAL NOT NULL
);
"""


def query_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def job_key(job: dict) -> str:
    """The key of a `prepared_job`: the query text's hash, its bindings (as N-Triples terms), format and hidden variables."""
    described = {
        "query": query_hash(job["query"]),
        "substitutions": {name: str(term) for name, term in sorted((job.get("substitutions") or {}).items())},
        "format": job.get("format"),
        "hide": sorted(job.get("hide") or ()),
        "page": list(job["page"]) if job.get("page") else None,
    }
    return hashlib.sha256(json.dumps(described, sort_keys=True).encode("utf-8")).hexdigest()


def term_from_ntriples(text: str) -> ox.NamedNode | ox.Literal | ox.BlankNode:
    """An RDF term from its N-Triples form (as `job_key` writes it), read by pyoxigraph's parser."""
    (triple,) = ox.parse(f"<urn:s> <urn:p> {text} .", ox.RdfFormat.N_TRIPLES)
    return triple.object


@dataclass(frozen=True)
class Answer:
    key: str
    label: str
    job: dict
    content_type: str
    body: bytes
    seconds: float


class Aggregates:
    """The aggregates of one release, opened read-only; `answer` is a lookup by `job_key`."""

    def __init__(self, release):
        self.release_id = release.id
        path = Path(release.path) / AGGREGATES
        self._db = (
            sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True, check_same_thread=False)
            if path.is_file() else None
        )

    def answer(self, job: dict) -> dict | None:
        """The reply a reader would give to ``job`` (``{"body", "content_type"}``), or None when it was not precomputed."""
        if self._db is None:
            return None
        row = self._db.execute("SELECT body, content_type FROM answers WHERE key = ?", (job_key(job),)).fetchone()
        return None if row is None else {"body": row[0], "content_type": row[1]}

    def answers(self) -> list[Answer]:
        """Every stored answer with the job that produced it (to check it against a live run)."""
        if self._db is None:
            return []
        rows = self._db.execute(
            "SELECT key, label, query, substitutions, format, hide, content_type, body, seconds FROM answers ORDER BY label, key"
        ).fetchall()
        return [
            Answer(key, label, {"op": "prepared", "query": query,
                                "substitutions": {n: term_from_ntriples(t) for n, t in json.loads(substitutions).items()},
                                "format": fmt, "hide": json.loads(hide)},
                   content_type, body, seconds)
            for key, label, query, substitutions, fmt, hide, content_type, body, seconds in rows
        ]


class Refused(Exception):
    """A job not precomputed: over the time limit, or refused as a reader refuses it (the live path says why)."""


_READER = None


def _open_reader(max_result_bytes: int) -> None:
    """A pool process's reader (``pebble`` initializer); it ends with the build that started it, even a killed one."""
    global _READER
    from icgraph.server.lifeline import die_with_parent
    from icgraph.server.workers import local_reader

    die_with_parent()

    _READER = local_reader(max_result_bytes)


def _answer(store_folder: str, job: dict) -> tuple:
    """Run ``job`` in a pool process as a reader does: ("ok", reply) or ("refused", message)."""
    from icgraph.server.security import EndpointError
    from icgraph.server.workers import run_here

    try:
        return "ok", run_here(_READER, store_folder, job)
    except EndpointError as error:
        return "refused", error.message


class Recorder:
    """Has the pool's ``prepared`` method; runs each job as a reader does, in a killable process, and keeps the answer.

    A job that runs past ``timeout`` seconds (the server's query time limit) has its process
    killed (``pebble``) and is not precomputed: at 100x a heavy library query would otherwise hold
    the release back for as long as it runs. The live path answers it later, under the same limit.
    """

    def __init__(self, store_folder: Path, max_result_bytes: int, timeout: float):
        from multiprocessing import get_context

        from pebble import ProcessPool

        self.store_folder = str(store_folder)
        self.timeout = timeout
        # spawn: the build process holds threads and open files a fork would copy
        self.pool = ProcessPool(max_workers=1, initializer=_open_reader, initargs=(max_result_bytes,),
                                context=get_context("spawn"))
        self.label = ""
        self.answers: dict[str, Answer] = {}
        self.refused: dict[str, str] = {}

    async def prepared(self, query, bindings=None, *, fmt=None, hide=(), timeout: float | None = None):
        from pebble import ProcessExpired

        from icgraph.server.workers import prepared_job

        job = prepared_job(query, bindings, fmt, hide)
        key = job_key(job)
        if key not in self.answers:
            started = time.perf_counter()
            future = self.pool.schedule(_answer, args=(self.store_folder, job), timeout=self.timeout)
            try:
                status, reply = await asyncio.wrap_future(future)
            except concurrent.futures.TimeoutError:
                raise Refused(f"not precomputed: ran past the {self.timeout:g} s query time limit") from None
            except ProcessExpired as ended:  # out of memory, or killed: the live path gets its own limits
                raise Refused(f"not precomputed: its process ended ({ended})") from None
            if status != "ok":
                raise Refused(reply)
            self.answers[key] = Answer(key, self.label, job, reply["content_type"], reply["body"], time.perf_counter() - started)
        answer = self.answers[key]
        if fmt is not None:
            return {"body": answer.body, "content_type": answer.content_type}
        return pickle.loads(answer.body)

    def close(self) -> None:
        self.pool.stop()
        self.pool.join()


def precomputed_library(queries_dir: Path) -> list:
    """The library queries answered once per release: those without parameters, and those marked `PRECOMPUTE_MARK`."""
    from icgraph.queries import load_library

    return [q for q in load_library(queries_dir).values()
            if not q.parameters or PRECOMPUTE_MARK in q.text.splitlines()]


async def _record(recorder: Recorder, queries_dir: Path) -> None:
    from icgraph.server.facets import Selection, browse
    from icgraph.server.maps import load_map_data
    from icgraph.server.query_api import offer_for
    from icgraph.server.web import headline_counts

    pages = {"headline-counts": headline_counts, "map": load_map_data, "practices": lambda r: browse(r, Selection())}
    for label, compute in pages.items():
        recorder.label = label
        try:
            await compute(recorder)
        except Refused as refused:  # what it answered before is kept; the page runs the rest live
            recorder.refused[label] = str(refused)
    for query in precomputed_library(queries_dir):
        recorder.label = f"library/{query.name}"
        for fmt in offer_for(query):
            try:
                await recorder.prepared(query, query.bindings({}), fmt=fmt, hide=[p.variable for p in query.parameters])
            except Refused as refused:  # left to the live path, which says why; its other formats would fare alike
                recorder.refused[recorder.label] = str(refused)
                break


def write_aggregates(store_folder: Path, target: Path, queries_dir: Path, max_result_bytes: int,
                     timeout: float) -> dict[str, Any]:
    """Compute the aggregates of the store at ``store_folder`` into ``target`` (aggregates.sqlite); the manifest's entry.

    Each job has ``timeout`` seconds (the server's query time limit); one past it is left to the live path.
    """
    recorder = Recorder(store_folder, max_result_bytes, timeout)
    started = time.perf_counter()
    try:
        _run(_record(recorder, queries_dir))
    finally:
        recorder.close()
    database = sqlite3.connect(target)
    try:
        database.executescript(_SCHEMA)
        database.executemany(
            "INSERT INTO answers VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(a.key, a.label, query_hash(a.job["query"]), a.job["query"],
              json.dumps({n: str(t) for n, t in (a.job["substitutions"] or {}).items()}, sort_keys=True),
              a.job["format"], json.dumps(a.job["hide"]), a.content_type, a.body, a.seconds)
             for a in recorder.answers.values()],
        )
        database.commit()
    finally:
        database.close()
    by_label: dict[str, dict[str, Any]] = {}
    for answer in recorder.answers.values():
        entry = by_label.setdefault(answer.label, {"answers": 0, "bytes": 0, "seconds": 0.0})
        entry["answers"] += 1
        entry["bytes"] += len(answer.body)
        entry["seconds"] += answer.seconds
    return {
        "file": AGGREGATES,
        "answers": len(recorder.answers),
        "seconds": round(time.perf_counter() - started, 3),
        "by_label": {label: {**entry, "seconds": round(entry["seconds"], 4)} for label, entry in sorted(by_label.items())},
        "refused": recorder.refused,
    }


def _run(coroutine) -> None:
    """Run the recording coroutine; in a thread of its own when an event loop already runs here."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(coroutine)
        return
    with concurrent.futures.ThreadPoolExecutor(1) as thread:
        thread.submit(asyncio.run, coroutine).result()
