"""Where the graph lives: the embedded Oxigraph store, or a production triple store over HTTP.

``--store`` / ``ICGRAPH_STORE`` names one of two backends (`parse_location`):

- ``PATH`` or ``oxigraph:PATH``: the embedded Oxigraph store (`icgraph.store`), the default;
- ``sparql+http://host:port/path`` (or ``sparql+https://``): any store that speaks the SPARQL 1.1
  Protocol. Queries go to ``http://host:port/path``; updates to ``ICGRAPH_STORE_UPDATE_URL``; whole
  graphs, when ``ICGRAPH_STORE_GSP_URL`` is set, through the Graph Store Protocol. The user name and
  password come from ``ICGRAPH_STORE_USER`` / ``ICGRAPH_STORE_PASSWORD`` only (HTTP digest or basic,
  whichever the store asks for), never from the command line or the URL.

`RemoteStore` answers the calls the rest of icgraph makes on a ``pyoxigraph.Store`` —
``query(text, use_default_graph_as_union=, substitutions=, default_graph=, named_graphs=,
prefixes=, base_iri=)``, ``named_graphs()``, ``contains_named_graph()``, ``len()``, ``dump()`` —
and returns pyoxigraph's own result objects, so pages, APIs, analysis and the query library
run unchanged on either backend. `publish` loads a dump into either one atomically.
docs/triple-stores.md says how each engine is configured and where they differ.
"""

from __future__ import annotations

import os
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TYPE_CHECKING
from urllib.parse import urlencode

import pyoxigraph as ox

from icgraph import sparql
from icgraph.namespaces import GRAPH
from icgraph.sparql.text import bind_substitutions, bind_update, query_form
from icgraph.store import StoreError

if TYPE_CHECKING:  # httpx is imported where a remote store is used: it costs ~0.1 s at start-up
    import httpx

REMOTE_SCHEMES = ("sparql+http://", "sparql+https://")
OXIGRAPH_SCHEME = "oxigraph:"
ENGINES = ("generic", "virtuoso", "fuseki", "graphdb", "qlever")

#: Graphs being loaded live under this prefix until the switch; a killed load leaves only these.
STAGING_PREFIX = "urn:icgraph:staging:"
#: The graph that holds the RDF merge of icgraph's live graphs (this prefix + the graph prefix):
#: readers ask it as their default graph, so a triple stated in two graphs is matched once.
MERGE_PREFIX = "urn:icgraph:merge:"
#: How long the list of live graphs (the union default graph) is reused before asking again, seconds.
GRAPH_LIST_TTL = 10.0
#: Triples per SPARQL Update request when loading without the Graph Store Protocol.
DEFAULT_BATCH_TRIPLES = 2000

_XSD = "http://www.w3.org/2001/XMLSchema#"
_BOOLEAN = ox.NamedNode(_XSD + "boolean")
_RESULTS_ACCEPT = "application/sparql-results+json, application/sparql-results+xml;q=0.9"
_GRAPH_ACCEPT = "application/n-triples, text/turtle;q=0.9, application/rdf+xml;q=0.5"


class RemoteStoreError(OSError):
    """The remote store failed or refused a request (pyoxigraph raises OSError for store errors too)."""


class RemoteTimeout(RemoteStoreError):
    """The remote store did not answer within the time limit."""


class ResultTooLarge(RemoteStoreError):
    """The remote answer is larger than the limit the caller set."""


class SwitchedWrong(StoreError):
    """The store switched to the loaded graphs but does not serve what was sent: unlike any other load error,
    the store *was* changed."""


class RemoteRefusal(RemoteStoreError):
    """The remote store answered the request with an error: it did not do it. (A gateway's 502, 503 or 504 is
    not one: the store behind it may still be doing the request.)"""


#: Errors of a store that a setting of the store mends, by texts its message contains: what to change.
STORE_ERROR_HINTS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("SR325", "log after image"),
     "Virtuoso keeps the changes of one request in its transaction log up to TransactionAfterImageLimit "
     "bytes ([Parameters] in virtuoso.ini; 50,000,000 when unset), and this request needs more. A load "
     "switches every graph in one request: set the limit above half the dump's size in N-Quads (about 45 "
     "bytes for each triple it moves), or to 0 (no limit), restart Virtuoso and load again (docs/triple-stores.md, \"Loading atomically\")."),
    (("SR171", "Transaction timed out"),
     "Virtuoso holds an update to [SPARQL] MaxQueryExecutionTime (virtuoso.ini) too: set it above the time "
     "this request needs, or to 0 (no limit), restart Virtuoso and try again."),
)


# ---------------------------------------------------------------------------
# Where the store is
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RemoteEndpoint:
    """A SPARQL 1.1 store over HTTP: its URLs, credentials and engine."""

    query_url: str
    update_url: str | None = None
    gsp_url: str | None = None
    user: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)
    #: generic, virtuoso, fuseki, graphdb or qlever: how the union default graph is asked for.
    engine: str = "generic"
    #: The graphs icgraph owns in that store (its union default graph and ``named_graphs()``).
    graph_prefix: str = str(GRAPH)

    def __str__(self) -> str:
        return "sparql+" + self.query_url

    def with_urls(self, update_url: str | None = None, gsp_url: str | None = None) -> RemoteEndpoint:
        return replace(self, update_url=update_url or self.update_url, gsp_url=gsp_url or self.gsp_url)

    @property
    def merge_graph(self) -> str:
        """The graph holding the merge of icgraph's graphs (outside ``graph_prefix``: never listed as one of them)."""
        return MERGE_PREFIX + self.graph_prefix


StoreLocation = Path | RemoteEndpoint


def is_remote(location: Any) -> bool:
    return isinstance(location, RemoteEndpoint) or (isinstance(location, str) and location.startswith(REMOTE_SCHEMES))


def parse_location(value: str | Path | RemoteEndpoint, environ: dict[str, str] | None = None) -> StoreLocation:
    """``PATH`` / ``oxigraph:PATH`` -> Path; ``sparql+http(s)://...`` -> RemoteEndpoint (settings from the environment)."""
    if isinstance(value, (Path, RemoteEndpoint)):
        return value
    env = os.environ if environ is None else environ
    text = str(value).strip()
    if text.startswith(OXIGRAPH_SCHEME):
        return Path(text[len(OXIGRAPH_SCHEME):])
    if not text.startswith(REMOTE_SCHEMES):
        return Path(text)
    import httpx

    url = httpx.URL(text[len("sparql+"):])
    if url.userinfo:
        raise StoreError(
            "the store URL carries a user name or password; remove it and set ICGRAPH_STORE_USER and "
            "ICGRAPH_STORE_PASSWORD instead (credentials never go on the command line)"
        )
    if not url.host:
        raise StoreError(f"{text!r} names no host; write sparql+http://HOST:PORT/PATH")
    engine = (env.get("ICGRAPH_STORE_ENGINE") or "generic").strip().lower()
    if engine not in ENGINES:
        raise StoreError(f"ICGRAPH_STORE_ENGINE={engine!r}; use one of {', '.join(ENGINES)}")
    return RemoteEndpoint(
        query_url=str(url),
        update_url=env.get("ICGRAPH_STORE_UPDATE_URL") or None,
        gsp_url=env.get("ICGRAPH_STORE_GSP_URL") or None,
        user=env.get("ICGRAPH_STORE_USER") or None,
        password=env.get("ICGRAPH_STORE_PASSWORD") or None,
        engine=engine,
        graph_prefix=env.get("ICGRAPH_STORE_GRAPH_PREFIX") or str(GRAPH),
    )


def open_store(location: StoreLocation | str, read_only: bool = True, timeout: float | None = None):
    """A ``pyoxigraph.Store`` for a path, a `RemoteStore` for a ``sparql+http`` location."""
    location = parse_location(location)
    if isinstance(location, RemoteEndpoint):
        return RemoteStore(location, timeout=timeout)
    from icgraph.store import open_store as open_embedded

    return open_embedded(location, read_only=read_only)


def publish(
    nquads: Path, location: RemoteEndpoint, progress: Callable[[str], None] | None = None,
    batch: int = DEFAULT_BATCH_TRIPLES,
) -> str:
    """Load an N-Quads dump into a remote store so that readers switch from the old data to the new at once.

    Staging graphs, verified triple counts, then one SPARQL Update that moves them in
    (`RemoteStore.replace_dataset`). Returns a description of what now serves. (An embedded
    store gets a new release instead: `icgraph.publish`.)
    """
    location = parse_location(location)
    with RemoteStore(location) as store:
        report = store.replace_dataset(nquads, progress=progress, batch=batch)
    return f"{location} ({report.triples} triples in {len(report.graphs)} graphs, build {report.build_id})"


# ---------------------------------------------------------------------------
# HTTP authentication: digest or basic, whichever the store asks for
# ---------------------------------------------------------------------------


def _challenge_auth(user: str, password: str) -> httpx.Auth:
    """Credentials sent only when challenged, with the scheme the challenge names (digest preferred)."""
    import httpx

    class ChallengeAuth(httpx.Auth):
        def __init__(self, user: str, password: str):
            self._digest = httpx.DigestAuth(user, password)
            self._basic = httpx.BasicAuth(user, password)
            self._scheme: str | None = None
            self._lock = threading.Lock()

        def auth_flow(self, request: httpx.Request):
            scheme = self._scheme
            if scheme == "digest":
                yield from self._digest.auth_flow(request)
                return
            if scheme == "basic":
                yield from self._basic.auth_flow(request)
                return
            response = yield request
            if response.status_code != 401:
                return
            challenge = response.headers.get("www-authenticate", "").lower()
            with self._lock:
                self._scheme = "digest" if "digest" in challenge else "basic"
            if self._scheme == "digest":
                yield from self._digest.auth_flow(request)
            else:
                yield from self._basic.auth_flow(request)

    return ChallengeAuth(user, password)


# ---------------------------------------------------------------------------
# The remote store
# ---------------------------------------------------------------------------


@dataclass
class LoadReport:
    build_id: str
    graphs: dict[str, int]  # graph IRI -> triples now serving
    removed: list[str]  # graphs of the old data that the new dump no longer has
    cleaned: list[str]  # staging graphs left by an earlier, interrupted load

    @property
    def triples(self) -> int:
        return sum(self.graphs.values())


class RemoteStore:
    """A SPARQL 1.1 Protocol store that answers like a ``pyoxigraph.Store``.

    The union default graph (``use_default_graph_as_union=True``, what every icgraph query uses)
    is the merge of icgraph's live graphs (IRIs under ``endpoint.graph_prefix``). A load writes
    that merge, each distinct triple once, into ``endpoint.merge_graph`` and readers send it as
    the protocol's ``default-graph-uri``: a store that unions several ``default-graph-uri``
    graphs as a multiset (Virtuoso does) would otherwise match a triple stated in two graphs
    twice. A store loaded before the merge graph existed falls back to sending each live graph.
    ``named-graph-uri`` lists the live graphs, so staging graphs, the merge graph and whatever
    else the store holds (Virtuoso's system graphs) stay out. QLever's default graph is already
    the union of all graphs: there nothing is sent. Without the union, the default graph is
    empty (icgraph stores nothing there) and the named graphs are icgraph's.
    """

    def __init__(self, endpoint: RemoteEndpoint, timeout: float | None = None, client: httpx.Client | None = None):
        self.endpoint = endpoint
        self.timeout = timeout
        import httpx

        auth = _challenge_auth(endpoint.user, endpoint.password or "") if endpoint.user else None
        self._client = client or httpx.Client(auth=auth, timeout=httpx.Timeout(timeout or 300.0, connect=10.0), follow_redirects=False)
        self._graphs: tuple[float, list[ox.NamedNode], bool] | None = None
        self._graphs_lock = threading.Lock()
        #: Says icgraph's live graphs without asking the store, or None when it cannot (the server: the graphs
        #: of the release loaded into the store). Counting them took 14 s on Virtuoso at 100x, every
        #: `GRAPH_LIST_TTL`: the first query after each pause waited for it.
        self.known_graphs: Callable[[], list[str] | None] | None = None

    def __enter__(self) -> RemoteStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def __repr__(self) -> str:
        return f"<RemoteStore {self.endpoint}>"

    # -- reading -------------------------------------------------------------------

    def query(
        self,
        query: str,
        *,
        base_iri: str | None = None,
        prefixes: dict[str, str] | None = None,
        use_default_graph_as_union: bool = False,
        default_graph=None,
        named_graphs=None,
        substitutions: dict | None = None,
        timeout: float | None = None,
        max_bytes: int | None = None,
    ):
        """Run a query; return ``QuerySolutions``, ``QueryBoolean`` or ``QueryTriples`` as pyoxigraph does.

        Raises SyntaxError when the store rejects the query (HTTP 400), `RemoteTimeout` after
        ``timeout`` seconds, `ResultTooLarge` past ``max_bytes``, `RemoteStoreError` otherwise.
        """
        text = query
        if substitutions:
            text = bind_substitutions(text, substitutions)
        prologue = "".join(f"PREFIX {name}: {iri_term(iri)}\n" for name, iri in (prefixes or {}).items())
        if base_iri:  # the endpoint's own URL, whose host the request's Host header names
            prologue = f"BASE {iri_term(base_iri)}\n" + prologue
        text = prologue + text
        form = query_form(text)
        data: list[tuple[str, str]] = [("query", text)]
        data += self._dataset(use_default_graph_as_union, default_graph, named_graphs)
        accept = _RESULTS_ACCEPT if form in ("SELECT", "ASK") else _GRAPH_ACCEPT
        body, content_type = self._post(self.endpoint.query_url, data, accept, timeout, max_bytes)
        return _results(body, content_type, form)

    def named_graphs(self) -> Iterator[ox.NamedNode]:
        """icgraph's live graphs in the store (staging graphs and the store's other graphs left out)."""
        return iter(self._live_graphs(fresh=True))

    def contains_named_graph(self, graph) -> bool:
        return any(g == graph for g in self._live_graphs(fresh=True))

    def __len__(self) -> int:
        results = self.query(sparql.load("quad-count"))
        return int(next(iter(results))["n"].value)

    def dump(self, output=None, format=None, *, from_graph=None, prefixes=None):
        """Write the quads of icgraph's graphs (or the triples of ``from_graph``) like ``Store.dump``."""
        graphs = [from_graph] if from_graph is not None else self._live_graphs(fresh=True)
        quads = []
        for graph in graphs:
            triples = self.query(
                sparql.read("graph-construct"), substitutions=None,
                default_graph=[], named_graphs=[graph],
            )
            name = graph if from_graph is None else ox.DefaultGraph()
            quads.extend(ox.Quad(t.subject, t.predicate, t.object, name) for t in triples)
        return ox.serialize(quads, output, format, prefixes=prefixes)

    def graph_triple_counts(self, prefix: str | None = None) -> dict[str, int]:
        """Triples per named graph whose IRI starts with ``prefix`` (icgraph's graphs by default)."""
        prefix = self.endpoint.graph_prefix if prefix is None else prefix
        query = bind_substitutions(sparql.read("remote-graph-triple-counts"), {ox.Variable("prefix"): ox.Literal(prefix)})
        body, content_type = self._post(self.endpoint.query_url, [("query", query)], _RESULTS_ACCEPT, None, None)
        return {row["g"].value: int(row["n"].value) for row in _results(body, content_type, "SELECT")}

    def _live_graphs(self, fresh: bool = False) -> list[ox.NamedNode]:
        return self._graph_list(fresh)[0]

    def _graph_list(self, fresh: bool = False) -> tuple[list[ox.NamedNode], bool]:
        """icgraph's live graphs, and whether the merge graph is there (reused for `GRAPH_LIST_TTL`)."""
        with self._graphs_lock:
            if not fresh and self._graphs and time.monotonic() - self._graphs[0] < GRAPH_LIST_TTL:
                return self._graphs[1], self._graphs[2]
        known = self.known_graphs() if self.known_graphs is not None else None
        graphs = [ox.NamedNode(iri) for iri in sorted(self.graph_triple_counts() if known is None else known)]
        merge = ox.NamedNode(self.endpoint.merge_graph)
        # ASK, not a count: the merge graph holds every distinct triple, and this runs every GRAPH_LIST_TTL
        has_merge = bool(self.query(sparql.load("graph-holds-triples"), substitutions={ox.Variable("g"): merge},
                                    default_graph=[], named_graphs=[merge]))
        with self._graphs_lock:
            self._graphs = (time.monotonic(), graphs, has_merge)
        return graphs, has_merge

    def refresh_merge(self, timeout: float | None = None) -> None:
        """Make the merge graph hold the merge of the live graphs again (after a write to one of them)."""
        substitutions = {"merge": ox.NamedNode(self.endpoint.merge_graph), "prefix": ox.Literal(self.endpoint.graph_prefix)}
        self.update(bind_update(sparql.read("remote-merge-refresh"), substitutions), timeout=timeout)

    def _dataset(self, union: bool, default_graph, named_graphs) -> list[tuple[str, str]]:
        """The protocol dataset (default-graph-uri / named-graph-uri) that gives Oxigraph's semantics."""
        if default_graph is not None or named_graphs is not None:
            defaults = default_graph if isinstance(default_graph, list) else ([] if default_graph is None else [default_graph])
            pairs = []
            for graph in defaults:
                if not isinstance(graph, ox.NamedNode):
                    raise ValueError("a remote store's dataset can only name graphs by IRI")
                pairs.append(("default-graph-uri", graph.value))
            pairs += [("named-graph-uri", g.value) for g in (named_graphs or [])]
            if not pairs and named_graphs is not None:
                pairs = [("named-graph-uri", STAGING_PREFIX + "none")]  # an empty dataset
            return pairs
        if union and self.endpoint.engine == "qlever":
            return []
        graphs, has_merge = self._graph_list()
        named = [("named-graph-uri", g.value) for g in graphs] or [("named-graph-uri", STAGING_PREFIX + "none")]
        if union and has_merge:
            return [("default-graph-uri", self.endpoint.merge_graph)] + named
        if union:
            return [("default-graph-uri", g.value) for g in graphs] + named
        return named

    def _post(self, url: str, data: list[tuple[str, str]], accept: str, timeout: float | None, max_bytes: int | None) -> tuple[bytes, str]:
        import httpx

        limit = timeout or self.timeout
        request_timeout = httpx.Timeout(limit, connect=min(limit, 10.0)) if limit else httpx.USE_CLIENT_DEFAULT
        try:
            with self._client.stream(
                "POST", url, content=urlencode(data).encode("utf-8"), timeout=request_timeout,
                headers={"Accept": accept, "Content-Type": "application/x-www-form-urlencoded"},
            ) as response:
                chunks, size = [], 0
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if max_bytes is not None and size > max_bytes:
                        raise ResultTooLarge(f"the answer is larger than {max_bytes} bytes")
                    chunks.append(chunk)
                body = b"".join(chunks)
        except httpx.TimeoutException:
            raise RemoteTimeout(f"{self.endpoint} did not answer within {limit:g} s") from None
        except httpx.HTTPError as error:
            raise RemoteStoreError(f"cannot reach the triple store at {url}: {error}") from None
        _check_response(response, body, url)
        return body, response.headers.get("content-type", "")

    # -- writing -------------------------------------------------------------------

    def update(self, update: str, *, base_iri: str | None = None, timeout: float | None = None) -> None:
        """Run a SPARQL Update on ``endpoint.update_url``."""
        url = self.endpoint.update_url
        if not url:
            raise StoreError(
                "no update URL for the remote store; set ICGRAPH_STORE_UPDATE_URL or --store-update-url "
                "(Virtuoso: http://HOST:8890/sparql-auth, Fuseki: http://HOST:3030/DATASET/update, "
                "GraphDB: http://HOST:7200/repositories/REPO/statements)"
            )
        text = f"BASE {iri_term(base_iri)}\n{update}" if base_iri else update
        self._post(url, [("update", text)], "*/*", timeout, None)
        with self._graphs_lock:
            self._graphs = None

    def insert_triples(self, graph: str, triples: list[ox.Triple], batch: int = DEFAULT_BATCH_TRIPLES) -> None:
        """Add triples to ``graph``: one Graph Store POST when a GSP URL is set, else SPARQL Update batches.

        A batch never splits the triples that share a blank node, since each request is its own
        blank-node scope; batches with blank nodes use ``INSERT {..} WHERE {}`` (Virtuoso refuses
        blank nodes in INSERT DATA).
        """
        if not triples:
            return
        if self.endpoint.gsp_url:
            self._gsp("POST", graph, triples)
            return
        for chunk in _batches(triples, batch):
            body = "\n".join(f"{t.subject} {t.predicate} {t.object} ." for t in chunk)
            if any(isinstance(t.subject, ox.BlankNode) or isinstance(t.object, ox.BlankNode) for t in chunk):
                self.update(f"INSERT {{ GRAPH {iri_term(graph)} {{\n{body}\n}} }} WHERE {{}}")
            else:
                self.update(f"INSERT DATA {{ GRAPH {iri_term(graph)} {{\n{body}\n}} }}")

    def drop_graphs(self, graphs: Iterable[str]) -> None:
        graphs = list(graphs)
        if graphs:
            self.update(" ;\n".join(f"DROP SILENT GRAPH {iri_term(g)}" for g in graphs))

    def _gsp(self, method: str, graph: str, triples: list[ox.Triple]) -> None:
        import httpx

        body = ox.serialize(triples, None, ox.RdfFormat.N_TRIPLES)
        try:
            response = self._client.request(
                method, self.endpoint.gsp_url, params={"graph": graph}, content=body,
                headers={"Content-Type": "text/turtle; charset=utf-8"},  # N-Triples is Turtle; every GSP store reads Turtle
                timeout=httpx.Timeout(None, connect=10.0),
            )
        except httpx.HTTPError as error:
            raise RemoteStoreError(f"cannot reach the Graph Store at {self.endpoint.gsp_url}: {error}") from None
        _check_response(response, response.content, self.endpoint.gsp_url)

    # -- loading a whole dataset atomically ---------------------------------------------

    def replace_dataset(
        self, nquads: Path, *, batch: int = DEFAULT_BATCH_TRIPLES, progress: Callable[[str], None] | None = None
    ) -> LoadReport:
        """Replace icgraph's graphs in the store with the dump's, so that readers see old or new, never a mix.

        1. staging graphs left by an interrupted load (``urn:icgraph:staging:*``) are dropped;
        2. each graph of the dump is written to ``urn:icgraph:staging:BUILD:GRAPH`` (the live graphs
           keep serving meanwhile);
        3. the staging graphs' triple counts are checked against the dump; on any difference, or
           any error, the staging graphs are dropped and the live graphs are untouched;
        4. one SPARQL Update request MOVEs every staging graph onto its live name and drops live
           graphs the dump no longer has. The store runs a request as one transaction (Virtuoso,
           Fuseki/TDB2, GraphDB do), so a reader sees it all or none of it; a loader killed before
           this request leaves only staging graphs, which step 1 of the next load removes. A switch
           the store refuses (Virtuoso past its TransactionAfterImageLimit, say) it has undone: the
           staging graphs are dropped and the error says what to change (`STORE_ERROR_HINTS`).
        5. the live graphs' and the merge's triple counts are checked against the dump again. A merge
           short of triples while every graph is right is made again from the graphs (Virtuoso 7.2.5
           at 100x: 2 of 3 loads, 159,387 and 389,552 of 4,717,064 merged triples missing after the
           MOVE; rebuilt in 107 s). Any other difference fails the load, loudly (`SwitchedWrong`).

        The merge of the dump's graphs (each distinct triple once) is staged and switched the same
        way, onto ``endpoint.merge_graph``: the default graph readers ask for.
        """
        say = progress or (lambda message: None)
        dataset = _read_dump(nquads)
        merge = self.endpoint.merge_graph
        dataset[merge] = list(dict.fromkeys(t for graph, triples in dataset.items() for t in triples))
        build_id = time.strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(3)
        leftovers = sorted(self.graph_triple_counts(STAGING_PREFIX))
        if leftovers:
            say(f"dropping {len(leftovers)} staging graph(s) of an interrupted load")
            self.drop_graphs(leftovers)
        staging = {graph: f"{STAGING_PREFIX}{build_id}:{graph}" for graph in dataset}
        try:
            for number, (graph, triples) in enumerate(dataset.items(), 1):
                self.insert_triples(staging[graph], triples, batch=batch)
                say(f"staged {number}/{len(dataset)}: {graph} ({len(triples)} triples)")
            counts = self.graph_triple_counts(STAGING_PREFIX + build_id + ":")
            wrong = _miscounted(dataset, {graph: counts.get(staging[graph], 0) for graph in dataset})
            if wrong:
                raise StoreError(f"the store does not hold what was sent ({_details(wrong)}); nothing was switched")
            say("triple counts verified")
        except BaseException:
            self._drop_staging(staging.values())
            raise
        live = set(self.graph_triple_counts())
        removed = sorted(live - set(dataset))
        operations = [f"MOVE SILENT GRAPH {iri_term(staging[g])} TO GRAPH {iri_term(g)}" if dataset[g] else f"DROP SILENT GRAPH {iri_term(g)}"
                      for g in dataset]
        operations += [f"DROP SILENT GRAPH {iri_term(g)}" for g in removed]
        try:
            self.update(" ;\n".join(operations))
        except RemoteRefusal:  # the store refused the switch (and undid it): its staging graphs go too
            self._drop_staging(staging.values())
            raise
        serving = self.graph_triple_counts()
        wrong = _miscounted(dataset, {**serving, **self._merge_count()})
        if set(wrong) == {merge}:  # every graph right, their merge short: made again from them
            (sent, held), started = wrong[merge], time.monotonic()
            try:
                self.refresh_merge()
            except RemoteStoreError as error:
                raise SwitchedWrong(f"the store switched to build {build_id}, but its merge graph held {held} of {sent} "
                                    f"triples, and making it again failed: {error}") from None
            wrong = _miscounted({merge: dataset[merge]}, self._merge_count())
            if not wrong:
                say(f"the merge graph held {held} of {sent} triples after the switch: made again from the graphs "
                    f"in {time.monotonic() - started:.0f} s")
        if wrong:  # the store said the switch was done: what it serves now is not what was sent
            raise SwitchedWrong(f"the store switched to build {build_id} but does not serve what was sent ({_details(wrong)}); "
                                "load again, and check the store's log")
        del dataset[merge]
        say(f"switched: build {build_id} serves, triple counts verified")
        return LoadReport(build_id=build_id, graphs=serving, removed=removed, cleaned=leftovers)

    def _merge_count(self) -> dict[str, int]:
        merge = ox.NamedNode(self.endpoint.merge_graph)
        return {row["g"].value: int(row["n"].value)
                for row in self.query(sparql.load("graph-triple-counts"), default_graph=[], named_graphs=[merge])}

    def _drop_staging(self, graphs: Iterable[str]) -> None:
        """Drop a failed load's staging graphs if the store lets us; the next load drops what is left."""
        try:
            self.drop_graphs(graphs)
        except Exception:  # noqa: BLE001 - the load's own error is the one to report
            pass


def _miscounted(dataset: dict[str, list], counts: dict[str, int]) -> dict[str, tuple[int, int]]:
    """The graphs of ``dataset`` whose count in the store differs from the dump's: (dump, store)."""
    return {graph: (len(triples), counts.get(graph, 0)) for graph, triples in dataset.items() if counts.get(graph, 0) != len(triples)}


def _details(wrong: dict[str, tuple[int, int]]) -> str:
    return "; ".join(f"{g}: dump {want}, store {got}" for g, (want, got) in sorted(wrong.items()))


def iri_term(iri: str) -> str:
    """``iri`` as an IRI term of SPARQL text (``<...>``), checked by Oxigraph's IRI parser.

    SPARQL Update's graph management (``DROP``, ``MOVE``, ``INSERT DATA``) names graphs in its
    syntax: there is no WHERE clause whose substitutions could bind them. The IRIs are icgraph's
    own graph names, but each still goes through `ox.NamedNode`, which refuses any character
    that could end the term (``>``, spaces, quotes), so no value can become query text.
    """
    try:
        return str(ox.NamedNode(iri))
    except ValueError as error:
        raise ValueError(f"{iri!r} is not an IRI ({error}), so it is not sent to the triple store") from None


def _read_dump(nquads: Path) -> dict[str, list[ox.Triple]]:
    """The dump's triples per named graph (distinct, in file order); refuses quads in the default graph."""
    graphs: dict[str, dict[ox.Triple, None]] = {}
    for quad in ox.parse(path=str(nquads), format=ox.RdfFormat.N_QUADS):
        if not isinstance(quad.graph_name, ox.NamedNode):
            raise StoreError(f"{nquads}: a quad outside a named graph ({quad}); icgraph keeps every triple in a named graph")
        graphs.setdefault(quad.graph_name.value, {})[quad.triple] = None
    return {graph: list(triples) for graph, triples in graphs.items()}


def _batches(triples: list[ox.Triple], size: int) -> Iterator[list[ox.Triple]]:
    """Batches of about ``size`` triples; the triples linked by blank nodes stay in one batch."""
    parent: dict[ox.BlankNode, ox.BlankNode] = {}

    def find(node):
        while parent.setdefault(node, node) != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for t in triples:
        if isinstance(t.subject, ox.BlankNode) and isinstance(t.object, ox.BlankNode):
            parent[find(t.subject)] = find(t.object)
    groups: dict[Any, list[ox.Triple]] = {}
    plain: list[ox.Triple] = []
    for t in triples:
        node = t.subject if isinstance(t.subject, ox.BlankNode) else t.object if isinstance(t.object, ox.BlankNode) else None
        if node is None:
            plain.append(t)
        else:
            groups.setdefault(find(node), []).append(t)
    batch: list[ox.Triple] = []
    for unit in [[t] for t in plain] + list(groups.values()):
        if batch and len(batch) + len(unit) > size:
            yield batch
            batch = []
        batch.extend(unit)
    if batch:
        yield batch


def _string(value: str) -> str:
    return str(ox.Literal(value))


def _check_response(response: httpx.Response, body: bytes, url: str) -> None:
    if response.status_code == 400:
        raise SyntaxError(_message(body) or f"{url} refused the request (400)")
    if response.status_code in (401, 403):
        raise RemoteStoreError(
            f"{url} refused the credentials ({response.status_code}); check ICGRAPH_STORE_USER / ICGRAPH_STORE_PASSWORD"
        )
    if response.status_code >= 300:
        message = _message(body)
        hint = next((hint for texts, hint in STORE_ERROR_HINTS if all(text in message for text in texts)), None)
        if hint:  # after the store's own first line, before the request it quotes
            first, _, rest = message.partition("\n")
            message = f"{first}\n{hint}\n{rest}".rstrip()
        refused = RemoteStoreError if response.status_code in (502, 503, 504) else RemoteRefusal
        raise refused(f"{url} answered {response.status_code}: {message}")
    # Virtuoso answers a query stopped by its own limits with partial results and these headers.
    if "x-sql-state" in response.headers or "x-sparql-maxrows" in response.headers:
        reason = response.headers.get("x-sql-message") or "the result was cut at the server's ResultSetMaxRows"
        raise RemoteStoreError(f"{url} returned a partial result ({reason}); raise the store's limits or narrow the query")


def _message(body: bytes) -> str:
    return body.decode("utf-8", "replace").strip()[:2000]


def _results(body: bytes, content_type: str, form: str):
    media = content_type.split(";")[0].strip().lower()
    if form in ("SELECT", "ASK"):
        fmt = ox.QueryResultsFormat.XML if "xml" in media else ox.QueryResultsFormat.JSON
        if fmt is ox.QueryResultsFormat.JSON and b'"bnode"' in body:
            body = _safe_blank_nodes(body)
        try:
            results = ox.parse_query_results(body, fmt)
        except SyntaxError as error:
            raise RemoteStoreError(f"the store's {media or 'unlabelled'} results cannot be read: {error}") from None
        if isinstance(results, ox.QuerySolutions) and b"XMLSchema#boolean" in body:
            return _canonical_solutions(results)
        return results
    rdf_format = ox.RdfFormat.from_media_type(media) or ox.RdfFormat.N_TRIPLES
    graph = ox.Store()
    graph.bulk_extend(ox.Quad(t.subject, t.predicate, t.object, ox.DefaultGraph()) for t in _triples(body, rdf_format))
    # A genuine QueryTriples (serialize(), isinstance checks): the store's answer, read back from memory.
    return graph.query(sparql.read("default-construct"))


def _safe_blank_nodes(body: bytes) -> bytes:
    """Give blank nodes identifiers RDF allows: Virtuoso writes them as ``nodeID://b10001``."""
    import hashlib
    import json

    document = json.loads(body)
    for binding in document.get("results", {}).get("bindings", []):
        for term in binding.values():
            if term.get("type") == "bnode" and not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*", term["value"]):
                term["value"] = "b" + hashlib.sha1(term["value"].encode()).hexdigest()[:16]
    return json.dumps(document).encode()


def _triples(body: bytes, rdf_format) -> Iterator[ox.Triple]:
    for item in ox.parse(body, rdf_format):
        yield _canonical_triple(item.triple if isinstance(item, ox.Quad) else item)


def _canonical(term):
    """Undo a store's rewriting of a literal where the original is certain (Virtuoso's xsd:boolean 1/0)."""
    if isinstance(term, ox.Literal) and term.datatype == _BOOLEAN and term.value in ("1", "0"):
        return ox.Literal("true" if term.value == "1" else "false", datatype=_BOOLEAN)
    return term


def _canonical_triple(triple: ox.Triple) -> ox.Triple:
    return ox.Triple(triple.subject, triple.predicate, _canonical(triple.object))


def _canonical_solutions(results: ox.QuerySolutions):
    """The solutions with `_canonical` literals, as a genuine ``QuerySolutions`` (re-read from JSON)."""
    variables = results.variables
    return _solutions(variables, [[_canonical(solution[v]) for v in variables] for solution in results])


def _solutions(variables: list[ox.Variable], rows: list[list]) -> ox.QuerySolutions:
    import json

    def term(value):
        if isinstance(value, ox.NamedNode):
            return {"type": "uri", "value": value.value}
        if isinstance(value, ox.BlankNode):
            return {"type": "bnode", "value": value.value}
        if value.language:
            return {"type": "literal", "value": value.value, "xml:lang": value.language}
        return {"type": "literal", "value": value.value, "datatype": value.datatype.value}

    document = {
        "head": {"vars": [v.value for v in variables]},
        "results": {"bindings": [{v.value: term(x) for v, x in zip(variables, row) if x is not None} for row in rows]},
    }
    return ox.parse_query_results(json.dumps(document).encode(), ox.QueryResultsFormat.JSON)


__all__ = [
    "ENGINES",
    "LoadReport",
    "RemoteEndpoint",
    "RemoteStore",
    "RemoteStoreError",
    "RemoteTimeout",
    "ResultTooLarge",
    "STAGING_PREFIX",
    "StoreError",
    "StoreLocation",
    "bind_substitutions",
    "is_remote",
    "open_store",
    "parse_location",
    "publish",
]
