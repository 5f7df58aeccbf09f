"""Writing a release's aggregates (`icgraph.aggregates` reads them): run the server's own code for
the home counts, the map, the practice browser's facet index and the parameterless library queries, each job in
a killable process under the build's time limit (`Settings.precompute_timeout`), and keep the answers in ``aggregates.sqlite``.

Kept apart from `icgraph.aggregates` because it drives the server's page code, while the server's
readers only look answers up: so neither imports the other's side.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import pickle
import sqlite3
import time
from pathlib import Path
from typing import Any

from icgraph.aggregates import _SCHEMA, AGGREGATES, KEPT_AS_PAGES, PRECOMPUTE_MARK, Answer, job_key, query_hash


class Refused(Exception):
    """A job not precomputed: over the time limit, or refused as a reader refuses it (the live path says why)."""


class KeptAsPages(Exception):
    """A library query's answer too large to send whole (past ``max_result_bytes``), kept as pages instead:
    the query API serves any page of it, and its other formats are cut from those pages."""


#: How large the answer to one of the writer's own page jobs may be: the practice browser's rows and the map's data,
#: from which it makes the release's indexes, never leave it. What a client may get stays ``max_result_bytes``
#: (a library answer past it is kept as pages, or refused). At 1000x those rows were past 128 MiB, and without
#: their indexes /practices and /map ran live past the time limit.
PAGE_DATA_BYTES = 4 << 30

_READER = None


def _open_reader(max_result_bytes: int) -> None:
    """A pool process's reader (``pebble`` initializer); it ends with the build that started it, even a killed one."""
    global _READER
    from icgraph.server.lifeline import die_with_parent
    from icgraph.server.workers import local_reader

    die_with_parent()

    _READER = local_reader(max_result_bytes)


def _started() -> None:
    """A job that does nothing: `Recorder.start`."""


def _answer(store_folder: str, job: dict) -> tuple:
    """Run ``job`` in a pool process as a reader does: ("ok", reply) or ("refused", message)."""
    from icgraph.server.security import EndpointError
    from icgraph.server.workers import run_here

    try:
        return "ok", run_here(_READER, store_folder, job)
    except EndpointError as error:
        return "refused", error.message


class Recorder:
    """Has the pool's ``prepared`` method; runs each job as the server would, and keeps the answer.

    `answer` runs one job; this class keys it (`job_key`), writes a SELECT's other formats from its JSON
    answer, and keeps what it got (`answers`), what was refused (`refused`) and the side indexes (`indexes`).
    `ProcessRecorder` runs jobs on a release's Oxigraph store, `RemoteRecorder` on a remote store.
    """

    #: Whether `answer` can cut an answer into pages (``job["pages"]``): a library answer is then asked for once,
    #: as pages, and kept whole or as those pages (`KeptAsPages`) by its size; otherwise refused when too large.
    cuts_pages = False

    def __init__(self, max_result_bytes: int, timeout: float, page_rows: int | None = None):
        from icgraph.server.paging import MAX_PAGE_SIZE

        self.timeout = timeout
        self.max_result_bytes = max_result_bytes
        #: The rows of each page a too large library answer is kept in (`KeptAsPages`).
        self.page_rows = page_rows or MAX_PAGE_SIZE
        self.label = ""
        self.answers: dict[str, Answer] = {}
        self.refused: dict[str, str] = {}
        self.indexes: dict[str, bytes] = {}

    def start(self) -> None:
        """Get ready before the first job (`ProcessRecorder` starts its process)."""

    async def answer(self, job: dict, query, bindings, fmt, hide) -> dict:
        """The reply ``{"body", "content_type"}`` to ``job`` (pickled values when ``fmt`` is None); raises `Refused`
        (also past ``max_result_bytes``). With ``job["pages"]`` (`cuts_pages`): ``{"pages", "rows", "content_type"}``."""
        raise NotImplementedError

    async def prepared(self, query, bindings=None, *, fmt=None, hide=(), timeout: float | None = None):
        from icgraph.server.paging import joined_pages
        from icgraph.server.workers import prepared_job

        job = prepared_job(query, bindings, fmt, hide)
        key = job_key(job)
        if key not in self.answers and fmt is not None:
            self._from_json(job, key, fmt)
        if key not in self.answers:
            started = time.perf_counter()
            if self.cuts_pages and self._may_keep_pages(fmt):
                # One evaluation either way: at 1000x a second one, once the whole answer had overflowed, was minutes.
                cut = await self.answer(dict(job, pages=self.page_rows), query, bindings, fmt, hide)
                body = joined_pages(cut["pages"], fmt, self.max_result_bytes)
                if body is None:
                    self._keep_pages(job, key, cut, time.perf_counter() - started)
                    raise KeptAsPages(f"kept as {len(cut['pages'])} pages of {self.page_rows} rows ({cut['rows']} rows)")
                reply = {"body": body, "content_type": cut["content_type"]}
            else:
                reply = await self.answer(job, query, bindings, fmt, hide)
                if fmt is not None:  # the reader allows the pages' data more (`PAGE_DATA_BYTES`)
                    self._refuse_past_the_limit(reply["body"])
            self.answers[key] = Answer(key, self.label, job, reply["content_type"], reply["body"], time.perf_counter() - started)
        answer = self.answers[key]
        if fmt is not None:
            return {"body": answer.body, "content_type": answer.content_type}
        return pickle.loads(answer.body)

    def _refuse_past_the_limit(self, body: bytes) -> None:
        """Refuse an answer larger than a client may get, as a reader refuses it."""
        if len(body) > self.max_result_bytes:
            raise Refused(f"The result is larger than this endpoint's limit of {self.max_result_bytes} bytes.")

    def _may_keep_pages(self, fmt) -> bool:
        """Only a library answer in the format pages are cut from (`paging.whole_format`) is kept as pages; the
        query API pages library queries, while a page of the site never asks for that many rows."""
        from icgraph.server.paging import whole_format

        return fmt is not None and self.label.startswith("library/") and whole_format(fmt).key == fmt.key

    def _keep_pages(self, job: dict, key: str, reply: dict, seconds: float) -> None:
        size, bodies = self.page_rows, reply["pages"]
        kept = {"size": size, "pages": len(bodies), "rows": reply["rows"]}
        self.answers[key] = Answer(key, self.label, job, KEPT_AS_PAGES, json.dumps(kept).encode("utf-8"), seconds)
        for number, body in enumerate(bodies):
            page = dict(job, page=(number * size, size))
            self.answers[job_key(page)] = Answer(job_key(page), self.label, page, reply["content_type"], body, 0.0)

    def _from_json(self, job: dict, key: str, fmt) -> None:
        """A SELECT or ASK answer in XML, CSV or TSV, written from the JSON answer of the same job when there is
        one: the query runs once per release, not once per format (at 1000x each run of a heavy query is minutes)."""
        import pyoxigraph as ox

        from icgraph.server import negotiation

        whole = self.answers.get(job_key(dict(job, format="json")))
        if fmt.kind != negotiation.RESULTS or fmt.key == "json" or whole is None:
            return
        started = time.perf_counter()
        body = ox.parse_query_results(whole.body, ox.QueryResultsFormat.JSON).serialize(format=fmt.oxigraph)
        self._refuse_past_the_limit(body)
        self.answers[key] = Answer(key, self.label, job, fmt.content_type, body, time.perf_counter() - started)

    def close(self) -> None:
        """Let go of what `answer` runs on."""


class ProcessRecorder(Recorder):
    """Runs each job on the store at ``store_folder`` as a reader does, in a killable process.

    A job that runs past ``timeout`` seconds (`Settings.precompute_timeout`, the build's own budget) has its process
    killed (``pebble``) and is not precomputed: at 100x a heavy library query would otherwise hold
    the release back for as long as it runs. The live path answers it later, under the query time limit.
    """

    cuts_pages = True

    def __init__(self, store_folder: Path, max_result_bytes: int, timeout: float, page_rows: int | None = None):
        from multiprocessing import get_context

        from pebble import ProcessPool

        super().__init__(max_result_bytes, timeout, page_rows)
        self.store_folder = str(store_folder)
        # spawn: the build process holds threads and open files a fork would copy
        self.pool = ProcessPool(max_workers=1, initializer=_open_reader, initargs=(max(max_result_bytes, PAGE_DATA_BYTES),),
                                context=get_context("spawn"))

    def start(self) -> None:
        """Start the reader process now rather than at the first job: its imports take most of a second,
        which a build spends while its store is still being written (`icgraph.publish`)."""
        self.pool.schedule(_started)

    async def answer(self, job: dict, query, bindings, fmt, hide) -> dict:
        from pebble import ProcessExpired

        future = self.pool.schedule(_answer, args=(self.store_folder, job), timeout=self.timeout)
        try:
            status, reply = await asyncio.wrap_future(future)
        except concurrent.futures.TimeoutError:
            raise Refused(f"not precomputed: ran past the {self.timeout:g} s precompute time limit (ICGRAPH_PRECOMPUTE_TIMEOUT)") from None
        except ProcessExpired as ended:  # out of memory, or killed: the live path gets its own limits
            raise Refused(f"not precomputed: its process ended ({ended})") from None
        if status != "ok":
            raise Refused(reply)
        return reply

    def close(self) -> None:
        self.pool.stop()
        self.pool.join()


class RemoteRecorder(Recorder):
    """Runs each job on a remote store as the server does (`icgraph.server.remote.RemotePool.run_prepared`:
    the same dataset, checks and result limit), with ``timeout`` (`Settings.precompute_timeout`) as the HTTP
    time limit: the remote store's own answer, Virtuoso's literal forms and all. A job past the limit is
    given up (the connection closed) and left to the live path, as `ProcessRecorder` leaves it."""

    def __init__(self, settings):
        import dataclasses

        super().__init__(settings.max_result_bytes, settings.precompute_timeout)
        self.settings = dataclasses.replace(settings, query_timeout=settings.precompute_timeout)
        self.pool = None

    async def answer(self, job: dict, query, bindings, fmt, hide) -> dict:
        from icgraph.server.remote import RemotePool
        from icgraph.server.security import EndpointError

        if self.pool is None:  # made in the recording's event loop, which its admission belongs to
            self.pool = RemotePool(self.settings, writable=False)
            await self.pool.start()
        try:
            return await self.pool.run_prepared(query, bindings, fmt=fmt, hide=hide, timeout=self.timeout)
        except EndpointError as error:
            if error.status == 504:
                raise Refused(f"not precomputed: ran past the {self.timeout:g} s precompute time limit (ICGRAPH_PRECOMPUTE_TIMEOUT)") from None
            raise Refused(error.message) from None

    def close(self) -> None:
        if self.pool is not None:
            self.pool.store.close()


def precomputed_library(queries_dir: Path) -> list:
    """The library queries answered once per release: those without parameters, and those marked `PRECOMPUTE_MARK`."""
    from icgraph.queries import load_library

    return [q for q in load_library(queries_dir).values()
            if not q.parameters or PRECOMPUTE_MARK in q.text.splitlines()]


async def _record(recorder: Recorder, queries_dir: Path, library_only: bool = False) -> None:
    from icgraph.server.facet_index import INDEX_NAME, build_index
    from icgraph.server.maps import load_map_data, map_indexes
    from icgraph.server.paging import whole_format
    from icgraph.server.query_api import offer_for
    from icgraph.server.web import headline_counts

    async def practices(r) -> None:
        recorder.indexes[INDEX_NAME] = (await build_index(r)).to_bytes()

    async def map_views(r) -> None:  # the map's query answers, and the map without filters as drawn
        recorder.indexes.update(map_indexes(await load_map_data(r)))

    pages = {"headline-counts": headline_counts, "map": map_views, "practices": practices}
    for label, compute in ({} if library_only else pages).items():
        recorder.label = label
        try:
            await compute(recorder)
        except Refused as refused:  # what it answered before is kept; the page runs the rest live
            recorder.refused[label] = str(refused)
    for query in precomputed_library(queries_dir):
        recorder.label = f"library/{query.name}"
        # the format pages are cut from first: the others are written from it, or cut from its kept pages
        for fmt in sorted(offer_for(query), key=lambda f: f.key != whole_format(f).key):
            try:
                await recorder.prepared(query, query.bindings({}), fmt=fmt, hide=[p.variable for p in query.parameters])
            except KeptAsPages:  # its pages in every format are cut from those (the query API)
                break
            except Refused as refused:  # left to the live path, which says why; its other formats would fare alike
                recorder.refused[recorder.label] = str(refused)
                break


def write_aggregates(store_folder: Path, target: Path, queries_dir: Path, max_result_bytes: int,
                     timeout: float, library_only: bool = False, recorder: Recorder | None = None) -> dict[str, Any]:
    """Compute the aggregates of the store at ``store_folder`` into ``target`` (aggregates.sqlite); the manifest's entry.

    ``library_only``: the library queries alone, not the pages' answers (`python -m bench api` measures the library).
    Each job has ``timeout`` seconds (`Settings.precompute_timeout`: the build is offline, so it may allow more
    than the server's query time limit); one past it is left to the live path, under that limit.
    ``recorder``: one made (and started) for ``store_folder`` beforehand; it is closed here either way.
    """
    recorder = recorder or ProcessRecorder(store_folder, max_result_bytes, timeout)
    started = time.perf_counter()
    try:
        _run(_record(recorder, queries_dir, library_only))
    finally:
        recorder.close()
    database = sqlite3.connect(target)
    try:
        database.executescript(_SCHEMA)
        database.executemany(
            "INSERT INTO answers VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(a.key, a.label, query_hash(a.job["query"]), a.job["query"],
              json.dumps({n: str(t) for n, t in (a.job["substitutions"] or {}).items()}, sort_keys=True),
              a.job["format"], json.dumps(a.job["hide"]), a.content_type, a.body, a.seconds,
              json.dumps(list(a.job["page"])) if a.job.get("page") else None)
             for a in recorder.answers.values()],
        )
        database.executemany("INSERT INTO indexes VALUES (?, ?)", sorted(recorder.indexes.items()))
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
        "indexes": {name: len(body) for name, body in sorted(recorder.indexes.items())},
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




#: The lock `complete_release` holds in a release's folder while it writes the aggregates.
AGGREGATES_LOCK = "aggregates.lock"


def complete_release(release_folder: Path, queries_dir: Path, max_result_bytes: int, timeout: float) -> dict[str, Any] | None:
    """The aggregates of a release published without them (an accept's), written into its folder after publication.

    An accept publishes as soon as its release is written and its gate has passed; the answers computed
    once per release follow here, from the release's own store, into ``aggregates.sqlite`` of that
    release's folder (written beside it, then renamed, so a server sees no file or the whole file).
    Until then the server runs those queries live, under its limits (`icgraph.aggregates.Aggregates`).
    Returns the manifest-like entry (also kept in the file's table ``entry``), or None if the file was there
    (or another process wrote it meanwhile: this one waits for it).
    """
    release_folder = Path(release_folder)
    import fcntl
    import os

    target = release_folder / AGGREGATES
    if target.is_file():
        return None
    with open(release_folder / AGGREGATES_LOCK, "a+") as lock:
        # One writer at a time: another one's work is waited for (then the file is there), never done twice.
        fcntl.flock(lock, fcntl.LOCK_EX)  # released by the kernel if its holder dies
        if target.is_file():
            return None
        for stale in release_folder.glob(f"{AGGREGATES}.*.partial"):  # what a killed writer left
            stale.unlink(missing_ok=True)
        partial = release_folder / f"{AGGREGATES}.{os.getpid()}.partial"
        entry = write_aggregates(release_folder / "store", partial, queries_dir, max_result_bytes, timeout)
        with sqlite3.connect(partial) as database:
            database.execute("CREATE TABLE entry (json TEXT NOT NULL)")
            database.execute("INSERT INTO entry VALUES (?)", (json.dumps(entry),))
        database.close()
        partial.replace(target)
        return entry


def write_remote_aggregates(release, settings) -> dict[str, Any]:
    """The aggregates of ``release`` as the remote store ``settings.store`` answers them, just loaded with it
    (`icgraph load`, `icgraph build`): the same jobs as `write_aggregates` (home counts, map, facet index,
    library defaults), each run on that store under ``settings.precompute_timeout`` (`RemoteRecorder`).

    Written into the release's folder as `icgraph.aggregates.remote_aggregates_file` (beside it, then renamed:
    a server sees the earlier file or the whole new one); the release's own ``aggregates.sqlite`` (its Oxigraph
    answers) stays as it was. Returns the entry `write_aggregates` returns (also in the file's table ``entry``).
    """
    import os

    from icgraph.aggregates import remote_aggregates_file

    folder = Path(release.path)
    target = folder / remote_aggregates_file(settings.store)
    partial = folder / f"{target.name}.{os.getpid()}.partial"
    partial.unlink(missing_ok=True)
    try:
        entry = write_aggregates(None, partial, settings.queries_dir, settings.max_result_bytes,
                                 settings.precompute_timeout, recorder=RemoteRecorder(settings))
        with sqlite3.connect(partial) as database:
            database.execute("CREATE TABLE entry (json TEXT NOT NULL)")
            database.execute("INSERT INTO entry VALUES (?)", (json.dumps(entry),))
        database.close()
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    return entry


def aggregates_pending(release_folder: Path) -> bool:
    """Whether a release published without its aggregates still lacks them, and no process is writing them
    (one was killed, or the machine restarted): `icgraph.contributions.publication.reconcile` starts one again."""
    import fcntl

    release_folder = Path(release_folder)
    if (release_folder / AGGREGATES).is_file():
        return False
    try:
        with open(release_folder / AGGREGATES_LOCK, "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            fcntl.flock(lock, fcntl.LOCK_UN)
    except BlockingIOError:
        return False
    except OSError:  # a release folder this process may not write: nothing it can start either
        return False
    return True


def written_entry(release_folder: Path) -> dict[str, Any] | None:
    """What `complete_release` wrote about a release's aggregates (None: not written yet, or written with the release)."""
    path = Path(release_folder) / AGGREGATES
    if not path.is_file():
        return None
    with sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True) as database:
        try:
            (text,) = database.execute("SELECT json FROM entry").fetchone()
        except sqlite3.OperationalError:
            return None
    return json.loads(text)


def start_after_publication(release, settings):
    """Start `complete_release` for ``release`` in a process of its own, which outlives the one that accepted.

    Its errors go to ``build_dir/aggregates-after-publication.log``; the process is returned (a test or a
    benchmark may wait for it; the server does not)."""
    import subprocess
    import sys

    log_path = Path(settings.build_dir) / "aggregates-after-publication.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "icgraph.precompute", str(release.path), "--queries-dir", str(settings.queries_dir),
               "--max-result-bytes", str(settings.max_result_bytes), "--timeout", str(settings.precompute_timeout)]
    with open(log_path, "ab") as log:
        return subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log,
                                start_new_session=True, close_fds=True)


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m icgraph.precompute",
                                     description="Write the aggregates of a release published without them (an accept's).")
    parser.add_argument("release", type=Path, help="the release's folder (PATH.releases/ID)")
    parser.add_argument("--queries-dir", type=Path, required=True)
    parser.add_argument("--max-result-bytes", type=int, required=True)
    parser.add_argument("--timeout", type=float, required=True)
    args = parser.parse_args(argv)
    entry = complete_release(args.release, args.queries_dir, args.max_result_bytes, args.timeout)
    print(json.dumps({"release": str(args.release), "aggregates": entry}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
