"""Linked-data publication: every IRI of the namespace dereferences, in HTML and in RDF.

Routes (the server maps ``https://w3id.org/icgraph/`` onto its own host):

- ``/id/{kind}/{slug}`` (and concept schemes ``/id/level``, memberships ``/id/membership/a/b/c``, ...):
  the IRI names a *thing* (a practice, an organisation, a place), not a document, so it answers
  **303 See Other** to the document that describes it, chosen by the Accept header:
  ``/id/...html``, ``.ttl``, ``.jsonld``, ``.nt``, ``.rdf`` (W3C "Cool URIs for the Semantic Web",
  section 4.3, "303 URIs forwarding to different documents"). The suffixed URLs answer 200 directly
  and are the stable links to quote. Hash IRIs (``practice:X#p-...``) are described by the owner's
  document, where the HTML page carries an anchor for each.
- ``/def``, ``/graph/{name}``, ``/.well-known/void`` and ``/downloads`` are the release's documents:
  `icgraph.server.documents`, which shares this module's formats and responses.

Every negotiated answer carries ``Vary: Accept``. The RDF of an entity is one CONSTRUCT
(`describe_query`; the server runs it as two simpler queries, `describe`): the triples whose subject is the entity or one of its hash sub-entities (with the
blank nodes they point to), plus the labels and governance levels of the objects. The same triples
feed every RDF format, the JSON-LD embedded in the HTML page, and the "query that regenerates this
page" link to /sparql.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pyoxigraph as ox
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import PlainTextResponse, RedirectResponse, Response
from markupsafe import Markup, escape
from rdflib.namespace import XSD

from icgraph.namespaces import ID, PREFIXES, ROOT, compact, expand
from icgraph.jsonld import compact as compact_jsonld
from icgraph.server import pools, prepared
from icgraph.server.negotiation import GRAPH_FORMATS, Format, NotAcceptable, choose_format
from icgraph.server.templating import link, safe_href, script_json_text, templates

router = APIRouter(tags=["linked data"])

# --------------------------------------------------------------------------------------------
#   Formats: negotiation.py's table, plus HTML for people
# --------------------------------------------------------------------------------------------

HTML = Format("html", "page", "text/html", ("application/xhtml+xml",), ("htm",))
_RDF = {f.key: f for f in GRAPH_FORMATS}
#: What an entity, /def, a graph and the VoID document can be read as; the first is the default
#: for ``*/*`` or no Accept (a browser or a bare ``curl``).
DOCUMENT_FORMATS: tuple[Format, ...] = (HTML, _RDF["ttl"], _RDF["jsonld"], _RDF["nt"], _RDF["rdf"])
SUFFIXES = {f.key: f for f in DOCUMENT_FORMATS}
FORMAT_NAMES = {"html": "HTML", "ttl": "Turtle", "jsonld": "JSON-LD", "nt": "N-Triples", "rdf": "RDF/XML"}


# --------------------------------------------------------------------------------------------
#   The description of an entity: one CONSTRUCT, used for every format
# --------------------------------------------------------------------------------------------

#: The description of an entity is sparql/describe.rq (shown on every page as the query that
#: regenerates it), run as describe-parts.rq and describe-triples.rq, which Virtuoso 7.2 also compiles.



def describe_query(iri: str) -> str:
    """The CONSTRUCT that describes ``iri`` (see the module docstring), with the IRI written in; run it with the union default graph."""
    return prepared.written("describe", {"entity": ox.NamedNode(iri)})


async def describe(pool, iri: str) -> list[ox.Triple]:
    """The triples of `describe_query` (iri), found by the pool in two simpler queries that Virtuoso 7.2 also runs."""
    entity = ox.NamedNode(iri)
    parts = [entity] + [row["part"] for row in await pool.prepared("describe-parts", {"entity": entity})]
    parts += [row["part"] for row in await select_bound(pool, "describe-meeting-parts", entity=iri)]
    # Virtuoso 7.2 fails to compile ?part IN (<x>) and ?part = <x> ("SP031"), and answers a VALUES block
    # of several rows joined with the UNION wrongly (the whole store); Oxigraph evaluates a FILTER (?part IN
    # (...)) over the whole store (65 s for a practice at 100x). So on a remote store each part is one query of
    # one VALUES row; the embedded store answers one VALUES block of every part (the same triples, without a
    # round trip to a reader per part: 124 parts for a practice at 100x took 206 ms of round trips).
    from icgraph.server.remote import RemotePool

    triples = []
    for group in ([[part] for part in parts] if isinstance(pool, RemotePool) else [parts]):
        triples += await pool.prepared(prepared.with_groups("describe-triples", prepared.values("part", group)))
    return sorted(set(triples), key=lambda t: (str(t.subject), str(t.predicate), str(t.object)))


def graph_query(graph: str) -> str:
    """The CONSTRUCT that returns the content of a named graph (/graph/{name} and /def), with the graph's IRI written in."""
    return prepared.written("graph-content", {"graph": ox.NamedNode(graph)})


def run_construct(store: ox.Store, query: str) -> list[ox.Triple]:
    """The triples of a CONSTRUCT, without duplicates, in a stable order."""
    from icgraph.store import default_dataset

    triples = set(store.query(query, **default_dataset(store)))
    return sorted(triples, key=lambda t: (str(t.subject), str(t.predicate), str(t.object)))


def serialize(triples: list[ox.Triple], fmt: Format) -> bytes:
    if fmt.key == "jsonld":
        return compact_jsonld(triples)  # with the project's context, not Oxigraph's expanded form
    return ox.serialize(triples, format=fmt.oxigraph, prefixes=None if fmt.key == "nt" else PREFIXES) or b""


# --------------------------------------------------------------------------------------------
#   Per-application cache (the store is read-only: a result stays true until the store changes)
# --------------------------------------------------------------------------------------------


@dataclass
class _Cache:
    store_id: str | None  # the pool's release_id
    descriptions: OrderedDict = field(default_factory=OrderedDict)
    pages: OrderedDict = field(default_factory=OrderedDict)
    labels_of: OrderedDict = field(default_factory=OrderedDict)  # IRI -> its label, or None: it has none
    ranks: dict[str, int] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


_MAX_DESCRIPTIONS = 2048
_MAX_LABELS = 200_000


def _cache(request: Request) -> _Cache:
    """The cache of the data served now: a new one when the pool serves another release or snapshot."""
    served = getattr(getattr(request.app.state, "pool", None), "release_id", None)
    cache = getattr(request.app.state, "linked_data_cache", None)
    if cache is None or cache.store_id != served:
        cache = _Cache(store_id=served)
        request.app.state.linked_data_cache = cache
    return cache


async def _describe(request: Request, iri: str) -> list[ox.Triple]:
    cache = _cache(request)
    triples = cache.descriptions.get(iri)
    if triples is None:
        triples = await describe(await pools.pool_of(request.app), iri)
        cache.descriptions[iri] = triples
        if len(cache.descriptions) > _MAX_DESCRIPTIONS:
            cache.descriptions.popitem(last=False)
    return triples


_LABEL_PRIORITY = {p: i for i, p in enumerate(("skos:prefLabel", "dct:title", "rdfs:label", "foaf:name"))}


#: How many IRIs one labels query asks for (its VALUES block).
_LABELS_AT_ONCE = 2000


async def _ranks(request: Request) -> dict[str, int]:
    """Concept IRI -> its icg:rank (the governance levels' order), once per release."""
    cache = _cache(request)
    if cache.ranks is None:
        cache.ranks = {row["c"].value: int(row["rank"].value) for row in await pools.run(request, "ranks")}
    return cache.ranks


async def _learn_labels(request: Request, view: "View", terms) -> None:
    """Add to ``view`` the labels a person reads (prefLabel, then title, label, name; English first) of the
    IRIs among ``terms`` it has none for: labels.rq opened with a VALUES block of those IRIs only (every
    label of the store was read before: at 100x, more than the time limit allows)."""
    cache = _cache(request)
    wanted = {t.value for t in terms if isinstance(t, ox.NamedNode)} - view.global_labels.keys()
    with cache.lock:
        for iri in [iri for iri in wanted if iri in cache.labels_of]:
            if cache.labels_of[iri] is not None:
                view.global_labels[iri] = cache.labels_of[iri]
            wanted.discard(iri)
    wanted = sorted(wanted)
    for start in range(0, len(wanted), _LABELS_AT_ONCE):
        chunk = wanted[start:start + _LABELS_AT_ONCE]
        best: dict[str, tuple[tuple[int, int], str]] = {}
        query = prepared.with_groups("labels", prepared.values("s", [ox.NamedNode(iri) for iri in chunk]))
        for row in await pools.run(request, query):
            label = row["label"]
            lang = getattr(label, "language", None)
            key = (_LABEL_PRIORITY[compact(row["p"])], 0 if lang in (None, "en") else 1)
            subject = row["s"].value
            if subject not in best or key < best[subject][0]:
                best[subject] = (key, label.value)
        with cache.lock:
            for iri in chunk:
                found = best.get(iri)
                cache.labels_of[iri] = found[1] if found else None
                if found:
                    view.global_labels[iri] = found[1]
            while len(cache.labels_of) > _MAX_LABELS:
                cache.labels_of.popitem(last=False)


def _terms_in(value, found: set) -> set:
    """The IRIs in a page's context (rows, lists, nodes), to label them in one query."""
    if isinstance(value, ox.NamedNode):
        found.add(value)
    elif isinstance(value, dict):
        for item in value.values():
            _terms_in(item, found)
    elif isinstance(value, (list, tuple, set)):
        for item in value:
            _terms_in(item, found)
    return found


async def _select(request: Request, name: str, **bindings: str) -> list[dict[str, Any]]:
    """The rows of the server query ``name`` (icgraph/sparql), with IRIs bound to its parameters (`select_bound`)."""
    return await select_bound(await pools.pool_of(request.app), name, **bindings)


async def select_bound(pool, name: str, **bindings: str) -> list[dict[str, Any]]:
    """The rows of the server query ``name`` with each IRI of ``bindings`` opening its WHERE clause as a VALUES
    row. Oxigraph 0.5 plans a query before ``substitutions`` bind it, so its planner joins the query's patterns
    over the whole store; a VALUES row is part of the plan. At 100x: actor-partners 7-15 s bound by substitution,
    9-57 ms from a VALUES row; entity-stated-relations (on every practice and actor page) 157-160 ms, 0.2-0.3 ms.
    The rows are the same (every page query, every entity of the real graph: tests/test_linked_data.py)."""
    variables = {parameter.name: parameter.variable for parameter in prepared.load(name).parameters}
    rows = [prepared.values(variables[key], [ox.NamedNode(iri)]) for key, iri in bindings.items()]
    return await pool.prepared(prepared.with_groups(name, *rows))


async def _exists(request: Request, iri: str) -> bool:
    """Whether the store says anything about ``iri``; the IRI comes from the URL and must pass
    Oxigraph's IRI parser to become the bound term."""
    try:
        entity = ox.NamedNode(iri)
    except ValueError:
        return False
    return await pools.run(request, "entity-exists", {"entity": entity})


# --------------------------------------------------------------------------------------------
#   Reading a description in templates
# --------------------------------------------------------------------------------------------


def local_path(iri: str) -> str:
    """Where the server serves an IRI of the namespace (links in pages point here); another IRI as
    it is when a page may link to it (http, https, mailto), else "" (shown as text, never a link)."""
    return "/" + iri[len(ROOT):] if iri.startswith(ROOT) else safe_href(iri)


_curie = compact  # the predicate keys of Node.props: "dct:title", "icg:role", ...


class Node:
    """One subject of a description: ``node["dct:title"]`` is the list of its values."""

    def __init__(self, view: "View", term):
        self.view = view
        self.term = term
        self.iri = term.value if isinstance(term, ox.NamedNode) else None
        self.props: dict[str, list] = defaultdict(list)

    @property
    def fragment(self) -> str:
        return self.iri.split("#", 1)[1] if self.iri and "#" in self.iri else ""

    def __getitem__(self, curie: str) -> list:
        return self.props.get(curie, [])

    def one(self, curie: str):
        values = self[curie]
        return values[0] if values else None

    def nodes(self, curie: str) -> list["Node"]:
        """The values of ``curie`` that are described in the same document (sub-entities, blank nodes)."""
        found = [self.view.nodes[v] for v in self[curie] if v in self.view.nodes]
        return sorted(found, key=lambda n: _natural(n.iri or ""))

    def has_type(self, curie: str) -> bool:
        return any(_curie(t) == curie for t in self["rdf:type"])

    @property
    def label(self) -> str:
        return self.view.label(self.term)

    @property
    def href(self) -> str:
        return local_path(self.iri) if self.iri else ""


def _natural(text: str) -> list:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


class View:
    """The description of one entity, for the templates, with helpers to label and link terms."""

    def __init__(self, iri: str, triples: list[ox.Triple], labels: dict[str, str], ranks: dict[str, int]):
        self.iri = iri
        self.triples = triples
        self.global_labels = labels
        self.ranks = ranks
        self.nodes: dict[Any, Node] = {}
        self.summary: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
        for t in triples:
            self.nodes.setdefault(t.subject, Node(self, t.subject)).props[_curie(t.predicate)].append(t.object)
        for node in self.nodes.values():
            for values in node.props.values():
                values.sort(key=lambda v: _natural(v.value if hasattr(v, "value") else str(v)))
        self.entity = self.nodes.get(ox.NamedNode(iri)) or Node(self, ox.NamedNode(iri))

    # --- labels and links -------------------------------------------------------------------
    def label(self, term) -> str:
        if term is None:
            return ""
        if isinstance(term, ox.Literal):
            return term.value
        if isinstance(term, ox.NamedNode):
            node = self.nodes.get(term)
            if node is not None:
                for p in ("skos:prefLabel", "dct:title", "rdfs:label", "foaf:name"):
                    values = node[p]
                    if values:
                        english = [v for v in values if getattr(v, "language", None) in (None, "en")]
                        return (english or values)[0].value
            if term.value in self.global_labels:
                return self.global_labels[term.value]
            return compact(term)
        return str(term)

    def href(self, term) -> str:
        return local_path(term.value) if isinstance(term, ox.NamedNode) else ""

    def link(self, term, text: str | None = None) -> Markup:
        """An IRI as a link with its label; a literal as escaped text."""
        if term is None:
            return Markup("")
        if isinstance(term, ox.NamedNode):
            label = text or self.label(term)
            return link(self.href(term), label)
        if isinstance(term, ox.Literal):
            return Markup("{}").format(term.value)
        return Markup("{}").format(str(term))

    def value(self, term) -> Markup:
        """A term as shown in the statements table: links for IRIs, language tags and datatypes for literals."""
        if isinstance(term, ox.Literal):
            extra = ""
            if term.language:
                extra = f" @{term.language}"
            elif term.datatype.value != str(XSD.string):
                extra = f" ({compact(term.datatype)})"
            return Markup('{}<span class="muted">{}</span>').format(term.value, extra)
        if isinstance(term, ox.NamedNode):
            curie = compact(term)
            label = self.label(term)
            shown = label if label == curie else f"{label} ({curie})"
            return self.link(term, shown)
        return Markup("<em>{}</em>").format(f"_:{getattr(term, 'value', term)}")

    def level(self, term) -> Markup:
        """A governance level as a badge (text, not only colour)."""
        if term is None:
            return Markup('<span class="muted">level not stated</span>')
        slug = term.value.rsplit("/", 1)[-1]
        return link(self.href(term), self.label(term), class_=f"level level-{slug}")

    def level_of(self, term):
        """The governance level of an agent named in the description (or None)."""
        node = self.nodes.get(term)
        return node.one("icg:governanceLevel") if node else None

    def rank(self, level) -> int:
        return self.ranks.get(level.value, 99) if level is not None else 100

    def text(self, term) -> Markup:
        """A long text (purpose, process, ...) as paragraphs, line breaks kept."""
        if term is None:
            return Markup("")
        paragraphs = [p.strip() for p in re.split(r"\n\s*\n", term.value) if p.strip()]
        return Markup("").join(
            Markup("<p>{}</p>").format(Markup("<br>\n").join(escape(line) for line in p.split("\n"))) for p in paragraphs
        )

    @property
    def statements(self) -> list[tuple[Node, list[tuple[str, ox.NamedNode, list]]]]:
        """Subjects (the entity first, then its parts) with their properties, for the statements table."""
        ordered = [self.entity] + sorted(
            (n for n in self.nodes.values() if n is not self.entity and n.iri and n.iri.startswith(self.iri + "#")),
            key=lambda n: _natural(n.iri),
        )
        ordered += [n for n in self.nodes.values() if n.iri is None]
        result = []
        for node in ordered:
            props = sorted(node.props.items(), key=lambda kv: (kv[0] != "rdf:type", kv[0]))
            result.append((node, [(p, ox.NamedNode(expand(p)), values) for p, values in props]))
        return result


# --------------------------------------------------------------------------------------------
#   Responses
# --------------------------------------------------------------------------------------------


def negotiate(request: Request, offer: tuple[Format, ...] = DOCUMENT_FORMATS) -> Format:
    return choose_format("page", request.headers.get("accept"), request.query_params.get("format"), offer=offer)


def _wants_html(request: Request) -> bool:
    try:
        return negotiate(request).key == "html"
    except NotAcceptable:
        return False


def not_found(request: Request, message: str) -> Response:
    """404 as an HTML page for browsers, as plain text for everyone else."""
    headers = {"Vary": "Accept"}
    if _wants_html(request):
        return templates.TemplateResponse(
            request, "ld/not_found.html", {"message": message, "path": request.url.path}, status_code=404, headers=headers
        )
    return PlainTextResponse(message + "\n", status_code=404, headers=headers)


def not_acceptable(error: NotAcceptable) -> Response:
    return PlainTextResponse(str(error) + "\n", status_code=406, headers={"Vary": "Accept"})


def rdf_response(body: bytes, fmt: Format, headers: dict[str, str] | None = None) -> Response:
    return Response(body, media_type=fmt.content_type, headers=headers or {})


def split_suffix(path: str) -> tuple[str, Format | None]:
    stem, dot, ext = path.rpartition(".")
    if dot and ext in SUFFIXES and "/" not in ext:
        return stem, SUFFIXES[ext]
    return path, None


def format_links(base: str) -> list[dict[str, str]]:
    return [{"key": f.key, "name": FORMAT_NAMES[f.key], "href": f"{base}.{f.key}", "type": f.media_type} for f in DOCUMENT_FORMATS]


def sparql_link(query: str) -> str:
    return "/sparql?" + urlencode({"query": query})


def _jsonld_script(triples: list[ox.Triple]) -> Markup:
    """JSON-LD for a <script> element (``</`` escaped so the element cannot be closed early)."""
    return script_json_text(serialize(triples, _RDF["jsonld"]).decode("utf-8"))


# --------------------------------------------------------------------------------------------
#   /id/...: entities (303 to the document in the chosen format)
# --------------------------------------------------------------------------------------------


@router.api_route("/id/{path:path}", methods=["GET", "HEAD"], summary="Dereference an entity IRI (303 to its description)")
async def entity(request: Request, path: str) -> Response:
    iri = str(ID) + path
    if path and await _exists(request, iri):
        try:
            fmt = negotiate(request)
        except NotAcceptable as error:
            return not_acceptable(error)
        return RedirectResponse(f"/id/{quote(path)}.{fmt.key}", status_code=303, headers={"Vary": "Accept"})
    stem, fmt = split_suffix(path)
    if fmt is None or not stem or not await _exists(request, str(ID) + stem):
        return not_found(request, f"No entity {iri} in icgraph. Search for it at /search or browse /practices.")
    iri = str(ID) + stem
    triples = await _describe(request, iri)
    if fmt is HTML:
        cache = _cache(request)
        page = cache.pages.get(iri)
        if page is None:  # pages depend on the store only, which is read-only
            page = (await _entity_page(request, iri, triples)).body
            cache.pages[iri] = page
            if len(cache.pages) > _MAX_DESCRIPTIONS:
                cache.pages.popitem(last=False)
        return Response(page, media_type=HTML.content_type, headers={"Link": f'<{local_path(iri)}>; rel="describes"'})
    body = await run_in_threadpool(serialize, triples, fmt)
    return rdf_response(body, fmt, {"Link": f'<{local_path(iri)}>; rel="describes"'})


#: Page template per type (the first that the entity has wins).
_TEMPLATES = (
    ("icg:Practice", "ld/practice.html", "Practice"),
    ("icg:Meeting", "ld/meeting.html", "Meeting"),
    ("icg:WorkingGroup", "ld/actor.html", "Working group"),
    ("icg:Network", "ld/actor.html", "Network"),
    ("foaf:Person", "ld/actor.html", "Person"),
    ("org:Organization", "ld/actor.html", "Organisation"),
    ("icg:Place", "ld/place.html", "Place"),
    ("skos:ConceptScheme", "ld/scheme.html", "Concept scheme"),
    ("skos:Concept", "ld/concept.html", "Concept"),
    ("icg:Partnership", "ld/partnership.html", "Partnership"),
    ("org:Membership", "ld/generic.html", "Membership"),
)


async def _entity_page(request: Request, iri: str, triples: list[ox.Triple]) -> Response:
    """The HTML page: its data from the pool, then the template rendered in a thread."""
    view = View(iri, triples, {}, await _ranks(request))
    await _learn_labels(request, view, [term for t in triples for term in (t.subject, t.predicate, t.object)])
    template, kind = "ld/generic.html", "Resource"
    for curie, name, title in _TEMPLATES:
        if view.entity.has_type(curie):
            template, kind = name, title
            break
    if kind == "Resource" and view.entity["rdf:type"]:
        kind = view.label(view.entity["rdf:type"][0])
    context = {
        "view": view,
        "e": view.entity,
        "kind": kind,
        "title": view.label(view.entity.term),
        "iri": iri,
        "formats": format_links(local_path(iri)),
        "sparql": sparql_link(describe_query(iri)),
        "query": describe_query(iri),
        "jsonld": _jsonld_script(triples),
    }
    if template in _CONTEXT:
        context.update(await _CONTEXT[template](request, view))
    if template in _UNDERTAKING_PAGES:
        context["stated_relations"] = await _select(request, "entity-stated-relations", entity=view.iri)
    await _learn_labels(request, view, _terms_in([v for k, v in context.items() if k not in ("view", "e")], set()))
    return await run_in_threadpool(
        templates.TemplateResponse, request, template, context, headers={"Link": f'<{local_path(iri)}>; rel="describes"'}
    )


# --- what each kind of page adds to its description (incoming links, neighbours) -------------


def _source_excerpt(request: Request, source, start, end) -> list[tuple[int, str]]:
    """The lines ``start``-``end`` of a source document, numbered, from data/sources."""
    if source is None or start is None:
        return []
    slug = source.value.rsplit("/", 1)[-1]
    folder = request.app.state.settings.sources_dir
    files = sorted(folder.glob(f"{slug}*.txt"))
    if not files:
        return []
    lines = _read_lines(files[0])
    first, last = int(start.value), int((end or start).value)
    return [(n, lines[n - 1]) for n in range(first, min(last, len(lines)) + 1)]


_LINES: dict[Path, list[str]] = {}


def _read_lines(path: Path) -> list[str]:
    if path not in _LINES:
        _LINES[path] = path.read_text(encoding="utf-8").splitlines()
    return _LINES[path]


async def _practice_context(request: Request, view: View) -> dict[str, Any]:
    e = view.entity
    by_level: dict[Any, list] = defaultdict(list)
    for part in e.nodes("icg:hasParticipation"):
        agent = part.one("icg:agent")
        agent_node = view.nodes.get(agent)
        generic = agent_node is not None and agent_node.has_type("icg:ActorGroup")
        # A generic group may span levels ("decision-makers at national and local level"): listed under each.
        for level in (agent_node["icg:governanceLevel"] if agent_node is not None else []) or [None]:
            by_level[level].append({"part": part, "agent": agent, "generic": generic, "roles": part["icg:role"]})
    levels = sorted(by_level, key=view.rank)
    groups = [(level, sorted(by_level[level], key=lambda r: view.label(r["agent"]).lower())) for level in levels]
    derivation = (e.nodes("prov:qualifiedDerivation") or [None])[0]
    excerpt = []
    if derivation is not None:
        excerpt = _source_excerpt(
            request, derivation.one("prov:entity"), derivation.one("icg:startLine"), derivation.one("icg:endLine")
        )
    partnerships = await _select(request, "practice-partnerships", entity=view.iri)
    return {"participation_groups": groups, "derivation": derivation, "excerpt": excerpt, "partnerships": partnerships,
            "similar_practices": await _similar_practices(request, view.iri)}


#: How many similar practices a practice page shows (GET /api/practices/{slug}/similar gives more).
SIMILAR_ON_PAGE = 5


async def _similar_practices(request: Request, iri: str) -> list:
    """The practices most like ``iri``, with their reasons, from the release's search index (computed at build time);
    none for a store that is not a release."""
    from icgraph.similar import similar_to

    release = getattr(await pools.pool_of(request.app), "release", None)
    if release is None or not release.search_index.is_file():
        return []
    return await run_in_threadpool(similar_to, release.search_index, iri, SIMILAR_ON_PAGE) or []


async def _actor_context(request: Request, view: View) -> dict[str, Any]:
    iri = view.iri
    practices = await _select(request, "actor-practices", entity=iri)
    memberships = await _select(request, "actor-memberships", entity=iri)
    members = await _select(request, "actor-members", entity=iri)
    subs = await _select(request, "actor-sub-organisations", entity=iri)
    partners = await _select(request, "actor-partners", entity=iri)
    partnerships = await _select(request, "actor-partnerships", entity=iri)
    for row in partners:
        row["practices"] = [ox.NamedNode(p) for p in row["practices"].value.split()]
    await _learn_labels(request, view, [row["other"] for row in partners])
    partners.sort(key=lambda r: (view.rank(r["level"]), view.label(r["other"]).lower()))
    alt = [v for v in view.entity["skos:altLabel"]]
    return {
        "practices": practices,
        "memberships": memberships,
        "members": members,
        "subs": subs,
        "partners": partners,
        "partnerships": partnerships,
        "aliases": [a for a in alt if a.language in (None, "en")],
        "original_names": [a for a in alt if a.language not in (None, "en")],
        "meetings": view.entity["icg:hasMeeting"],
    }


async def _place_context(request: Request, view: View) -> dict[str, Any]:
    iri = view.iri
    return {
        "actors": await _select(request, "place-actors", entity=iri),
        "implemented": await _select(request, "place-implemented", entity=iri),
        "listed": await _select(request, "place-listed", entity=iri),
        "subplaces": await _select(request, "place-subplaces", entity=iri),
    }


#: How many users of a concept to list per property (level:local is used thousands of times): the LIMIT of concept-users.rq.
_USES_SHOWN = 200


async def _concept_context(request: Request, view: View) -> dict[str, Any]:
    uses = []
    for row in await _select(request, "concept-uses", entity=view.iri):
        users = await _select(request, "concept-users", entity=view.iri, property=row["p"].value)
        uses.append({"property": row["p"], "count": int(row["n"].value), "users": [r["x"] for r in users]})
    return {"uses": uses, "shown": _USES_SHOWN}


async def _scheme_context(request: Request, view: View) -> dict[str, Any]:
    return {"concepts": await _select(request, "scheme-concepts", entity=view.iri)}


async def _meeting_context(request: Request, view: View) -> dict[str, Any]:
    held_by = await _select(request, "meeting-held-by", entity=view.iri)
    return {"held_by": [r["wg"] for r in held_by]}


async def _partnership_context(request: Request, view: View) -> dict[str, Any]:
    partners = sorted(view.entity["icg:partner"], key=lambda a: (view.rank(view.level_of(a)), view.label(a).lower()))
    return {"partners": partners}


#: Pages that show the relations the texts state about their entity (ld/stated_relations.html): which
#: structure a practice sets up or is carried out by, what it builds on, who supports whom, through which
#: networks results travel.
_UNDERTAKING_PAGES = {"ld/practice.html", "ld/actor.html", "ld/partnership.html"}


_CONTEXT = {
    "ld/practice.html": _practice_context,
    "ld/actor.html": _actor_context,
    "ld/place.html": _place_context,
    "ld/concept.html": _concept_context,
    "ld/scheme.html": _scheme_context,
    "ld/meeting.html": _meeting_context,
    "ld/partnership.html": _partnership_context,
}


__all__ = ["router", "describe", "describe_query", "graph_query", "run_construct", "local_path"]
