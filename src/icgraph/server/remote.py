"""The endpoint's jobs on a remote SPARQL store: the same checks and limits as the Oxigraph workers.

`RemotePool` stands in for `icgraph.server.workers.StorePool` when ``--store`` is
``sparql+http://...``: the routes (sparql, graph_store, service description) hand it the same
jobs and get the same answers and errors. Before anything reaches the remote store a query or
update is parsed (rdflib), SERVICE / LOAD are refused unless allow-listed, the answer format is
negotiated; then the request runs with an HTTP time limit (504 past it), its answer is read up to
``Settings.max_result_bytes`` (503 beyond), parsed into pyoxigraph results and serialised by
Oxigraph's writers, exactly like an embedded answer. At most ``Settings.query_workers`` requests
run at once; ``max_waiting_requests`` may wait up to ``queue_timeout`` seconds, then 503.

Text that rdflib's parser cannot read is refused (400) here: with no isolated worker to ask
Oxigraph for a second opinion, nothing unparsed is sent on.

Answers are kept in the same result cache as the embedded store's (`icgraph.server.result_cache`),
keyed by the release that `icgraph load` made of the remote store's data (`RemotePool.release_id`;
with updates on, also by the number of writes made through this server). Without a release the
server cannot know when the remote data change, so nothing is kept.

A release loaded into the remote store carries that store's precomputed answers (the home counts, the map,
the facet index, the library's defaults: `icgraph.precompute.write_remote_aggregates`); `prepared` answers
from them first, as `StorePool.prepared` does, until the first write through this server.
"""

from __future__ import annotations

import asyncio
import collections
import pickle
import time
from functools import partial
from typing import Any

import pyoxigraph as ox
from pyparsing import ParseException

from icgraph import sparql
from icgraph.backends import RemoteStore, RemoteStoreError, RemoteTimeout, ResultTooLarge
from icgraph.config import Settings
from icgraph.release import Release, current_release
from icgraph.server import negotiation, security
from icgraph.server.query_errors import explain
from icgraph.server.security import EndpointError
from icgraph.server.result_cache import ResultCache
from icgraph.server.workers import PICKLED, _CappedBuffer, _unpickle, precomputed_reply, prepared_job


class RemotePool:
    """Admission, limits and the SPARQL jobs of the endpoint, answered by a `RemoteStore`."""

    network_isolated = False  # nothing runs locally that could reach the network

    def __init__(self, settings: Settings, writable: bool):
        self.settings = settings
        self.writable = writable
        self.store = RemoteStore(settings.store, timeout=settings.query_timeout)
        self.store.known_graphs = self._loaded_graphs
        self._running = 0
        self._waiting = 0
        self._slots: asyncio.Semaphore | None = None
        self._write_lock: asyncio.Lock | None = None
        self._statistics: tuple[float, dict] | None = None
        #: Answers kept until the next release (`Settings.result_cache_bytes`), as in `StorePool`.
        self.results = ResultCache(settings.result_cache_bytes)
        #: Writes made through this server: with updates on, they move `release_id`.
        self._writes = 0
        self._release: tuple[float, Release | None] | None = None
        self._aggregates_of = None
        #: Answers from the release's aggregates (the metrics' ``icgraph_aggregate_answers_total``), as in `StorePool`.
        self.counters: collections.Counter[str] = collections.Counter()

    @property
    def release(self) -> Release | None:
        """The local release whose dumps, report and descriptions this server offers (from the last
        build or ``icgraph load``); the current link is read at most once a second."""
        now = time.monotonic()
        if self._release is None or now - self._release[0] >= 1.0:
            self._release = (now, current_release(self.settings.store, self.settings.build_dir))
        return self._release[1]

    @property
    def release_id(self) -> str:
        release = self.release
        served = release.id if release is not None else str(self.settings.store)
        return f"{served}+w{self._writes}" if self.writable else served

    def _cache_key(self, job: dict):
        """The result cache's key of ``job``, or None: nothing is kept without a release (see the module)."""
        release = self.release
        return None if release is None else self.results.key(self.release_id, job)

    async def _cached(self, job: dict, answer) -> dict:
        """The kept reply of ``job``, or ``await answer()`` (then kept)."""
        key = self._cache_key(job)
        reply = self.results.get(key)
        if reply is None:
            reply = await answer()
            self.results.put(key, reply)
        return reply

    async def start(self) -> None:
        self._slots = asyncio.Semaphore(max(2, self.settings.query_workers))
        self._write_lock = asyncio.Lock()

    async def close(self) -> None:
        self.store.close()

    # -- admission -----------------------------------------------------------------

    def _busy(self) -> EndpointError:
        return EndpointError(
            503,
            f"The endpoint is busy ({self._running} queries running, {self._waiting} waiting); please retry shortly.",
            {"Retry-After": "5"},
        )

    async def _run(self, function, timeout: float):
        if self._slots.locked():
            if self._waiting >= self.settings.max_waiting_requests:
                raise self._busy()
            self._waiting += 1
            try:
                await asyncio.wait_for(self._slots.acquire(), self.settings.queue_timeout)
            except asyncio.TimeoutError:
                raise self._busy() from None
            finally:
                self._waiting -= 1
        else:
            await self._slots.acquire()
        self._running += 1
        try:
            return await asyncio.to_thread(function)
        except RemoteTimeout:
            raise EndpointError(
                504, f"The query was stopped after {timeout:g} s, this endpoint's time limit; simplify it or add a LIMIT."
            ) from None
        except ResultTooLarge:
            raise EndpointError(503, self._too_large()) from None
        except SyntaxError as error:
            raise EndpointError(400, f"The triple store refused the request: {error}") from None
        except RemoteStoreError as error:
            raise EndpointError(502, f"The triple store failed: {error}") from None
        except ValueError as error:  # a base IRI that is no IRI (the request's Host header): `backends.iri_term`
            raise EndpointError(400, f"The request cannot be sent on: {error}.") from None
        finally:
            self._running -= 1
            self._slots.release()

    def _too_large(self) -> str:
        return f"The result is larger than this endpoint's limit of {self.settings.max_result_bytes} bytes; add a LIMIT or narrow the query."

    def _serialise(self, results, fmt: negotiation.Format) -> dict:
        sink = _CappedBuffer(self.settings.max_result_bytes)
        try:
            results.serialize(sink, fmt.oxigraph)
        except Exception:
            if sink.overflowed:
                raise EndpointError(503, self._too_large()) from None
            raise
        return {"body": sink.getvalue(), "content_type": fmt.content_type}

    # -- reading -------------------------------------------------------------------

    async def read(self, job: dict, timeout: float) -> dict:
        handler = {"query": self._query, "graph_get": self._graph_get, "statistics": self._statistics_job}[job["op"]]
        if job["op"] == "query":
            return await self._cached(job, lambda: handler(job, timeout))
        return await handler(job, timeout)

    async def _query(self, job: dict, timeout: float) -> dict:
        text = job["query"]
        try:
            found = security.inspect_request_query(text)
        except ParseException as error:
            problem = explain(text, security.parse_error_message(error), "query")
            raise EndpointError(400, problem.message(), details=problem.as_json()) from None
        security.check_outbound(found, self.settings)
        kind = negotiation.RESULTS if found.form in ("SELECT", "ASK") else negotiation.GRAPH
        try:
            fmt = negotiation.choose_format(kind, job.get("accept"), job.get("format"))
        except negotiation.NotAcceptable as error:
            raise EndpointError(406, str(error)) from None
        kwargs: dict[str, Any] = {}
        default_graphs, named_graphs = job.get("default_graphs"), job.get("named_graphs")
        if default_graphs or named_graphs:
            kwargs["default_graph"] = [ox.NamedNode(iri) for iri in default_graphs or []]
            kwargs["named_graphs"] = [ox.NamedNode(iri) for iri in named_graphs or []]
        elif self.settings.union_default_graph and not found.has_dataset_clause:
            kwargs["use_default_graph_as_union"] = True
        query = partial(
            self.store.query, text, base_iri=job.get("base_iri"), timeout=timeout,
            max_bytes=self.settings.max_result_bytes, **kwargs,
        )
        # pyoxigraph results belong to the thread that made them: read and serialise them there.
        return await self._run(lambda: self._serialise(query(), fmt), timeout)

    async def _graph_get(self, job: dict, timeout: float) -> dict:
        try:
            fmt = negotiation.choose_format(negotiation.GRAPH, job.get("accept"), job.get("format"))
        except negotiation.NotAcceptable as error:
            raise EndpointError(406, str(error)) from None
        graph = job.get("graph")
        construct = sparql.load("union-construct")
        if graph is None:
            run = partial(self.store.query, construct, use_default_graph_as_union=self.settings.union_default_graph,
                          timeout=timeout, max_bytes=self.settings.max_result_bytes)
        else:
            name = ox.NamedNode(graph)
            if not await self._run(partial(self.store.contains_named_graph, name), timeout):
                raise EndpointError(404, f"No graph <{graph}> in this store.")
            run = partial(self.store.query, construct, default_graph=[name], named_graphs=[],
                          timeout=timeout, max_bytes=self.settings.max_result_bytes)
        return await self._run(lambda: self._serialise(run(), fmt), timeout)

    async def _statistics_job(self, job: dict, timeout: float) -> dict:
        def count() -> dict:
            graphs = self.store.graph_triple_counts()
            if not self.settings.union_default_graph:
                return {"graphs": sorted(graphs.items()), "default_triples": 0}
            # the default graph as queries see it: the load's merge graph, each distinct triple once
            (row,) = self.store.query(sparql.load("union-triples"), use_default_graph_as_union=True, timeout=timeout)
            return {"graphs": sorted(graphs.items()), "default_triples": int(row["n"].value)}

        return await self._run(count, timeout)

    async def prepared(self, query, bindings=None, *, fmt=None, hide=(), timeout: float | None = None,
                       page: tuple[int, int] | None = None):
        """`StorePool.prepared` on the remote store: the release's precomputed answer when it holds one
        (`aggregates`, looked up as `StorePool.prepared` does), else a kept answer, else `run_prepared`."""
        job = prepared_job(query, bindings, fmt, hide, page)
        reply = await precomputed_reply(self.aggregates(), job, query, bindings, fmt, hide, page, None)
        if reply is not None:
            self.counters["aggregate-answers"] += 1
        else:
            reply = await self._cached(job, lambda: self.run_prepared(query, bindings, fmt=fmt, hide=hide, timeout=timeout, page=page))
        if fmt is not None:
            return reply
        return await _unpickle(reply["body"], None)

    async def run_prepared(self, query, bindings=None, *, fmt=None, hide=(), timeout: float | None = None,
                           page: tuple[int, int] | None = None) -> dict:
        """Run one of the server's own queries on the remote store: ``{"body", "content_type"}`` (pickled values
        without ``fmt``). The substitutions are bound by a VALUES block (`icgraph.backends.bind_substitutions`,
        inside `RemoteStore.query`); the same answers and errors as a reader's. Also what a release's remote
        aggregates are computed with (`icgraph.precompute.RemoteRecorder`)."""
        from icgraph.server.prepared import substitutions
        from icgraph.sparql import as_values

        text, by_variable = substitutions(query, bindings)
        timeout = self.settings.query_timeout if timeout is None else timeout
        run = partial(
            self.store.query, text, use_default_graph_as_union=True, timeout=timeout,
            substitutions={ox.Variable(name): term for name, term in by_variable.items()} or None,
            max_bytes=self.settings.max_result_bytes,
        )

        # pyoxigraph results belong to the thread that made them: read and serialise them there.
        def serialised() -> dict:
            from icgraph.queries import without_variables

            if page is not None:
                from icgraph.server.paging import page_of

                results, more = page_of(run(), *page, text)
                return {**self._serialise(without_variables(results, set(hide)), fmt), "more": more}
            return self._serialise(without_variables(run(), set(hide)), fmt)

        def pickled() -> dict:  # values are kept pickled, so that each caller gets its own copy
            return {"body": pickle.dumps(as_values(run()), protocol=pickle.HIGHEST_PROTOCOL), "content_type": PICKLED}

        return await self._run(serialised if fmt is not None else pickled, timeout)

    def _loaded_release(self) -> Release | None:
        """The release loaded into the store, while the store holds just that: None without a release, and from the
        first write through this server on (`release_id` moves with each write, and so do the pages' caches)."""
        release = self.release
        if release is None or self._writes or (self._write_lock is not None and self._write_lock.locked()):
            return None
        return release

    def _loaded_graphs(self) -> list[str] | None:
        """The graphs of the release loaded into the store (`icgraph load` checked each one's triples), or None."""
        release = self._loaded_release()
        return None if release is None else [graph for graph, triples in release.manifest["graphs"].items() if triples]

    def aggregates(self):
        """The answers this store gave when the served release was loaded into it (`icgraph.aggregates.remote_aggregates_file`),
        or None when the store may hold other data than that release (`_loaded_release`)."""
        release = self._loaded_release()
        if release is None:
            return None
        if self._aggregates_of is None or self._aggregates_of.release_id != release.id:
            from icgraph.aggregates import Aggregates, remote_aggregates_file

            self._aggregates_of = Aggregates(release, remote_aggregates_file(self.store.endpoint))
        return self._aggregates_of

    async def statistics(self, timeout: float = 30.0) -> dict:
        """Named graphs with their triple counts: the loaded release's manifest says them (`icgraph load` checked
        the store's per graph), else they are counted (cached for a minute: a remote load can change them).
        Counted on Virtuoso at 100x, they took 19 s to more than 30 s of the home page."""
        release = self._loaded_release()
        if release is not None:
            manifest = release.manifest
            return {"graphs": sorted(manifest["graphs"].items()), "default_triples": manifest["triples"]}
        loop = asyncio.get_running_loop()
        if self._statistics and loop.time() - self._statistics[0] < 60:
            return self._statistics[1]
        result = await self.read({"op": "statistics"}, timeout)
        self._statistics = (loop.time(), result)
        return result

    # -- writing -------------------------------------------------------------------

    async def write(self, job: dict, timeout: float) -> dict:
        if not self.writable:
            raise EndpointError(403, "Updates are disabled on this endpoint.")
        try:
            await asyncio.wait_for(self._write_lock.acquire(), self.settings.queue_timeout)
        except asyncio.TimeoutError:
            raise EndpointError(503, "Another update is running; please retry shortly.", {"Retry-After": "5"}) from None
        try:
            if job["op"] == "update":
                return await self._update(job, timeout)
            return await self._graph_write(job, timeout)
        finally:
            self._statistics = None
            self._writes += 1  # a new release id: nothing kept before this write is served after it
            self._write_lock.release()

    async def _update(self, job: dict, timeout: float) -> dict:
        text = job["update"]
        using, using_named = job.get("using") or [], job.get("using_named") or []
        try:
            found = security.inspect_update(text)
        except ParseException as error:
            problem = explain(text, security.parse_error_message(error), "update")
            raise EndpointError(400, problem.message(), details=problem.as_json()) from None
        text = security.prepare_update(text, found, using, using_named, self.settings)
        await self._run(partial(self.store.update, text, base_iri=job.get("base_iri"), timeout=timeout), timeout)
        await self._refresh_merge(timeout)
        return {}

    async def _refresh_merge(self, timeout: float) -> None:
        """After a write, the merge graph (the default graph readers see) follows the live graphs.

        A separate request: for its duration a reader may still see the merge as it was before
        the write (the graphs themselves have changed). Its cost grows with the store (it rewrites
        the merge), which suits the occasional administrator's write this endpoint takes.
        """
        await self._run(partial(self.store.refresh_merge, timeout=timeout), timeout)

    async def _graph_write(self, job: dict, timeout: float) -> dict:
        graph = job.get("graph")
        if graph is None:
            raise EndpointError(400, "The default graph of a remote store is not written through icgraph; name a graph.")
        name = ox.NamedNode(graph)
        existed = await self._run(partial(self.store.contains_named_graph, name), timeout)
        if job["op"] == "graph_delete":
            if not existed:
                raise EndpointError(404, f"No graph <{graph}> in this store.")
            await self._run(partial(self.store.drop_graphs, [graph]), timeout)
            await self._refresh_merge(timeout)
            return {"created": False}
        triples = []
        for data, media_type in job["parts"]:
            rdf_format = ox.RdfFormat.from_media_type(media_type or "")
            if rdf_format is None:
                raise EndpointError(415, f"Cannot read RDF sent as {media_type!r}; send Turtle, N-Triples, RDF/XML, JSON-LD, TriG or N-Quads.")
            try:
                triples.extend(q.triple if isinstance(q, ox.Quad) else q for q in ox.parse(data, rdf_format, base_iri=job.get("base_iri") or graph))
            except (SyntaxError, ValueError) as error:
                raise EndpointError(400, f"Cannot parse the {media_type} body: {error}") from None

        def write() -> None:
            if job["op"] == "graph_put" and existed:
                self.store.drop_graphs([graph])
            self.store.insert_triples(graph, triples)

        await self._run(write, timeout)
        await self._refresh_merge(timeout)
        return {"created": not existed}
