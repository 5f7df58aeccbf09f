"""Answers computed once per release: the costly queries of pages and of the query library.

The data of a release never changes, so what every visitor asks first, and what costs most,
is answered when the release is written (`icgraph.publish.ReleaseWriter`, before the folder is
renamed, so nothing half-built is published) and kept in the release as ``aggregates.sqlite``:

- the home page's counts (``headline-counts.rq``), the map (``map-*.rq``), the practice browser
  without a selection (``practices-page.rq``, every facet's unfiltered pairs and counts), and the
  browser's side index built from those answers (table ``indexes``: `icgraph.server.facet_index`,
  from which every selection's results and counts are computed); the map without filters as drawn,
  and the map's data from which a filtered map is drawn (table ``indexes``: `icgraph.server.maps.map_indexes`);
- every query of the library (``queries/*.rq``) that has no parameters, or whose header says
  ``#+ precompute: true`` (then for its default parameters), in each format the query API offers.

They are computed by RUNNING the server's own code (`headline_counts`, `load_map_data`,
`browse`, the query API's job) against a `icgraph.precompute.Recorder` that has the pool's ``prepared`` method
and runs each job exactly as a reader does (`icgraph.server.workers.run_here`). So when a
facet's query or a library file changes, the aggregate follows at the next release.

Each answer is keyed by `job_key`: the SHA-256 of the query *text* (after composition), its
bindings, its format and hidden variables. The server (`StorePool.prepared`) looks the job's
key up in the served release's aggregates before it runs anything (`Aggregates.answer`): a
changed .rq file has another key, so it is never answered from a stale aggregate; it runs.

A release loaded into a remote store (``icgraph load`` / ``icgraph build`` with ``--store sparql+http://...``)
gets that store's own answers, computed against it once the load is done (`remote_aggregates_file`;
`icgraph.server.remote.RemotePool.prepared` looks them up as `StorePool.prepared` does, through the same
`icgraph.server.workers.precomputed_reply`).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import pyoxigraph as ox

#: The file of a release that holds its aggregates.
AGGREGATES = "aggregates.sqlite"
#: The file of a release loaded into a remote store that holds that store's answers (`remote_aggregates_file`).
REMOTE_AGGREGATES = "aggregates-remote-{store}.sqlite"
#: The header line of a library query with parameters that is precomputed for its defaults.
PRECOMPUTE_MARK = "#+ precompute: true"
#: The content type of the stored answer of a job whose result is past ``Settings.max_result_bytes``: its body
#: is ``{"size", "pages", "rows"}`` and the answer itself is kept as pages of ``size`` rows (the same job with
#: ``page`` = [i * size, size]), from which the query API serves any page (`icgraph.server.paging.page_of_pages`).
KEPT_AS_PAGES = "application/x-icgraph-kept-as-pages"

_SCHEMA = """
CREATE TABLE answers (
    key TEXT PRIMARY KEY,       -- job_key: query text hash, bindings, format, hidden variables
    label TEXT NOT NULL,        -- what asked: headline-counts, map, practices, library/NAME
    query_sha256 TEXT NOT NULL,
    query TEXT NOT NULL,
    substitutions TEXT NOT NULL, -- JSON: variable -> term in N-Triples syntax
    format TEXT,                -- a negotiation format key, or NULL for Python values (pickled)
    hide TEXT NOT NULL,         -- JSON list of hidden variables
    content_type TEXT NOT NULL, -- KEPT_AS_PAGES: the answer is too large to send whole; body says its pages
    body BLOB NOT NULL,
    seconds REAL NOT NULL,
    page TEXT                   -- JSON [offset, limit] of one kept page of a too large answer, else NULL
);
CREATE TABLE indexes (
    name TEXT PRIMARY KEY,      -- what reads it: facet-index (icgraph.server.facet_index)
    body BLOB NOT NULL
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


def remote_aggregates_file(endpoint) -> str:
    """The file, in a release's folder, of the answers a remote store (`icgraph.backends.RemoteEndpoint`) gave
    once that release was loaded into it (`icgraph.precompute.write_remote_aggregates`).

    Apart from ``aggregates.sqlite`` (the release's Oxigraph answers): a remote engine writes some literals
    otherwise (Virtuoso's ``"1"`` for true, lower-cased language tags), and each store gets the answers
    it gives itself. Named by the store's query URL, graph prefix and engine, so two stores loaded with the
    same release never read each other's answers."""
    described = json.dumps([endpoint.query_url, endpoint.graph_prefix, endpoint.engine])
    return REMOTE_AGGREGATES.format(store=hashlib.sha256(described.encode("utf-8")).hexdigest()[:16])


def unpickle_index(body: bytes, version: int) -> dict | None:
    """The state of a side index the release keeps (``indexes``: the facet index, the map's data), pickled by our own
    release writer; None when it was written by another ``version`` of its code.

    It makes many small containers that live as long as the release is served: the garbage collector is paused while
    they are made (a collection meanwhile finds nothing to free) and then told to leave them be (``gc.freeze``: they
    are freed by reference counting when the release is replaced). Only paused, the next request paid for one pass
    over them all (170-200 ms at 100x); collecting as they were made cost 90-100 ms of the first ``/practices``.
    """
    import gc
    import pickle

    collecting = gc.isenabled()
    gc.disable()
    try:
        state = pickle.loads(body)
        gc.freeze()
    finally:
        if collecting:
            gc.enable()
    if not isinstance(state, dict) or state.pop("version", None) != version:
        return None
    return state


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
    """The aggregates of one release, opened read-only; `answer` is a lookup by `job_key`.

    A release an accept published gets its aggregates just after (`icgraph.precompute.complete_release`:
    the file appears whole, by a rename, in that release's own folder): until then every lookup
    finds nothing and the server runs the query live, under its limits; the file is looked for again
    at each lookup until it is there. Answers are only ever those of this release.
    """

    def __init__(self, release, file: str = AGGREGATES):
        self.release_id = release.id
        self._path = Path(release.path) / file
        self._db_handle = None

    @property
    def _db(self):
        if self._db_handle is None and self._path.is_file():
            self._db_handle = sqlite3.connect(f"file:{self._path}?mode=ro&immutable=1", uri=True, check_same_thread=False)
        return self._db_handle

    def answer(self, job: dict) -> dict | None:
        """The reply a reader would give to ``job`` (``{"body", "content_type"}``), or None when it was not precomputed
        (or is kept only as pages: `kept_pages`)."""
        row = self._row(job)
        return None if row is None or row[1] == KEPT_AS_PAGES else {"body": row[0], "content_type": row[1]}

    def kept_pages(self, job: dict) -> dict | None:
        """``{"size", "pages", "rows"}`` when the release keeps ``job``'s answer only as pages (too large to send whole)."""
        row = self._row(job)
        return json.loads(row[0]) if row is not None and row[1] == KEPT_AS_PAGES else None

    def kept_page(self, job: dict, number: int, size: int) -> bytes:
        """The body of kept page ``number`` of ``job``'s answer (see `kept_pages`)."""
        row = self._row(dict(job, page=(number * size, size)))
        if row is None:
            raise LookupError(f"page {number} of a kept answer is missing from {self._path}")
        return row[0]

    def _row(self, job: dict):
        if self._db is None:
            return None
        return self._db.execute("SELECT body, content_type FROM answers WHERE key = ?", (job_key(job),)).fetchone()

    def index(self, name: str) -> bytes | None:
        """A side index the release writer kept (``facet-index``: `icgraph.server.facet_index`), or None."""
        if self._db is None:
            return None
        try:
            row = self._db.execute("SELECT body FROM indexes WHERE name = ?", (name,)).fetchone()
        except sqlite3.OperationalError:  # a release written before side indexes were kept
            return None
        return None if row is None else row[0]

    def answers(self) -> list[Answer]:
        """Every stored answer with the job that produced it (to check it against a live run)."""
        if self._db is None:
            return []
        rows = self._db.execute(
            "SELECT key, label, query, substitutions, format, hide, content_type, body, seconds, page FROM answers ORDER BY label, key"
        ).fetchall()
        return [
            Answer(key, label, {"op": "prepared", "query": query,
                                "substitutions": {n: term_from_ntriples(t) for n, t in json.loads(substitutions).items()},
                                "format": fmt, "hide": json.loads(hide), **({"page": tuple(json.loads(page))} if page else {})},
                   content_type, body, seconds)
            for key, label, query, substitutions, fmt, hide, content_type, body, seconds, page in rows
        ]
