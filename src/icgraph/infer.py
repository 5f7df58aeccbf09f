"""Derive what the data implies; the build stores it in graph:inferred.

`infer(data)` returns only triples that are not already asserted. Two steps, repeated
until neither finds anything new:

1. **Closure under the ontology.** owlrl computes the OWL-RL closure of the ontology's
   axioms once (class and property hierarchy, including the ORG, CPOV, FOAF and SKOS
   axioms restated in ontology/icgraph.ttl); six CONSTRUCT queries (`CLOSURE` below)
   then apply that closed schema to the instances: superclasses, superproperties (so
   every `skos:prefLabel` is also an `rdfs:label`), inverse and symmetric properties,
   named domains and ranges. Running owlrl on the whole graph gives the same types
   (tests/test_infer.py checks it) but takes tens of seconds. `owl:sameAs` (places
   linked to GeoNames) is deliberately not propagated: it would copy every fact about
   a place onto the GeoNames IRI.
2. **Rules.** The SPARQL CONSTRUCT queries of `ontology/rules/*.rq`, in file-name order:
   levels a practice spans, its level count, `icg:MultilevelPractice`, cooperation
   between actors and the cooperation edges that record which pair of levels each
   cooperation crosses.

Both run in an in-memory Oxigraph store, which holds only the triples an inference can
read or write (their predicates are named by the schema or the rules), so the texts,
the bulk of the graph, are never copied.

The closed schema and the parsed rules depend only on `ontology/` (and this module), so
`load_schema` keeps them in memory and, given a cache folder (the build passes
`build/cache`), in `schema.json` there under a hash of those inputs: a new build process
whose ontology did not change skips owlrl and the SPARQL parser. The store starts from
the same quads either way, so the result does not depend on the cache.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

import owlrl
import pyoxigraph as ox
from rdflib import Graph, URIRef
from rdflib.graph import ConjunctiveGraph
from rdflib.namespace import OWL, RDF, RDFS, XSD
from rdflib.paths import Path as PropertyPath
from rdflib.plugins.sparql import prepareQuery
from rdflib.plugins.sparql.parserutils import CompValue
from rdflib.term import Node, Variable

from icgraph import sparql
from icgraph.config import Settings
from icgraph.namespaces import PREFIXES
from icgraph import terms
from icgraph.terms import from_ox, to_ox

Triple = tuple[Node, Node, Node]

#: Classes every resource belongs to; saying so adds nothing.
_TRIVIAL_CLASSES = {OWL.Thing, RDFS.Resource, OWL.NamedIndividual}
#: Properties every property specialises; saying so adds nothing.
_TRIVIAL_PROPERTIES = {OWL.topObjectProperty, OWL.topDataProperty}
#: The predicates that make up the schema (TBox) handed to owlrl.
_SCHEMA_PREDICATES = (
    RDFS.subClassOf,
    RDFS.subPropertyOf,
    OWL.equivalentClass,
    OWL.equivalentProperty,
    OWL.inverseOf,
    RDFS.domain,
    RDFS.range,
    OWL.unionOf,
    OWL.intersectionOf,
    RDF.first,
    RDF.rest,
)
_PROPERTY_TYPES = (OWL.ObjectProperty, OWL.DatatypeProperty, OWL.SymmetricProperty, OWL.TransitiveProperty)

#: The closed schema lives in this graph of the working store, apart from the data.
_TBOX = "urn:x-icgraph:closed-schema"
#: The instance closure: each query applies one kind of schema axiom.
#: src/icgraph/sparql/closure-*.rq; their schema graph is `_TBOX`.
CLOSURE = {name: sparql.read(f"closure-{name}") for name in ("superclasses", "superproperties", "inverses", "symmetric", "domains", "ranges")}
_CLOSURE_PREFIXES = {"rdfs": str(RDFS), "owl": str(OWL)}


@dataclass
class Schema:
    """The ontology, its closed axioms and the rules, ready for a working store."""

    #: The ontology and vocabularies as read (default graph) and the closed axioms CLOSURE
    #: applies (graph `_TBOX`).
    quads: list[ox.Quad] = field(default_factory=list)
    rules: list[tuple[str, str]] = field(default_factory=list)  # (name, SPARQL update)
    #: The predicates an inference can read or write; None means every predicate.
    predicates: set[URIRef] | None = field(default_factory=set)


def infer(data: Graph, *, ontology_dir: Path | None = None, cache_dir: Path | None = None) -> Graph:
    """Everything the data implies under the ontology and the rules, minus what it already says.

    `data` is an rdflib Graph or Dataset (all its named graphs are read). The ontology and
    vocabularies are read from `ontology_dir` (default: the project's `ontology/`), so the
    data need not contain them. `cache_dir` keeps the closed schema between processes
    (`load_schema`).
    """
    result = Graph()
    for prefix, iri in PREFIXES.items():
        result.bind(prefix, iri)
    result.addN((from_ox(t.subject), from_ox(t.predicate), from_ox(t.object), result)
                for t in infer_triples(data, ontology_dir=ontology_dir, cache_dir=cache_dir))
    return result


def infer_triples(data: Graph, *, ontology_dir: Path | None = None, cache_dir: Path | None = None) -> list[ox.Triple]:
    """`infer`, as Oxigraph triples: for the build, which loads them into the store as they are."""
    schema = load_schema(ontology_dir or Settings().ontology_dir, cache_dir=cache_dir)
    return [q.triple for q in _infer_quads(schema, _to_quads(_triples(data, schema.predicates)))]


def infer_from_store(source: ox.Store, graphs: Iterable[ox.NamedNode], added: Iterable[ox.Triple] = (), *,
                     ontology_dir: Path | None = None, cache_dir: Path | None = None,
                     inferred: ox.NamedNode | None = ...) -> set[ox.Triple]:
    """What `infer` finds in the named ``graphs`` of ``source`` plus the triples ``added``, read in Oxigraph only.

    The same result as `infer` on the same triples (the build's asserted graphs), without copying
    them into rdflib: an accepted contribution gets its inferred triples this way
    (`icgraph.contributions.publication`), exactly as a practice of the sources does.

    When ``source`` holds what `infer` found in ``graphs`` in the graph ``inferred`` (by default
    graph:inferred, if ``source`` has it and it is not among ``graphs``: a release's store), only the
    change is computed (`infer_change`) and applied to that graph's triples; with ``inferred=None``,
    the rules run on the whole of ``graphs``.
    """
    from icgraph.namespaces import INFERRED_GRAPH

    graphs = list(graphs)
    if inferred is ...:
        candidate = ox.NamedNode(str(INFERRED_GRAPH))
        inferred = candidate if candidate not in graphs and candidate in set(source.named_graphs()) else None
    if inferred is not None:
        gained, lost = infer_change(source, graphs, added, ontology_dir=ontology_dir, cache_dir=cache_dir)
        held = {q.triple for q in source.quads_for_pattern(None, None, None, inferred)}
        return (held - lost) | gained
    schema = load_schema(ontology_dir or Settings().ontology_dir, cache_dir=cache_dir)
    default = ox.DefaultGraph()
    predicates = [None] if schema.predicates is None else [ox.NamedNode(str(p)) for p in schema.predicates]
    data = [ox.Quad(q.subject, q.predicate, q.object, default)
            for graph in graphs for predicate in predicates for q in source.quads_for_pattern(None, predicate, None, graph)]
    wanted = None if schema.predicates is None else {str(p) for p in schema.predicates}
    data += [ox.Quad(t.subject, t.predicate, t.object, default) for t in added if wanted is None or t.predicate.value in wanted]
    return {q.triple for q in _infer_quads(schema, data)}


#: How far the neighbourhood of a change reaches: back from the subject of each new triple to the nodes a
#: rule's pattern can start from (a practice from its participation's agent: 2), and forward from those
#: over every path a pattern follows (practice, participation, agent, level, rank: 4). One more each way.
NEIGHBOURHOOD_BACK = 5
NEIGHBOURHOOD_FORWARD = 5


def infer_change(source: ox.Store, graphs: Iterable[ox.NamedNode], added: Iterable[ox.Triple], *,
                 ontology_dir: Path | None = None, cache_dir: Path | None = None) -> tuple[set[ox.Triple], set[ox.Triple]]:
    """What adding ``added`` to the named ``graphs`` of ``source`` changes in what `infer` finds: (gained, lost).

    The rules run on the neighbourhood of the new triples only, twice: without and with them. The
    neighbourhood is every node a rule's pattern can start from that reaches the subject of a new
    triple by following edges backwards (``roots``), then everything those roots reach forwards,
    with the triples of ``graphs`` about those nodes. The rules' patterns are trees whose edges leave
    their first node (a practice or a partnership: ontology/rules/*.rq), and the closure reads one
    triple at a time, so a conclusion that a new triple makes possible has its whole pattern in the
    neighbourhood; and because every root's own tree is there whole, a count over it (the level
    count) is its count in the whole graph. ``lost``: what the neighbourhood implied before and no
    longer does (a count that changed); ``gained``: what it implies now that it did not, minus
    what ``graphs`` or ``added`` assert. The cost grows with the neighbourhood, not with the graph.
    """
    schema = load_schema(ontology_dir or Settings().ontology_dir, cache_dir=cache_dir)
    graphs = list(graphs)
    wanted = None if schema.predicates is None else {str(p) for p in schema.predicates}
    added = [t for t in dict.fromkeys(added)]
    usable = [t for t in added if wanted is None or t.predicate.value in wanted]

    def quads_about(node, backwards: bool) -> list[ox.Quad]:
        pattern = (None, None, node) if backwards else (node, None, None)
        return [q for graph in graphs for q in source.quads_for_pattern(*pattern, graph)
                if wanted is None or q.predicate.value in wanted]

    new_edges_into: dict = {}
    for t in usable:
        new_edges_into.setdefault(t.object, []).append(t.subject)
    # Back from each new triple's subject to the nodes a pattern can start from.
    roots = {t.subject for t in usable}
    frontier = set(roots)
    for _ in range(NEIGHBOURHOOD_BACK):
        found = {q.subject for node in frontier for q in quads_about(node, backwards=True)}
        found |= {s for node in frontier for s in new_edges_into.get(node, ())}
        frontier = found - roots
        roots |= frontier
        if not frontier:
            break
    # Forward from them: every path a pattern can follow.
    new_edges_from: dict = {}
    for t in usable:
        new_edges_from.setdefault(t.subject, []).append(t.object)
    nodes, frontier, data = set(roots), set(roots), set()
    for _ in range(NEIGHBOURHOOD_FORWARD + 1):
        found = set()
        for node in frontier:
            for q in quads_about(node, backwards=False):
                data.add(q.triple)
                found.add(q.object)
            found.update(new_edges_from.get(node, ()))
        frontier = {n for n in found if not isinstance(n, ox.Literal)} - nodes
        nodes |= frontier
        if not frontier:
            break
    before = {q.triple for q in _infer_quads(schema, _as_default(data))}
    after = {q.triple for q in _infer_quads(schema, _as_default(data | set(usable)))}
    asserted = set(added)
    gained = {t for t in after - before if t not in asserted and not _asserted_in(source, graphs, t)}
    return gained, before - after


def _as_default(triples: Iterable[ox.Triple]) -> list[ox.Quad]:
    default = ox.DefaultGraph()
    return [ox.Quad(t.subject, t.predicate, t.object, default) for t in triples]


def _asserted_in(source: ox.Store, graphs: list[ox.NamedNode], triple: ox.Triple) -> bool:
    return any(ox.Quad(triple.subject, triple.predicate, triple.object, graph) in source for graph in graphs)


def _infer_quads(schema: Schema, data: list[ox.Quad]) -> list[ox.Quad]:
    """The rules and the closure run to their fixpoint over ``data`` (default-graph quads): what they add."""
    store = ox.Store()
    store.extend(schema.quads)
    store.extend(data)
    before = set(store.quads_for_pattern(None, None, None, ox.DefaultGraph()))

    # Each rule runs as the equivalent INSERT inside Oxigraph, so no intermediate result
    # crosses into Python; stop when a whole round adds nothing. A rule that added nothing
    # last time is skipped while nothing has been added since: on the same triples it would
    # add nothing again, so the store goes through the same states as if it ran.
    size = len(store)
    idle_at: dict[str, int] = {}  # rule -> store size at which it last ran and added nothing
    while True:
        round_start = size
        for name, update in schema.rules:
            if idle_at.get(name) == size:
                continue
            try:
                store.update(update, prefixes=_CLOSURE_PREFIXES)
            except SyntaxError as error:
                raise ValueError(f"{name}: {error}; fix the query") from error
            if len(store) == size:
                idle_at[name] = size
            else:
                size = len(store)
        if size == round_start:
            break

    return [q for q in store.quads_for_pattern(None, None, None, ox.DefaultGraph()) if q not in before]


def load_schema(ontology_dir: Path, cache_dir: Path | None = None) -> Schema:
    """The closed schema and the rules of `ontology_dir`.

    Kept in memory until one of its files changes; with `cache_dir`, also in
    `cache_dir/schema.json`, reused while the hash of the ontology, vocabularies, rules, this
    module and the libraries that compute it is the same.
    """
    files = [ontology_dir / "icgraph.ttl", *sorted((ontology_dir / "vocabularies").glob("*.ttl"))]
    rules = sorted((ontology_dir / "rules").glob("*.rq"))
    stamp = tuple((str(p), p.stat().st_mtime_ns) for p in [*files, *rules])
    return _load_schema(stamp, cache_dir)


@functools.lru_cache(maxsize=4)
def _load_schema(stamp: tuple[tuple[str, int], ...], cache_dir: Path | None) -> Schema:
    paths = [Path(path) for path, _ in stamp]
    if cache_dir is None:
        return _compute_schema(paths)
    cache = cache_dir / "schema.json"
    key = _schema_key(paths)
    try:
        stored = json.loads(cache.read_text(encoding="utf-8"))
        if stored["key"] == key:
            return Schema(
                quads=list(ox.parse(stored["quads"].encode("utf-8"), format=ox.RdfFormat.N_QUADS)),
                rules=[(name, update) for name, update in stored["rules"]],
                predicates=None if stored["predicates"] is None else {URIRef(p) for p in stored["predicates"]},
            )
    except (OSError, ValueError, KeyError, SyntaxError):
        pass  # no cache yet, or not one this code can read: compute it again
    schema = _compute_schema(paths)
    stored = {
        "key": key,
        "quads": ox.serialize(schema.quads, format=ox.RdfFormat.N_QUADS).decode("utf-8"),
        "rules": schema.rules,
        "predicates": None if schema.predicates is None else sorted(schema.predicates),
    }
    cache_dir.mkdir(parents=True, exist_ok=True)
    partial = cache.with_suffix(".partial")
    partial.write_text(json.dumps(stored, ensure_ascii=False), encoding="utf-8")
    partial.replace(cache)
    return schema


def _schema_key(paths: list[Path]) -> str:
    """A hash of everything the closed schema is computed from."""
    digest = hashlib.sha256()
    for module in (__file__, terms.__file__):
        digest.update(Path(module).read_bytes())
    digest.update(" ".join(f"{lib} {version(lib)}" for lib in ("owlrl", "rdflib", "pyoxigraph")).encode())
    for path in paths:
        content = path.read_bytes()
        digest.update(f"\0{path.name}\0{len(content)}\0".encode())
        digest.update(content)
    return digest.hexdigest()


def _compute_schema(paths: list[Path]) -> Schema:
    triples = Graph()
    rule_files = []
    for path in paths:
        if path.suffix == ".ttl":
            triples.parse(path, format="turtle")
        else:
            rule_files.append((f"ontology/rules/{path.name}", path.read_text(encoding="utf-8")))

    axioms = Graph()
    for predicate in _SCHEMA_PREDICATES:
        axioms += triples.triples((None, predicate, None))
    for kind in (OWL.Class, *_PROPERTY_TYPES):
        axioms += triples.triples((None, RDF.type, kind))
    owlrl.DeductiveClosure(owlrl.OWLRL_Semantics, axiomatic_triples=False, datatype_axioms=False).expand(axioms)

    def is_class(node: Node) -> bool:
        # Datatype ranges (xsd:*, rdf:langString, rdfs:Literal) type literals, never resources.
        return (
            isinstance(node, URIRef)
            and node not in _TRIVIAL_CLASSES
            and not str(node).startswith(str(XSD))
            and node not in (RDF.langString, RDFS.Literal)
        )

    datatype_properties = set(axioms.subjects(RDF.type, OWL.DatatypeProperty))
    tbox = Graph()
    for sub, sup in axioms.subject_objects(RDFS.subClassOf):
        if sub != sup and is_class(sup):
            tbox.add((sub, RDFS.subClassOf, sup))
    for sub, sup in axioms.subject_objects(RDFS.subPropertyOf):
        if sub != sup and isinstance(sup, URIRef) and sup not in _TRIVIAL_PROPERTIES:
            tbox.add((sub, RDFS.subPropertyOf, sup))
    for p, q in axioms.subject_objects(OWL.inverseOf):
        tbox.add((p, OWL.inverseOf, q))
        tbox.add((q, OWL.inverseOf, p))
    for p in axioms.subjects(RDF.type, OWL.SymmetricProperty):
        tbox.add((p, RDF.type, OWL.SymmetricProperty))
    # Domains of datatype properties are left out: the subjects of the texts and numbers
    # are typed by the mapping already (the SHACL shapes check it), and reading every
    # text to re-derive "is a Practice" would cost more than the rest of the inference.
    for p, c in axioms.subject_objects(RDFS.domain):
        if is_class(c) and p not in datatype_properties:
            tbox.add((p, RDFS.domain, c))
    for p, c in axioms.subject_objects(RDFS.range):
        if is_class(c):
            tbox.add((p, RDFS.range, c))

    schema = Schema(quads=_to_quads(triples) + _to_quads(tbox, ox.NamedNode(_TBOX)))
    closure = [(f"closure: {name}", _as_insert(f"closure: {name}", query)) for name, query in CLOSURE.items()]
    rules = [(name, _as_insert(name, query)) for name, query in rule_files]
    # Closure again after the rules, so that one round usually reaches the fixpoint and the
    # second only confirms it.
    schema.rules = closure + rules + closure
    schema.predicates = _rule_predicates([query for _, query in rule_files])
    if schema.predicates is not None:
        schema.predicates |= {RDF.type, RDFS.label}
        schema.predicates |= {s for s in tbox.subjects() if isinstance(s, URIRef)}
        schema.predicates |= {o for p, o in tbox.subject_objects(RDFS.subPropertyOf)}
        schema.predicates |= {o for p, o in tbox.subject_objects(OWL.inverseOf)}
    return schema


def _as_insert(name: str, query: str) -> str:
    """`CONSTRUCT {T} WHERE {P}` as the update `INSERT {T} WHERE {P}`: the same template and
    pattern, evaluated inside the store."""
    try:
        kind = prepareQuery(query, initNs=_CLOSURE_PREFIXES).algebra.name
    except Exception as error:  # pyparsing's ParseException and friends
        raise ValueError(f"{name} is not a valid SPARQL query: {error}") from error
    if kind != "ConstructQuery" or re.search(r"\bCONSTRUCT\s+WHERE\b", query, re.IGNORECASE):
        raise ValueError(f"{name}: a rule is a CONSTRUCT {{ template }} WHERE {{ pattern }} query")
    return re.sub(r"^(\s*)CONSTRUCT\b", r"\1INSERT", query, count=1, flags=re.MULTILINE | re.IGNORECASE)


def _rule_predicates(queries: list[str]) -> set[URIRef] | None:
    """Every IRI the rules mention (a superset of the predicates they read and write);
    None when a rule has a variable predicate, so that it needs the whole graph."""
    found: set[URIRef] = set()

    def walk(node) -> bool:
        if isinstance(node, CompValue) and node.name == "BGP":
            if any(isinstance(p, Variable) for _, p, _ in node["triples"]):
                return False
        if isinstance(node, dict):
            return all(walk(v) for v in node.values())
        if isinstance(node, (list, tuple, set)):
            return all(walk(v) for v in node)
        if isinstance(node, PropertyPath):
            return all(walk(v) for v in vars(node).values())
        if isinstance(node, URIRef):
            found.add(node)
        return True

    for query in queries:
        algebra = prepareQuery(query).algebra
        if not walk(algebra) or any(isinstance(p, Variable) for _, p, _ in algebra.get("template") or ()):
            return None
    return found


def _triples(data: Graph, predicates: set[URIRef] | None) -> Iterable[Triple]:
    """The triples of `data` an inference can use (every named graph of a Dataset)."""
    if isinstance(data, ConjunctiveGraph):
        if predicates is None:
            return {(s, p, o) for s, p, o, _ in data.quads((None, None, None, None))}
        return {(s, p, o) for q in predicates for s, p, o, _ in data.quads((None, q, None, None))}
    if predicates is None:
        return data
    return [t for q in predicates for t in data.triples((None, q, None))]


def _to_quads(triples: Iterable[Triple], graph=None) -> list[ox.Quad]:
    graph = graph or ox.DefaultGraph()
    return [ox.Quad(to_ox(s), to_ox(p), to_ox(o), graph) for s, p, o in triples]
