"""The SHACL gate of an accept, run only where the change can make a difference.

The previous release passed the full gate, and its report (``report/shacl.json`` and
``shacl.ttl``) holds every result. An accept changes the graph by a few quads (the
contribution and what it implies): ``G' = G - removed + added``. A shape's result for a focus
node depends only on the triples its evaluation reads, and what it reads is fixed by the shape:
its targets (``rdf:type``/``rdfs:subClassOf*`` for ``sh:targetClass``, the predicate for
``sh:targetSubjectsOf``, the patterns of a ``sh:SPARQLTarget``), its path, the triples its
constraints read from each value node (``sh:class``: the value's types and their superclasses;
``sh:node``, ``sh:not``, ``sh:or``, ``sh:qualifiedValueShape``: the nested shape's reads from the
value) and the triple patterns of its SPARQL constraints, taken from the query's algebra. Each
of these is an *access path* from the focus node: a sequence of steps, a step being a
predicate (or any predicate) followed forwards or backwards, once or any number of times.

Why that is enough (`affected`): if a focus node's result differs between G and G', the
evaluations differ in some lookup; take the first one along its access path. Every triple
read before it is in both graphs, so the focus node reaches that lookup's node in G' through
the path's prefix, and the lookup reads a changed triple. So the focus nodes whose result can
change are found by walking each access path *backwards* from the changed triples, in G'. For
SPARQL, a solution's triples hang off ``$this`` through a tree of patterns that share a
variable (one pattern reached per variable, the nearest); a pattern not connected to
``$this`` by variables, a ``GRAPH`` or ``SERVICE`` clause, or any SHACL construct this module
does not know makes that shape *fall back*: all its targets are validated again. Nothing is
skipped silently, and `analyse` lists which shapes fall back (tests/test_contributions_gate.py
holds every shape of shapes/ to one or the other).

The focus nodes found are checked against the shape's targets in G' and validated by pySHACL
(`icgraph.validate`'s run, with ``use_shapes`` and ``focus_nodes``) over `GateGraph`: G' read
from the previous release's Oxigraph store through the change, triple by triple, as the full
gate sees it (every named graph but the cooperation edges of graph:inferred, plus the
ontology). The report is the previous one without the results of the focus nodes validated
again, plus their new results: what the full gate would report on G'.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyoxigraph as ox
from rdflib import BNode, Graph, Literal, URIRef, Variable
from rdflib.collection import Collection
from rdflib.namespace import ORG
from rdflib.paths import AlternativePath, InvPath, MulPath, NegatedPath, SequencePath
from rdflib.store import Store
from rdflib.term import Node

from icgraph.config import Settings
from icgraph.namespaces import ICG, INFERRED_GRAPH, OWL, PREFIXES, PROV, RDF, RDFS, SH
from icgraph.terms import from_ox, to_ox
from icgraph.validate import (
    _LABEL_PROPERTIES,
    ValidationIssue,
    ValidationResult,
    compact,
    label_of,
    load_ontology,
    _prepared_query,
    load_shapes,
    run_shapes,
    sorted_result,
    source_line,
)

# --------------------------------------------------------------------------- access paths

#: One option of a step: a predicate (None: any) and whether it is followed backwards.
Option = tuple[URIRef | None, bool]
#: A step: the options it may take, and whether it repeats (zero or more times).
Step = tuple[frozenset[Option], bool]
#: An access path: the steps from a focus node to a triple its evaluation reads.
Path_ = tuple[Step, ...]


def _step(predicate: URIRef | None, inverse: bool = False, repeats: bool = False) -> Step:
    return frozenset({(predicate, inverse)}), repeats


def _inverse(paths: set[Path_]) -> set[Path_]:
    return {tuple((frozenset((p, not inv) for p, inv in options), repeats) for options, repeats in reversed(path)) for path in paths}


def _joined(*parts: set[Path_]) -> set[Path_]:
    return {tuple(itertools.chain.from_iterable(chosen)) for chosen in itertools.product(*parts)}


def _repeated(paths: set[Path_]) -> set[Path_]:
    """Any number of repetitions of ``paths``: each of their steps, in any order (it covers every such walk)."""
    return {((frozenset(option for path in paths for options, _ in path for option in options), True),)}


#: What sh:class (and sh:targetClass) read from a node: its types and their superclasses.
_CLASS_READS: set[Path_] = {(_step(RDF.type), _step(RDFS.subClassOf, repeats=True))}


class Unknown(Exception):
    """A construct the analysis does not know: the shape falls back to validating all its targets."""


# --------------------------------------------------------------------------- SHACL shapes

#: Shape parameters that read nothing beyond the value nodes themselves (or are not constraints).
_READ_NOTHING = {
    SH.minCount, SH.maxCount, SH.datatype, SH.nodeKind, SH.pattern, SH.flags, SH.languageIn, SH.uniqueLang,
    SH.minInclusive, SH.maxInclusive, SH.minExclusive, SH.maxExclusive, SH.minLength, SH.maxLength, SH["in"],
    SH.hasValue, SH.qualifiedMinCount, SH.qualifiedMaxCount, SH.severity, SH.message, SH.name, SH.description,
    SH.order, SH.group, SH.defaultValue, SH.deactivated, SH.ignoredProperties, RDFS.label, RDFS.comment, RDF.type,
    SH.path, SH.targetClass, SH.targetNode, SH.targetSubjectsOf, SH.targetObjectsOf, SH.target,
}
#: Parameters whose value is a shape checked on each value node.
_NESTED = (SH.node, SH["not"], SH.qualifiedValueShape, SH.property)
_NESTED_LISTS = (SH["and"], SH["or"], SH.xone)
#: Property-pair parameters: they read the other property of the focus node.
_PAIRS = (SH.equals, SH.disjoint, SH.lessThan, SH.lessThanOrEquals)
_REPEATS = (SH.zeroOrMorePath, SH.oneOrMorePath, SH.zeroOrOnePath)
#: Target parameters as pySHACL reads them.
_TARGETS = (SH.targetClass, SH.targetNode, SH.targetSubjectsOf, SH.targetObjectsOf, SH.target)


def shacl_path(shapes: Graph, node: Node) -> set[Path_]:
    """The access paths of a SHACL property path (alternatives as several paths)."""
    if isinstance(node, URIRef):
        return {(_step(node),)}
    if (node, RDF.first, None) in shapes:
        return _joined(*(shacl_path(shapes, member) for member in Collection(shapes, node)))
    inverse = shapes.value(node, SH.inversePath)
    if inverse is not None:
        return _inverse(shacl_path(shapes, inverse))
    alternatives = shapes.value(node, SH.alternativePath)
    if alternatives is not None:
        return set().union(*(shacl_path(shapes, member) for member in Collection(shapes, alternatives)))
    for repeat in _REPEATS:
        inner = shapes.value(node, repeat)
        if inner is not None:
            return _repeated(shacl_path(shapes, inner))
    raise Unknown(f"the path {node} is none of SHACL's path forms")


def shape_reads(shapes: Graph, shape: Node, prefixes: dict[str, str], seen: frozenset = frozenset()) -> set[Path_]:
    """The access paths a shape's constraints read from the node it checks (the focus node, or a value node)."""
    if shape in seen:
        raise Unknown(f"the shape {shape} refers to itself")
    seen = seen | {shape}
    reads: set[Path_] = set()
    path = shapes.value(shape, SH.path)
    values = shacl_path(shapes, path) if path is not None else {()}
    if path is not None:
        reads |= values
    for predicate, value in shapes.predicate_objects(shape):
        if predicate in _READ_NOTHING:
            continue
        if predicate == SH["class"]:
            reads |= _joined(values, _CLASS_READS)
        elif predicate in _NESTED:
            reads |= _joined(values, shape_reads(shapes, value, prefixes, seen))
        elif predicate in _NESTED_LISTS:
            for member in Collection(shapes, value):
                reads |= _joined(values, shape_reads(shapes, member, prefixes, seen))
        elif predicate in _PAIRS:
            reads.add((_step(value),))
        elif predicate == SH.closed:
            if value == Literal(True):
                reads |= _joined(values, {(_step(None),)})
        elif predicate == SH.sparql:
            if path is not None:
                raise Unknown(f"the SPARQL constraint of the property shape {shape} reads $PATH")
            reads |= sparql_reads(_select(shapes, value, prefixes))
        else:
            raise Unknown(f"the shape {shape} uses {predicate}")
    return {read for read in reads if read}


def target_reads(shapes: Graph, shape: Node, prefixes: dict[str, str]) -> set[Path_]:
    """The access paths a shape's targets read from a focus node."""
    reads: set[Path_] = set()
    if set(shapes.objects(shape, SH.targetClass)):
        reads |= _CLASS_READS
    for predicate in shapes.objects(shape, SH.targetSubjectsOf):
        reads.add((_step(predicate),))
    for predicate in shapes.objects(shape, SH.targetObjectsOf):
        reads.add((_step(predicate, inverse=True),))
    for target in shapes.objects(shape, SH.target):
        if (target, RDF.type, SH.SPARQLTarget) not in shapes:
            raise Unknown(f"the target {target} of {shape} is not a sh:SPARQLTarget")
        reads |= sparql_reads(_select(shapes, target, prefixes))
    return reads


def _select(shapes: Graph, node: Node, prefixes: dict[str, str]):
    text = shapes.value(node, SH.select)
    if text is None:
        raise Unknown(f"{node} has no sh:select")
    return _prepared_query(str(text), tuple(sorted(prefixes.items())))  # parsed once per process


def declared_prefixes(shapes: Graph) -> dict[str, str]:
    """Every sh:declare of the shapes graph (the shapes' sh:prefixes name these ontologies)."""
    return {str(shapes.value(d, SH.prefix)): str(shapes.value(d, SH.namespace)) for d in shapes.objects(None, SH.declare)}


# --------------------------------------------------------------------------- SPARQL queries


def _query_triples(algebra) -> list[tuple]:
    """Every triple pattern of a query's algebra, in EXISTS and NOT EXISTS too."""
    from rdflib.plugins.sparql.parserutils import CompValue

    found: list[tuple] = []

    def walk(part) -> None:
        if isinstance(part, CompValue):
            if part.name in ("Graph", "GraphGraphPattern", "ServiceGraphPattern"):
                raise Unknown(f"the query reads a named graph or a service ({part.name})")
            for key, value in part.items():
                if key == "triples":
                    for item in value:
                        terms = list(item)
                        found.extend(tuple(terms[i:i + 3]) for i in range(0, len(terms), 3))
                else:
                    walk(value)
        elif isinstance(part, (list, tuple)):
            for item in part:
                walk(item)
        elif isinstance(part, dict):
            for value in part.values():
                walk(value)

    walk(algebra)
    return found


def _sparql_path(path) -> set[Path_]:
    if isinstance(path, URIRef):
        return {(_step(path),)}
    if isinstance(path, (Variable, BNode)):
        return {(_step(None),)}
    if isinstance(path, InvPath):
        return _inverse(_sparql_path(path.arg))
    if isinstance(path, SequencePath):
        return _joined(*(_sparql_path(arg) for arg in path.args))
    if isinstance(path, AlternativePath):
        return set().union(*(_sparql_path(arg) for arg in path.args))
    if isinstance(path, MulPath):
        return _repeated(_sparql_path(path.path))
    if isinstance(path, NegatedPath):
        return {((frozenset((None, isinstance(arg, InvPath)) for arg in path.args), False),)}
    raise Unknown(f"the query has a path {path!r} this analysis does not know")


def sparql_reads(query) -> set[Path_]:
    """The access paths from ``$this`` to every triple pattern of a SELECT query.

    First each variable gets one way from ``$this`` through the patterns (subject and object
    positions, nearest first, forwards before backwards, then in the query's order); then each
    pattern is read from its subject's way if its subject is a variable, else from its
    object's. Reading from the subject keeps the walk back from a changed triple off the nodes
    many triples point at (a governance level, a concept): ``?other icg:governanceLevel ?level``
    is read from ``?other``, not from every actor of that level.
    """
    patterns = _query_triples(query.algebra)
    variable = lambda term: isinstance(term, (Variable, BNode))  # noqa: E731
    this = Variable("this")
    chains: dict[Node, set[Path_]] = {this: {()}}
    depth = {this: 0}
    tree: dict[int, set[Path_]] = {}
    while True:
        best = None
        for order, (subject, predicate, obj) in enumerate(patterns):
            for end, other, backwards in ((subject, obj, False), (obj, subject, True)):
                if variable(end) and end in chains and variable(other) and other not in chains:
                    rank = (depth[end], backwards, order)
                    if best is None or rank < best[0]:
                        best = (rank, end, other, backwards, predicate)
        if best is None:
            break
        (_, backwards, order), end, other, _, predicate = best
        steps = _sparql_path(predicate)
        chains[other] = _joined(chains[end], _inverse(steps) if backwards else steps)
        depth[other] = depth[end] + 1
        tree[order] = chains[other]
    reads: set[Path_] = set()
    for order, (subject, predicate, obj) in enumerate(patterns):
        steps = _sparql_path(predicate)
        if order in tree:  # the pattern a variable is reached by: read on that way
            reads |= tree[order]
        elif variable(subject) and subject in chains:
            reads |= _joined(chains[subject], steps)
        elif variable(obj) and obj in chains:
            reads |= _joined(chains[obj], _inverse(steps))
        else:
            raise Unknown(f"the query has a pattern not joined to $this by a variable: {subject} {predicate} {obj}")
    return reads


# --------------------------------------------------------------------------- the analysis


@dataclass
class Analysis:
    """What each targeted shape reads from a focus node, or why it falls back to all its targets."""

    shapes: Graph
    reads: dict[URIRef, set[Path_]]
    fallback: dict[URIRef, str]
    prefixes: dict[str, str]
    #: (predicate or None, backwards) -> (shape, path, step index) of every step that may read such a triple.
    index: dict[Option, list[tuple[URIRef, Path_, int]]] = field(default_factory=dict)

    @property
    def targeted(self) -> list[URIRef]:
        return sorted([*self.reads, *self.fallback], key=str)


def targeted_shapes(shapes: Graph) -> set[Node]:
    return {shape for predicate in _TARGETS for shape in shapes.subjects(predicate, None)}


def referenced_shapes(shapes: Graph) -> set[Node]:
    """The shapes other shapes refer to (sh:node, sh:property, sh:qualifiedValueShape, sh:not, sh:and/or/xone)."""
    found = {shape for predicate in _NESTED for shape in shapes.objects(None, predicate)}
    for predicate in _NESTED_LISTS:
        for members in shapes.objects(None, predicate):
            found.update(Collection(shapes, members))
    return found


_analysed: dict[int, tuple[Graph, Analysis]] = {}


def analyse(shapes: Graph) -> Analysis:
    """Access paths of every targeted shape of ``shapes``; a shape the analysis cannot read falls back.

    Remembered for the shapes graph `icgraph.validate.load_shapes` keeps while no file changes.
    """
    known = _analysed.get(id(shapes))
    if known is not None and known[0] is shapes:
        return known[1]
    analysis = _analysis(shapes)
    _analysed.clear()
    _analysed[id(shapes)] = (shapes, analysis)
    return analysis


def _analysis(shapes: Graph) -> Analysis:
    prefixes = {**PREFIXES, **declared_prefixes(shapes)}
    reads, fallback = {}, {}
    for shape in sorted(targeted_shapes(shapes), key=str):
        try:
            if not isinstance(shape, URIRef):
                raise Unknown("a blank-node shape cannot be named in pySHACL's use_shapes")
            if shapes.value(shape, RDF.type) in (RDFS.Class, OWL.Class):
                raise Unknown("a class that is a shape targets its instances implicitly")
            if (shape, SH.property, None) in shapes:
                raise Unknown("its sh:property shapes report results in their own name, which the gate keeps by shape")
            reads[shape] = target_reads(shapes, shape, prefixes) | shape_reads(shapes, shape, prefixes)
        except Unknown as why:
            fallback[shape] = str(why)
    analysis = Analysis(shapes, reads, fallback, prefixes)
    for shape, paths in reads.items():
        for path in paths:
            for position, (options, _) in enumerate(path):
                for option in options:
                    analysis.index.setdefault(option, []).append((shape, path, position))
    return analysis


# --------------------------------------------------------------------------- the graph the gate sees


class GateStore(Store):
    """The gate's data, read-only: the named graphs of a release's store through a change, plus the ontology.

    As `icgraph.build` gives it to the gate: every named graph's triples, but not graph:inferred's
    cooperation edges (`icgraph.build._shape_relevant`), merged with ontology/ as
    `icgraph.validate` merges it. ``removed`` quads are left out, ``added`` ones read too.
    """

    # pySHACL wraps the data graph in a Dataset, which asks for a context-aware store; every
    # context reads the same triples (the merge), as in the plain Graph the full gate validates.
    context_aware = True
    graph_aware = True

    def __init__(self, store: ox.Store, ontology: Graph, added: Iterable[ox.Quad] = (), removed: Iterable[ox.Quad] = ()):
        super().__init__()
        self.store, self.ontology = store, ontology
        self.removed = set(removed)
        self.added_quads = [q for q in dict.fromkeys(added) if q not in self.removed]
        self._inferred = ox.NamedNode(str(INFERRED_GRAPH))
        self._edge_type = (ox.NamedNode(str(RDF.type)), ox.NamedNode(str(ICG.CooperationEdge)))
        self._edge_predicates = {ox.NamedNode(str(ICG.cooperatesWith)), ox.NamedNode(str(ORG.linkedTo))}
        self._edges: dict = {}
        self.added = Graph()
        for quad in self.added_quads:
            if not self.is_edge(quad):
                self.added.add((from_ox(quad.subject), from_ox(quad.predicate), from_ox(quad.object)))
        self._namespaces: dict[str, URIRef] = {}
        self.size: int | None = None  #: how many triples the gate's data holds, if known

    def is_edge(self, quad: ox.Quad) -> bool:
        """A quad of graph:inferred the gate does not read: a cooperation edge."""
        if quad.graph_name != self._inferred:
            return False
        if quad.predicate in self._edge_predicates:
            return True
        subject = quad.subject
        if subject not in self._edges:
            typed = ox.Quad(subject, *self._edge_type, self._inferred)
            self._edges[subject] = (typed in self.store and typed not in self.removed) or typed in self.added_quads
        return self._edges[subject]

    def _store_triples(self, pattern) -> Iterator[tuple]:
        s, p, o = (to_ox(t) if t is not None else None for t in pattern)
        if isinstance(s, ox.Literal) or (p is not None and not isinstance(p, ox.NamedNode)):
            return
        default = ox.DefaultGraph()
        for quad in self.store.quads_for_pattern(s, p, o, None):
            if quad.graph_name == default or quad in self.removed or self.is_edge(quad):
                continue
            yield from_ox(quad.subject), from_ox(quad.predicate), from_ox(quad.object)

    def triples(self, pattern, context=None):
        seen = set()
        for source in (self._store_triples(pattern), self.added.triples(pattern), self.ontology.triples(pattern)):
            for triple in source:
                if triple not in seen:
                    seen.add(triple)
                    yield triple, iter(())

    def __len__(self, context=None) -> int:
        # pySHACL only asks whether the graph is empty (bool); the count, when the previous report
        # gives it, is that report's plus the change's (`incremental_gate`). Unknown, it is "not empty".
        return self.size if self.size is not None else 1

    def contexts(self, triple=None):
        return iter(())

    def add_graph(self, graph):
        pass

    def bind(self, prefix, namespace, override=True, replace=False):
        self._namespaces[prefix] = URIRef(namespace)

    def namespace(self, prefix):
        return self._namespaces.get(prefix)

    def prefix(self, namespace):
        return next((p for p, n in self._namespaces.items() if n == URIRef(namespace)), None)

    def namespaces(self):
        yield from self._namespaces.items()

    def add(self, triple, context=None, quoted=False):
        raise TypeError("the gate's graph is read-only")

    def remove(self, triple, context=None):
        raise TypeError("the gate's graph is read-only")


def gate_graph(store: ox.Store, ontology: Graph, added: Iterable[ox.Quad] = (), removed: Iterable[ox.Quad] = ()) -> Graph:
    graph = Graph(store=GateStore(store, ontology, added, removed))
    for prefix, iri in PREFIXES.items():
        graph.bind(prefix, iri, override=True)
    return graph


# --------------------------------------------------------------------------- which focus nodes


def changed_triples(old: Graph, new: Graph, added: Iterable[ox.Quad], removed: Iterable[ox.Quad]) -> tuple[set, set]:
    """The triples the gate's data gains and loses (a quad whose triple another graph holds changes nothing)."""
    candidates = {(from_ox(q.subject), from_ox(q.predicate), from_ox(q.object)) for q in itertools.chain(added, removed)}
    gained, lost = set(), set()
    for triple in candidates:
        before, after = triple in old, triple in new
        if after and not before:
            gained.add(triple)
        elif before and not after:
            lost.add(triple)
    return gained, lost


def _back(graph: Graph, step: Step, nodes: set[Node]) -> set[Node]:
    """The nodes from which ``step`` leads to one of ``nodes`` in ``graph``."""
    options, repeats = step
    found = set(nodes) if repeats else set()
    frontier = set(nodes)
    while frontier:
        reached = set()
        for node in frontier:
            for predicate, backwards in options:
                if backwards:
                    if not isinstance(node, Literal):
                        reached.update(o for _, _, o in graph.triples((node, predicate, None)))
                else:
                    reached.update(s for s, _, _ in graph.triples((None, predicate, node)))
        if not repeats:
            return reached
        frontier = reached - found
        found |= frontier
    return found


def affected(analysis: Analysis, graph: Graph, changed: Iterable[tuple]) -> dict[URIRef, set[Node]]:
    """For each analysed shape, the nodes whose result a change of these triples can alter (targets or not)."""
    found: dict[URIRef, set[Node]] = {}
    cache: dict[tuple, set[Node]] = {}
    for s, p, o in changed:
        for option, start in (((p, False), s), ((p, True), o), ((None, False), s), ((None, True), o)):
            for shape, path, position in analysis.index.get(option, ()):
                repeats = path[position][1]
                prefix = path[: position + 1] if repeats else path[:position]
                key = (prefix, start)
                if key not in cache:
                    nodes = {start}
                    for step in reversed(prefix):
                        nodes = _back(graph, step, nodes)
                        if not nodes:
                            break
                    cache[key] = nodes
                found.setdefault(shape, set()).update(cache[key])
    return found


def is_target(analysis: Analysis, graph: Graph, shape: URIRef, node: Node, classes: dict) -> bool:
    """Whether pySHACL would select ``node`` as a focus node of ``shape`` in ``graph`` (`pyshacl.shape.Shape.focus_nodes`)."""
    shapes = analysis.shapes
    if node in set(shapes.objects(shape, SH.targetNode)):
        return True
    for target_class in shapes.objects(shape, SH.targetClass):
        if target_class not in classes:
            classes[target_class] = set(graph.transitive_subjects(RDFS.subClassOf, target_class))
        if any(kind in classes[target_class] for kind in graph.objects(node, RDF.type)):
            return True
    for predicate in shapes.objects(shape, SH.targetSubjectsOf):
        if next(iter(graph.triples((node, predicate, None))), None) is not None:
            return True
    for predicate in shapes.objects(shape, SH.targetObjectsOf):
        if next(iter(graph.triples((None, predicate, node))), None) is not None:
            return True
    for target in shapes.objects(shape, SH.target):
        query = _select(shapes, target, analysis.prefixes)
        if any(row["this"] == node for row in graph.query(query, initBindings={"this": node})):
            return True
    return False


# --------------------------------------------------------------------------- the gate


#: The IRIs pySHACL's focus_nodes option takes as they are (it expands anything else as a CURIE).
_FOCUS_SCHEMES = ("http:", "https:", "urn:", "file:")


class FullGateNeeded(Exception):
    """The previous report cannot be joined to (it has results of shapes that target nothing now): run the full gate."""


@dataclass
class Gate:
    """What the incremental gate did: the result, as the full gate would give it, and what it validated again."""

    result: ValidationResult
    affected: dict[URIRef, set[Node]]  #: shape -> the nodes whose results the change can alter (old results dropped)
    validated: dict[URIRef, set[Node]]  #: shape -> those of them the shape targets in G', validated again
    fallback: list[URIRef]  #: shapes whose targets were all validated again
    gained: int
    lost: int
    #: False when the previous release kept no report: ``result`` then holds only the results of what was validated.
    complete: bool = True


def previous_report(release_path: Path) -> Path | None:
    """A release's ``report/`` folder, if it keeps the SHACL report (`icgraph load` runs no gate and keeps none)."""
    folder = release_path / "report"
    return folder if (folder / "shacl.json").is_file() and (folder / "shacl.ttl").is_file() else None


def incremental_gate(previous_store: Path, report: Path | None, added: list[ox.Quad], removed: list[ox.Quad],
                     settings: Settings | None = None) -> Gate:
    """Validate ``G' = G - removed + added`` where it can differ from G, and join the result to G's report.

    ``previous_store`` is G, ``report`` its release's ``report/`` folder (`previous_report`): the
    result then holds what the full gate (`icgraph.validate`) would report on G', issues and
    report graph. Without a report (G was loaded, not gated) it holds the results of the focus
    nodes validated, and ``complete`` is False: a violation among them still refuses the change.
    """
    settings = settings or Settings()
    started = time.perf_counter()
    before = json.loads((report / "shacl.json").read_text(encoding="utf-8")) if report is not None else None
    shapes, ontology = load_shapes(settings), load_ontology(settings)
    analysis = analyse(shapes)
    if before is not None:
        targeted = {compact(s) for s in analysis.targeted}
        if any(issue["shape"] not in targeted for issue in before["issues"]):
            raise FullGateNeeded("the previous report has results of shapes that no longer target anything; run the full gate")
    store = ox.Store.read_only(str(previous_store))
    old, new = gate_graph(store, ontology), gate_graph(store, ontology, added, removed)
    gained, lost = changed_triples(old, new, added, removed)
    triples = before["triples"] + len(gained) - len(lost) if before is not None else 0
    new.store.size = triples if before is not None else None
    again = affected(analysis, new, gained | lost)
    # Which of them the shapes select in G' (the others lose their old results, if they had any).
    classes: dict = {}
    focus: dict[URIRef, list[Node]] = {}
    fallback = sorted(analysis.fallback, key=str)
    for shape, nodes in again.items():
        targets = [n for n in nodes if is_target(analysis, new, shape, n, classes)]
        if any(not isinstance(n, URIRef) or not str(n).lower().startswith(_FOCUS_SCHEMES) for n in targets):
            fallback.append(shape)  # pySHACL takes focus nodes by IRI only, and reads others as CURIEs
        elif targets:
            focus[shape] = sorted(targets, key=str)
    reports, issues = [], []
    groups: dict[tuple, list[URIRef]] = {}
    for shape, nodes in focus.items():
        if shape not in fallback:
            groups.setdefault(tuple(nodes), []).append(shape)
    # pySHACL checks a sh:qualifiedValueShape only if the shape it names is among use_shapes (it
    # silently passes otherwise), so every shape another one refers to is named too, as
    # `icgraph.validate.shape_tasks` does; given focus nodes, those shapes check them as well, and
    # their results are not the gate's: only the results of the group's own shapes are kept.
    helpers = sorted(str(s) for s in referenced_shapes(shapes) if isinstance(s, URIRef))
    graph = new
    for nodes, group in sorted(groups.items(), key=lambda item: str(item[1])):
        own = {compact(s) for s in group}
        report_graph, found = run_shapes(graph, shapes, sorted({*map(str, group), *helpers}), [str(n) for n in nodes])
        reports.append((report_graph, {str(s) for s in group}))
        issues += [i for i in found if i.shape in own]
    for shape in sorted(set(fallback), key=str):
        report_graph, found = run_shapes(graph, shapes, sorted({str(shape), *helpers}))
        reports.append((report_graph, None))
        issues += found
    # The previous report without what was validated again; labels and lines of the rest as G' gives them.
    redone = {(compact(shape), compact(node)) for shape, nodes in again.items() for node in nodes}
    redone_shapes = {compact(shape) for shape in fallback}
    relabel = _relabelled(new, gained | lost)
    kept = []
    for data in before["issues"] if before is not None else ():
        if (data["shape"], data["focus_node"]) in redone or data["shape"] in redone_shapes:
            continue
        issue = ValidationIssue(**data)
        if issue.focus_node in relabel or _owner_text(issue.focus_node) in relabel:
            node = _node(issue.focus_node)
            issue = ValidationIssue(**{**data, "focus_label": label_of(graph, node), "source_line": source_line(graph, node)})
        kept.append(issue)
    dropped = {(str(shape), str(node)) for shape, nodes in again.items() for node in nodes}
    report_graph = _joined_report(report / "shacl.ttl" if report is not None else None, reports, dropped,
                                  {str(shape) for shape in fallback}, shapes)
    result = sorted_result(report_graph, kept + issues, time.perf_counter() - started, triples)
    validated = {shape: set(nodes) for shape, nodes in focus.items()}
    return Gate(result, again, validated, sorted(set(fallback), key=str), len(gained), len(lost), before is not None)


def _node(text: str) -> Node:
    from icgraph.namespaces import expand

    if text.startswith("_:"):
        return BNode(text[2:])
    return URIRef(expand(text))


def _owner_text(focus: str) -> str | None:
    iri = _node(focus)
    if isinstance(iri, URIRef) and "#" in iri:
        return compact(URIRef(str(iri).split("#", 1)[0]))
    return None


def _relabelled(graph: Graph, changed: set[tuple]) -> set[str]:
    """The nodes whose label or source line (as a report shows them, `icgraph.validate.label_of`) a change can alter."""
    lines = (ICG.sourceLine, ICG.startLine, PROV.qualifiedDerivation)
    nodes = {s for s, p, _ in changed if p in _LABEL_PROPERTIES or p in lines}
    nodes |= {s for d in list(nodes) for s, _, _ in graph.triples((None, PROV.qualifiedDerivation, d))}
    return {compact(n) for n in nodes}


def _joined_report(previous: Path | None, reports: list[tuple[Graph, set[str] | None]], dropped: set[tuple[str, str]],
                   dropped_shapes: set[str], shapes: Graph) -> Graph:
    """The previous sh:ValidationReport without the results validated again, with the new ones, as one report.

    Read and written with Oxigraph (`OxigraphReport`): the report has a result per issue of the
    whole graph, which rdflib would take seconds to parse and write at a hundred times the data.
    """
    by_subject: dict = {}
    results = []
    if previous is not None:
        for quad in ox.parse(path=str(previous), format=ox.RdfFormat.TURTLE):
            by_subject.setdefault(quad.subject, []).append(quad.triple)
            if quad.predicate.value == str(SH.result):
                results.append(quad.object)
    kept = []
    for result in results:
        found = {t.predicate.value: t.object.value for t in by_subject.get(result, ()) if t.predicate.value in _RESULT_KEYS}
        key = (found.get(str(SH.sourceShape)), found.get(str(SH.focusNode)))
        if key not in dropped and key[0] not in dropped_shapes:
            kept.append((result, by_subject))
    for graph, own in reports:
        subjects: dict = {}
        for s, p, o in graph:
            subjects.setdefault(to_ox(s), []).append(ox.Triple(to_ox(s), to_ox(p), to_ox(o)))
        for result in graph.objects(None, SH.result):
            if own is None or str(graph.value(result, SH.sourceShape)) in own:
                kept.append((to_ox(result), subjects))
    report = ox.BlankNode()
    conforms = True
    triples = [ox.Triple(report, _OX_TYPE, ox.NamedNode(str(SH.ValidationReport)))]
    violation = ox.NamedNode(str(SH.Violation))
    for result, subjects in kept:
        triples.append(ox.Triple(report, ox.NamedNode(str(SH.result)), result))
        todo = [result]
        while todo:
            for triple in subjects.get(todo.pop(), ()):
                triples.append(triple)
                if isinstance(triple.object, ox.BlankNode):
                    todo.append(triple.object)
                if triple.object == violation and triple.predicate.value == str(SH.resultSeverity):
                    conforms = False
    triples.append(ox.Triple(report, ox.NamedNode(str(SH.conforms)), ox.Literal("true" if conforms else "false", datatype=_OX_BOOLEAN)))
    joined = OxigraphReport(triples)
    for prefix, iri in shapes.namespaces():
        joined.bind(prefix, iri)
    return joined


_RESULT_KEYS = {str(SH.sourceShape), str(SH.focusNode)}
_OX_TYPE = ox.NamedNode(str(RDF.type))
_OX_BOOLEAN = ox.NamedNode("http://www.w3.org/2001/XMLSchema#boolean")


class OxigraphReport(Graph):
    """A report graph held as Oxigraph triples: written as Turtle by Oxigraph, read through rdflib only if asked."""

    def __init__(self, triples: list[ox.Triple]):
        super().__init__(bind_namespaces="core")
        self._pending: list[ox.Triple] | None = list(dict.fromkeys(triples))

    def _load(self) -> None:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            for t in pending:
                super().add((from_ox(t.subject), from_ox(t.predicate), from_ox(t.object)))

    def triples(self, triple):
        self._load()
        return super().triples(triple)

    def __len__(self) -> int:
        self._load()
        return super().__len__()

    def serialize(self, destination=None, format="turtle", base=None, encoding=None, **args):
        if self._pending is not None and destination is None and encoding is None and format in ("turtle", "ttl"):
            prefixes = {prefix: str(iri) for prefix, iri in self.namespaces() if prefix}
            return ox.serialize(self._pending, format=ox.RdfFormat.TURTLE, prefixes=prefixes).decode("utf-8")
        self._load()
        return super().serialize(destination=destination, format=format, base=base, encoding=encoding, **args)
