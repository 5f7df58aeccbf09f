"""Write a release and make it the current one (the last stage of a build, and `icgraph load`).

`ReleaseWriter` fills a partial release folder (`icgraph.release`) while the SHACL gate
runs: the dumps, the store, one file per named graph, the search index, the VoID and the
service description with their counts, and the answers computed once per release
(`icgraph.aggregates`: the pages' aggregates and the costly library queries). Once the gate has passed, `finish` adds the SHACL
report, waits for the aggregates, writes the manifest, renames the folder to its release id and moves the current link
to it; `discard` removes everything if the gate fails or the build is interrupted.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import functools
import gzip
import itertools
import json
import multiprocessing
import shutil
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterable

import pyoxigraph as ox

from icgraph import __version__, release as releases
from icgraph.backends import is_remote, publish as publish_remote
from icgraph.namespaces import PREFIXES
from icgraph.release import DUMPS, Release
from icgraph.jsonld import compact
from icgraph.search import build_search_index

#: Oxigraph formats of the dumps that keep the named graphs; the others hold their merge.
_DATASET_FORMATS = {"icgraph.trig": ox.RdfFormat.TRIG, "icgraph.nq": ox.RdfFormat.N_QUADS}
_UNION_FORMATS = {"icgraph.ttl": ox.RdfFormat.TURTLE}


class ReleaseWriter:
    """One release being written for the store location ``location``."""

    def __init__(self, location, build_dir: Path, inputs: dict[str, str], settings=None):
        from icgraph.config import Settings

        self.location = location
        self.settings = settings or Settings()
        #: The public address the release's VoID and service description name (`Settings.public_url`).
        self.base = self.settings.public_url()
        self.build_dir = Path(build_dir)
        self.inputs = inputs
        self.digest = releases.combined_digest({**inputs, "icgraph": __version__})
        self.id = releases.new_release_id(self.digest)
        releases.clean_partials(location, build_dir)
        self.folder = releases.partial_folder(location, build_dir, self.id)
        self.timings: dict[str, float] = {}
        #: Each stage's CPU seconds in the thread or process that ran it (`bench.stages`; not in the manifest).
        self.cpu: dict[str, float] = {}
        self._timings_lock = threading.Lock()
        self.statistics: dict[str, Any] | None = None
        self.aggregates: dict[str, Any] | None = None
        self._aggregates_process: _AggregatesProcess | None = None  # started (`prepare`), not yet given its store
        self._aggregates_running: _AggregatesProcess | None = None  # given its store (`write_data`), not yet collected
        #: {dump left out: why} (`icgraph.dump_writers.skipped_dumps`), in the manifest as ``skipped``.
        self.skipped: dict[str, str] = {}
        #: {dump: sha256} known without reading it again (a loaded file is hashed once, as the release's input).
        self.known_digests: dict[str, str] = {}

    def prepare(self) -> None:
        """Start, while the caller still builds the data, the process that will write the aggregates.

        It imports the page code it drives (most of a second) on a core the caller leaves idle, then
        waits for the store (`write_data`).
        """
        if self._aggregates_process is None:
            self._aggregates_process = _AggregatesProcess(self._aggregates_job())

    # -- while the gate runs ---------------------------------------------------------------

    def write_data(self, quads: Iterable[ox.Quad]) -> None:
        """The store, the dumps, the per-graph files, the search index, VoID and the service description.

        From the build's quads (``icgraph load``: `write_from_dump`). Once the store is written,
        what does not depend on the rest runs beside it: the JSON-LD dump in a forked process, the
        statistics, service description and aggregates in a spawned one (`prepare`; the aggregates'
        queries in a process of their own), which `finish` waits for, and the gzipped N-Quads in a
        thread. The stage timings are each stage's own, and overlap.
        """
        dumps = self.folder / "dumps"
        dumps.mkdir()
        with contextlib.ExitStack() as running:
            with self._timed("dumps"):
                quads = list(quads)
                for name, fmt in _DATASET_FORMATS.items():
                    ox.serialize(quads, str(dumps / name), fmt, prefixes=PREFIXES if fmt is ox.RdfFormat.TRIG else None)
            with self._timed("store load"):
                store = ox.Store(str(self.folder / "store"))
                # The quads and their merge (the default graph queries see: each distinct triple once), from
                # memory: reading icgraph.nq back and querying the merge out of the store cost twice as much.
                store.bulk_extend(itertools.chain(quads, {ox.Quad(q.subject, q.predicate, q.object) for q in quads}))
                store.flush()
                store.optimize()
            with self._timed("dumps"):
                # As the store holds it (its literals in canonical form, "1.0"^^xsd:decimal as "1"), for the
                # Turtle and JSON-LD dumps to read the same as each other and as SPARQL answers: the default
                # graph, their merge (what `union-construct` answers, in the same order, without the query).
                union = [quad.triple for quad in store.quads_for_pattern(None, None, None, ox.DefaultGraph())]
            del store, quads
            json_ld = running.enter_context(_beside(_write_json_ld, union, dumps / "icgraph.jsonld"))
            gzipped = self._start_beside(running, dumps)
            store = ox.Store.read_only(str(self.folder / "store"))
            with self._timed("dumps"):
                for name, fmt in _UNION_FORMATS.items():
                    ox.serialize(union, str(dumps / name), fmt, prefixes=PREFIXES)
            del union
            with self._timed("dumps"):
                graphs = self.folder / "graphs"
                graphs.mkdir()
                for graph in store.named_graphs():
                    if isinstance(graph, ox.NamedNode):
                        store.dump(str(graphs / (releases.graph_slug(graph.value) + ".nt")), ox.RdfFormat.N_TRIPLES, from_graph=graph)
            # The store holds the merge of its graphs (loaded above): its default graph
            # is read as it is, without `icgraph.store.holds_merge`'s scan to prove it (once per use).
            merged: dict = {}
            with self._timed("search index"):
                build_search_index(store, self.folder / "search.sqlite", dataset=merged)
            with self._timed("describe"):
                from icgraph.void import build_void, set_dump_sizes

                # Its counts now, while the JSON-LD dump may still be written; each dump's size once they all are.
                # (The statistics and the service description: in the aggregates' process, `_describe`.)
                void = build_void(store, dumps, version=self.id, issued=_now(), base=self.base, dataset=merged)
            del store
            gzipped.result()
            self.timings["json-ld"], self.cpu["json-ld"] = json_ld()
            with self._timed("describe"):
                set_dump_sizes(void, dumps)
                void.serialize(self.folder / "void.ttl", format="turtle")

    def write_from_dump(self, nquads: Path) -> None:
        """`icgraph load`: what `write_data` writes, from an N-Quads file, in memory that does not grow with it.

        The file is hard-linked (or copied) as icgraph.nq and bulk-loaded in one streamed pass with
        the merge of its graphs (`icgraph.store.bulk_load_with_merge`); every other dump is read out of
        the store and serialised as it is read (`icgraph.dump_writers`), the JSON-LD one in a forked
        process, the statistics, service description and aggregates in their process and the gzipped
        N-Quads beside it as in `write_data`. Above `Settings.dump_max_quads` quads the derived dumps
        are left out (`self.skipped` says why).
        """
        from icgraph import dump_writers
        from icgraph.store import bulk_load_with_merge
        from icgraph.void import build_void, set_dump_sizes

        dumps = self.folder / "dumps"
        dumps.mkdir()
        with self._timed("dumps"):
            dump_writers.link_or_copy(nquads, dumps / "icgraph.nq")
            self.known_digests["icgraph.nq"] = self.inputs.get(str(nquads)) or releases.file_digest(dumps / "icgraph.nq")
        with self._timed("store load"):
            store = ox.Store(str(self.folder / "store"))
            quads = bulk_load_with_merge(store, dumps / "icgraph.nq")
            store.flush()
        with self._timed("store optimize"):
            store.optimize()
        del store
        self.skipped = dump_writers.skipped_dumps(quads, self.settings.dump_max_quads)
        with contextlib.ExitStack() as running:
            json_ld = None
            if "icgraph.jsonld" not in self.skipped:
                json_ld = running.enter_context(_beside(dump_writers.write_json_ld, self.folder / "store", dumps / "icgraph.jsonld"))
            gzipped = self._start_beside(running, dumps)
            store = ox.Store.read_only(str(self.folder / "store"))
            with self._timed("dumps"):
                if "icgraph.trig" not in self.skipped:
                    dump_writers.write_trig(store, dumps / "icgraph.trig")
                if "icgraph.ttl" not in self.skipped:
                    dump_writers.write_turtle(store, dumps / "icgraph.ttl")
                graphs = self.folder / "graphs"
                graphs.mkdir()
                for graph in () if "graphs" in self.skipped else store.named_graphs():
                    if isinstance(graph, ox.NamedNode):
                        store.dump(str(graphs / (releases.graph_slug(graph.value) + ".nt")), ox.RdfFormat.N_TRIPLES, from_graph=graph)
            merged: dict = {}  # loaded with the data: no scan of every quad to prove it
            with self._timed("search index"):
                build_search_index(store, self.folder / "search.sqlite", dataset=merged)
            with self._timed("describe"):
                void = build_void(store, dumps, version=self.id, issued=_now(), base=self.base, dataset=merged, skipped=self.skipped)
            del store
            gzipped.result()
            if json_ld is not None:
                self.timings["json-ld"] = json_ld()
            with self._timed("describe"):
                set_dump_sizes(void, dumps)
                void.serialize(self.folder / "void.ttl", format="turtle")

    def _start_beside(self, running: contextlib.ExitStack, dumps: Path) -> concurrent.futures.Future:
        """Once the store is written: the aggregates' process given it, and the N-Quads dump gzipped in a thread.

        The aggregates are collected by `finish` (after the report is written), and stopped if anything
        fails before; returns the gzip's future (zlib lets go of the GIL).
        """
        self.prepare()
        self._aggregates_running, self._aggregates_process = self._aggregates_process, None
        running.push(lambda failed, *_: self._stop_aggregates() if failed else None)
        self._aggregates_running.start()
        threads = running.enter_context(concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="release"))
        return threads.submit(self._timed_call, "dumps", _gzip, dumps / "icgraph.nq")

    def _collect_aggregates(self) -> None:
        """Wait for the aggregates `write_data` started (if it did), and keep their manifest entry."""
        if self._aggregates_running is not None:
            running, self._aggregates_running = self._aggregates_running, None
            answer = running.result()
            self.timings["aggregates"], self.timings["service description"] = answer["seconds"]
            self.cpu["aggregates"], self.statistics, self.aggregates = answer["cpu"], answer["statistics"], answer["aggregates"]

    def _stop_aggregates(self) -> None:
        for process in (self._aggregates_process, self._aggregates_running):
            if process is not None:
                process.stop()
        self._aggregates_process = self._aggregates_running = None

    def _aggregates_job(self) -> dict[str, Any]:
        """What `_AggregatesProcess` is to write for this release: `_describe`'s and `write_aggregates`'s arguments."""
        from icgraph.aggregates import AGGREGATES

        return {
            "describe": (self.folder / "store", self.folder / "service-description.ttl", self.base + "sparql",
                         self.settings.queries_dir, not is_remote(self.location)),
            "aggregates": (self.folder / "store", self.folder / AGGREGATES, self.settings.queries_dir,
                           self.settings.max_result_bytes, self.settings.precompute_timeout),
        }

    def _timed_call(self, stage: str, function: Callable, *args):
        with self._timed(stage):
            return function(*args)

    # -- once the gate has passed -------------------------------------------------------------

    def finish(self, validation=None, timings: dict[str, float] | None = None, progress: Callable[[str], None] | None = None,
               extra: dict[str, Any] | None = None) -> Release:
        """Write the report, wait for the aggregates, write the manifest, list the release, make it current, prune old ones.

        ``extra``: further manifest entries (a contribution release lists its submissions there).
        """
        if validation is not None:
            from icgraph.validate import format_report

            report = self.folder / "report"
            report.mkdir()
            (report / "shacl.ttl").write_text(format_report(validation, "ttl"), encoding="utf-8")
            (report / "shacl.json").write_text(report_json(validation), encoding="utf-8")
        dumps = {
            name: {"bytes": (self.folder / "dumps" / name).stat().st_size,
                   "sha256": self.known_digests.get(name) or releases.file_digest(self.folder / "dumps" / name)}
            for name in DUMPS if name not in self.skipped
        }
        self._collect_aggregates()  # computed meanwhile
        previous = releases.current_release(self.location, self.build_dir)
        manifest = {
            "id": self.id,
            "created": _now(),
            "icgraph": __version__,
            "previous": previous.id if previous else None,
            "inputs": self.inputs,
            "inputs_digest": self.digest,
            "triples": self.statistics["default_triples"] if self.statistics else None,
            "graphs": dict(self.statistics["graphs"]) if self.statistics else {},
            "validation": None if validation is None else {"conforms": validation.conforms, **validation.counts},
            "dumps": dumps,
            **({"skipped": self.skipped} if self.skipped else {}),
            "aggregates": self.aggregates,
            "timings": {stage: round(seconds, 3) for stage, seconds in {**(timings or {}), **self.timings}.items()},
            **(extra or {}),
        }
        release = releases.finish(self.folder, manifest)
        if is_remote(self.location):
            try:
                publish_remote(release.dump("icgraph.nq"), self.location, progress=progress)
            except BaseException:
                shutil.rmtree(release.path, ignore_errors=True)
                raise
        releases.activate(self.location, self.build_dir, release)
        releases.prune(self.location, self.build_dir)
        return release

    def discard(self) -> None:
        self._stop_aggregates()
        shutil.rmtree(self.folder, ignore_errors=True)

    @contextlib.contextmanager
    def _timed(self, stage: str):
        start, thread_start = time.perf_counter(), time.thread_time()
        try:
            yield
        finally:
            with self._timings_lock:  # stages that run in threads add to the same entries
                self.timings[stage] = self.timings.get(stage, 0.0) + time.perf_counter() - start
                self.cpu[stage] = self.cpu.get(stage, 0.0) + time.thread_time() - thread_start


def _gzip(path: Path) -> None:
    with path.open("rb") as source, gzip.open(path.with_name(path.name + ".gz"), "wb", compresslevel=6) as target:
        shutil.copyfileobj(source, target, 1 << 20)


def _write_json_ld(union: list[ox.Triple], target: Path) -> tuple[float, float]:
    """The JSON-LD dump: the union of the graphs, compacted with the project's context (icgraph.jsonld); its
    seconds and CPU seconds."""
    started, cpu = time.perf_counter(), time.thread_time()
    target.write_bytes(compact(union))
    return time.perf_counter() - started, time.thread_time() - cpu


class _AggregatesProcess:
    """The process that writes a release's aggregates (`icgraph.precompute.write_aggregates`), and first its
    statistics and service description (`_describe`), which read the query library with the same page code.

    Spawned, not forked: the build process holds threads and open files a fork would copy. As soon
    as it starts, it imports the page code the aggregates are computed with and starts the reader
    process their queries run in (`icgraph.precompute.ProcessRecorder`), then waits until the store is
    written (`start`): a build starts it before its data exist, on the core it leaves idle
    meanwhile. Out of the build's own process, the page code's work does not hold the interpreter
    lock the build's writing needs.
    """

    def __init__(self, job: dict[str, Any]):
        from pebble import concurrent

        spawn = multiprocessing.get_context("spawn")
        jobs, self._orders = spawn.Pipe(duplex=False)
        # Not a daemon: the queries run in a process pool of its own (`icgraph.precompute.ProcessRecorder`).
        self._future = concurrent.process(daemon=False, mp_context=spawn)(_with_lifeline)(_write_aggregates, job, jobs)
        jobs.close()

    def start(self) -> None:
        """The store is written: compute the aggregates."""
        self._orders.send(True)

    def result(self) -> dict[str, Any]:
        """What `_write_aggregates` returns."""
        return self._future.result()

    def stop(self) -> None:
        self._future.cancel()  # nothing once it has ended
        self._orders.close()


def _write_aggregates(job: dict[str, Any], orders) -> dict[str, Any] | None:
    """`_AggregatesProcess`'s work: get ready, wait for the store, describe it, write the aggregates.

    Returns the seconds the aggregates and the description took (once the store was there), the CPU
    seconds of the process (its start-up and its readers included), the store's statistics and the
    manifest's aggregates entry. ``job``: `ReleaseWriter._aggregates_job`.
    """
    from icgraph.precompute import ProcessRecorder, write_aggregates
    # What write_aggregates runs (the home counts, the map, the facet index, the query API's formats):
    # imported while the build still assembles its data.
    from icgraph.server import facet_index, maps, query_api, web  # noqa: F401

    store_folder, _, _, max_result_bytes, timeout = job["aggregates"]
    recorder = ProcessRecorder(store_folder, max_result_bytes, timeout)
    recorder.start()
    try:
        orders.recv()
    except EOFError:  # the build stopped before its store was written
        recorder.close()
        return None
    started = time.perf_counter()
    try:
        statistics = _describe(*job["describe"])
    except BaseException:
        recorder.close()
        raise
    described = time.perf_counter()
    answer = write_aggregates(*job["aggregates"], recorder=recorder)
    import resource

    own, readers = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "seconds": (time.perf_counter() - described, described - started),
        "cpu": own.ru_utime + own.ru_stime + readers.ru_utime + readers.ru_stime,
        "statistics": statistics,
        "aggregates": answer,
    }


def _describe(store_folder: Path, target: Path, endpoint: str, queries_dir: Path, extension_functions: bool) -> dict:
    """The store's statistics (the manifest's counts), and the service description with them: ``target``."""
    from icgraph.queries import load_library
    from icgraph.server.service_description import describe
    from icgraph.void import store_statistics

    store = ox.Store.read_only(str(store_folder))
    statistics = store_statistics(store, dataset={})  # the release's store holds the merge of its graphs
    del store
    # The query library as SPARQL examples (sh:SPARQLExecutable), so tools reading the release find them.
    description = describe(endpoint, statistics, updates_enabled=False, examples=load_library(queries_dir).values(),
                           extension_functions=extension_functions)
    description.serialize(target, format="turtle")
    return statistics


def _with_lifeline(function: Callable, *args):
    from icgraph.server.lifeline import die_with_parent

    die_with_parent()  # a killed build leaves no process writing into the folder it no longer owns
    return function(*args)


@contextlib.contextmanager
def _beside(function: Callable, *args):
    """Start ``function(*args)`` in a forked process; yield a function that waits for its result.

    The process inherits the arguments (only the result is pickled), so a large graph costs no
    copy; a process that dies raises `pebble.ProcessExpired` rather than leaving the wait hanging;
    leaving the block stops it if it still runs. Where the platform cannot fork (macOS), the
    function runs here when its result is asked for.
    """
    from pebble import concurrent

    from icgraph.validate import _can_fork

    if not _can_fork():
        yield functools.cache(lambda: function(*args))
        return
    future = concurrent.process(mp_context=multiprocessing.get_context("fork"))(_with_lifeline)(function, *args)
    try:
        yield future.result
    finally:
        future.cancel()  # nothing once it has ended


def report_json(validation) -> str:
    """The SHACL report as the server's /quality reads it: verdict, counts and every issue."""
    return json.dumps(
        {"conforms": validation.conforms, "counts": validation.counts, "seconds": round(validation.seconds, 3),
         "triples": validation.triples, "issues": [issue.as_dict() for issue in validation.issues]},
        indent=1, ensure_ascii=False,
    )


def release_from_dump(nquads: Path, location, build_dir: Path, progress: Callable[[str], None] | None = None,
                      settings=None) -> Release:
    """`icgraph load` into an embedded store: a release made from an N-Quads dump (no SHACL report)."""
    writer = ReleaseWriter(location, build_dir, {str(nquads): releases.file_digest(nquads)}, settings)
    try:
        writer.write_from_dump(nquads)
        return writer.finish(progress=progress)
    except BaseException:
        writer.discard()
        raise


def _now() -> str:
    import datetime as dt

    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()
