"""The SHACL gate: validate the data against shapes/ and report what to fix.

`validate` merges the data with the ontology and the SKOS vocabularies (so that
`sh:targetClass` and `sh:class` follow `rdfs:subClassOf`, and concepts can be checked
against their `skos:inScheme`), runs pySHACL over the whole graph and returns a
`ValidationResult`. With `processes` > 1 (the build passes one per CPU) the shapes are
shared out among forked worker processes, a pySHACL run per targeted shape, and their
reports joined into one: the results of a single run, in less wall-clock time.
`format_report` renders it as text (grouped like a linter), JSON or the
`sh:ValidationReport` in Turtle. Only `sh:Violation` results block the build.

Why no inference: SHACL's own notion of "instance" already follows `rdfs:subClassOf`
in the data graph, and the ontology is merged in, so RDFS/OWL-RL pre-inference would
only add cost (seconds on the full graph) without changing a result.
"""

from __future__ import annotations

import functools
import json
import multiprocessing
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from rdflib import BNode, Dataset, Graph, Literal, URIRef
from rdflib.collection import Collection
from rdflib.graph import ConjunctiveGraph
from rdflib.paths import Path as PropertyPath
from rdflib.term import Node

from icgraph.config import Settings
from icgraph.namespaces import (
    DCTERMS,
    FOAF,
    ICG,
    ONTOLOGY_GRAPH,
    OWL,
    PREFIXES,
    PROV,
    RDF,
    RDFS,
    SH,
    SKOS,
    VOCABULARIES_GRAPH,
)

#: Severities, most severe first, as they are named in reports.
SEVERITIES: tuple[str, ...] = ("Violation", "Warning", "Info")
_SEVERITY_BY_IRI = {SH.Violation: "Violation", SH.Warning: "Warning", SH.Info: "Info"}

#: The shape files, one per severity (shapes/).
SHAPE_FILES: tuple[str, ...] = ("violations.ttl", "warnings.ttl", "infos.ttl")

_LABEL_PROPERTIES = (SKOS.prefLabel, DCTERMS.title, RDFS.label, FOAF.name)

#: What makes a shape start a validation of its own (pySHACL's targets, SHACL-AF's sh:target).
_TARGETS = (SH.targetClass, SH.targetNode, SH.targetSubjectsOf, SH.targetObjectsOf, SH.target)
#: How a shape refers to other shapes: one shape per value, or a list of shapes.
_SHAPE_VALUES = (SH.property, SH.node, SH["not"], SH.qualifiedValueShape)
_SHAPE_LISTS = (SH["and"], SH["or"], SH.xone)

_parsed: dict[tuple[str, ...], tuple[tuple[float, ...], Graph]] = {}


@dataclass(frozen=True)
class ValidationIssue:
    """One validation result, in words a curator can act on."""

    severity: str
    shape: str
    shape_label: str
    focus_node: str
    focus_label: str | None
    path: str | None
    value: str | None
    message: str
    source_line: int | None
    constraint: str | None

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class ValidationResult:
    """What `validate` found. `conforms` is true when there is no `sh:Violation`."""

    conforms: bool
    counts: dict[str, int]
    report_graph: Graph
    issues: list[ValidationIssue] = field(default_factory=list)
    seconds: float = 0.0
    triples: int = 0
    #: CPU seconds of the pySHACL runs, in whichever processes ran them (`bench.stages` reports them).
    cpu_seconds: float = 0.0

    @property
    def violations(self) -> list[ValidationIssue]:
        return [i for i in self.issues if i.severity == "Violation"]

    @property
    def warnings(self) -> list[ValidationIssue]:
        return [i for i in self.issues if i.severity == "Warning"]

    @property
    def infos(self) -> list[ValidationIssue]:
        return [i for i in self.issues if i.severity == "Info"]

    def grouped(self) -> dict[str, dict[str, list[ValidationIssue]]]:
        """Issues by severity (most severe first), then by shape label."""
        groups: dict[str, dict[str, list[ValidationIssue]]] = {s: {} for s in SEVERITIES}
        for issue in self.issues:
            groups.setdefault(issue.severity, {}).setdefault(issue.shape_label, []).append(issue)
        return {s: g for s, g in groups.items() if g}


# --------------------------------------------------------------------------- loading


def _parse_cached(paths: Iterable[Path]) -> Graph:
    """Parse Turtle files into one graph, reusing the last parse while no file changed."""
    paths = tuple(sorted(Path(p) for p in paths))
    key = tuple(str(p) for p in paths)
    stamps = tuple(p.stat().st_mtime_ns for p in paths)
    cached = _parsed.get(key)
    if cached and cached[0] == stamps:
        return cached[1]
    graph = Graph()
    for path in paths:
        graph.parse(path, format="turtle")
    _parsed[key] = (stamps, graph)
    return graph


def load_shapes(settings: Settings | None = None) -> Graph:
    """The shapes graph: shapes/violations.ttl, warnings.ttl and infos.ttl together."""
    settings = settings or Settings()
    return _parse_cached(settings.shapes_dir / name for name in SHAPE_FILES)


def load_ontology(settings: Settings | None = None) -> Graph:
    """ontology/icgraph.ttl and ontology/vocabularies/*.ttl, whichever exist."""
    settings = settings or Settings()
    paths = [settings.ontology_dir / "icgraph.ttl", *sorted((settings.ontology_dir / "vocabularies").glob("*.ttl"))]
    return _parse_cached(p for p in paths if p.is_file())


def _merged(data_graph: Graph, settings: Settings, ontology: Graph | None, inplace: bool = False) -> Graph:
    """One plain graph: the union of the data's named graphs, plus the ontology.

    pySHACL validates each named graph of a Dataset on its own, but practices
    (graph:compendium) and their participants (graph:curation) must be seen together.
    With `inplace`, a plain Graph is that graph itself.
    """
    has_ontology = False
    if isinstance(data_graph, (Dataset, ConjunctiveGraph)):
        merged = Graph()
        for s, p, o, _ in data_graph.quads((None, None, None, None)):
            merged.add((s, p, o))
        graphs = data_graph.graphs() if isinstance(data_graph, Dataset) else data_graph.contexts()
        names = {g.identifier for g in graphs if len(g)}
        has_ontology = ONTOLOGY_GRAPH in names and VOCABULARIES_GRAPH in names
    elif inplace:
        merged = data_graph
    else:
        merged = Graph()
        for triple in data_graph:
            merged.add(triple)
    if ontology is not None:
        merged += ontology
    elif not has_ontology:
        merged += load_ontology(settings)
    for prefix, iri in PREFIXES.items():
        merged.bind(prefix, iri, override=True)
    return merged


# --------------------------------------------------------------------------- validation


def validate(
    data_graph: Graph,
    settings: Settings | None = None,
    *,
    ontology: Graph | None = None,
    processes: int = 1,
    inplace: bool = False,
) -> ValidationResult:
    """Validate `data_graph` (a Graph, or a Dataset whose named graphs are merged) against shapes/.

    The ontology and vocabularies come from the Dataset's `graph:ontology` and
    `graph:vocabularies` when present, else from `ontology` if given, else from
    settings.ontology_dir. The input graph is not modified, unless `inplace` is true and it
    is a plain Graph: then the ontology is added to it and it is validated as it is, without
    a copy (for a caller that has no further use for it). `processes` > 1 validates in that
    many forked processes where the platform can fork (`shape_tasks`); keep the default in
    a process that runs threads, such as the server.
    """
    with validating(data_graph, settings, ontology=ontology, processes=processes, inplace=inplace) as result:
        return result()


@contextmanager
def validating(
    data_graph: Graph,
    settings: Settings | None = None,
    *,
    ontology: Graph | None = None,
    processes: int = 1,
    inplace: bool = False,
    background: bool = False,
) -> Iterator[Callable[[], ValidationResult]]:
    """`validate`, started on entry: yields a function that waits for the `ValidationResult`.

    With worker processes the caller's own work in the `with` block overlaps the validation;
    in one process the validation runs when the result is asked for, unless `background` is
    true: then one forked worker runs it while the caller works (a build on a machine of two
    cores, whose other core the caller keeps busy). Leaving the block stops any worker still running.
    """
    settings = settings or Settings()
    started = time.perf_counter()
    graph = _merged(data_graph, settings, ontology, inplace=inplace)
    shapes = load_shapes(settings)
    runs: list[list[str] | None] | None = None
    if _can_fork() and processes > 1:
        tasks = shape_tasks(shapes)
        runs = None if tasks is None else grouped_tasks(tasks, processes)
    elif _can_fork() and background:
        runs = [None]  # one run of every shape, as in this process
    if runs is None:

        def here() -> ValidationResult:
            cpu = time.thread_time()
            report, issues = run_shapes(graph, shapes)
            return _result(graph, report, issues, started, time.thread_time() - cpu)

        yield functools.cache(here)
        return
    # Forked workers inherit the graphs, so nothing is copied up front; each returns its
    # report's triples and the issues it read from them.
    with multiprocessing.get_context("fork").Pool(len(runs), initializer=_install, initargs=(graph, shapes)) as pool:
        reports = pool.imap_unordered(_run_installed, runs)

        def result() -> ValidationResult:
            triples, issues, cpu = zip(*reports)
            return _result(graph, _joined_report(triples, shapes), [i for found in issues for i in found], started, sum(cpu))

        yield functools.cache(result)


def grouped_tasks(tasks: list[list[str]], groups: int) -> list[list[str]]:
    """The runs of `shape_tasks` joined into at most ``groups`` runs, one per worker process.

    A pySHACL run has a cost of its own (it reads the shapes graph anew), and one run of several
    targeted shapes reports what their runs report apart, so a worker does one run. Every task
    names the same referred-to shapes after its targeted one; the targeted shapes are dealt out in
    turn, their order kept.
    """
    helpers = tasks[0][1:] if tasks else []
    dealt = [[task[0] for task in tasks[start::groups]] for start in range(min(groups, len(tasks)))]
    return [[*targeted, *helpers] for targeted in dealt]


def _result(graph: Graph, report_graph: Graph, issues: list[ValidationIssue], started: float,
            cpu_seconds: float = 0.0) -> ValidationResult:
    return sorted_result(report_graph, issues, time.perf_counter() - started, len(graph), cpu_seconds)


def sorted_result(report_graph: Graph, issues: list[ValidationIssue], seconds: float, triples: int,
                  cpu_seconds: float = 0.0) -> ValidationResult:
    """A `ValidationResult` of these issues, in report order (also joined from several runs, `icgraph.contributions.gate`)."""
    for prefix, iri in PREFIXES.items():
        report_graph.bind(prefix, iri, override=True)
    report_graph.bind("icgsh", "https://w3id.org/icgraph/shapes#")
    issues = sorted(
        issues,
        key=lambda i: (
            SEVERITIES.index(i.severity),
            i.shape_label,
            i.source_line if i.source_line is not None else 1 << 30,
            i.focus_node,
            i.path or "",
            i.value or "",
        ),
    )
    counts = Counter(i.severity for i in issues)
    return ValidationResult(
        conforms=counts["Violation"] == 0,
        counts={s: counts.get(s, 0) for s in SEVERITIES},
        report_graph=report_graph,
        issues=issues,
        seconds=seconds,
        triples=triples,
        cpu_seconds=cpu_seconds,
    )


def shape_tasks(shapes: Graph) -> list[list[str]] | None:
    """The shapes graph as independent pySHACL runs (their `use_shapes`), or None if it cannot be split.

    One run per shape with targets, each also naming every shape that another shape refers to
    (`sh:node`, `sh:property`, `sh:qualifiedValueShape`, `sh:not`, `sh:and`/`sh:or`/`sh:xone`),
    so that nested checks see all the shapes, as in one run; a referred-to shape has no targets
    of its own, so it adds no results. Together the runs report exactly what one run reports.
    None when that would not hold: a targeted shape that is a blank node (use_shapes names IRIs),
    a class (implicitly targeted), or itself referred to; or a reference to no shape at all.
    """
    targeted = {shape for predicate in _TARGETS for shape in shapes.subjects(predicate, None)}
    referenced = {shape for predicate in _SHAPE_VALUES for shape in shapes.objects(None, predicate)}
    for predicate in _SHAPE_LISTS:
        for members in shapes.objects(None, predicate):
            referenced.update(Collection(shapes, members))
    classes = {RDFS.Class, OWL.Class, *shapes.transitive_subjects(RDFS.subClassOf, RDFS.Class)}
    if (
        any(isinstance(shape, BNode) for shape in targeted)
        or targeted & referenced
        or any(kind in classes for shape in targeted for kind in shapes.objects(shape, RDF.type))
        or any(isinstance(shape, URIRef) and (shape, None, None) not in shapes for shape in referenced)
    ):
        return None
    helpers = sorted(str(shape) for shape in referenced if isinstance(shape, URIRef))
    return [[str(shape), *helpers] for shape in sorted(targeted)]


def run_shapes(graph: Graph, shapes: Graph, use_shapes: list[str] | None = None,
               focus_nodes: list[str] | None = None) -> tuple[Graph, list[ValidationIssue]]:
    """One pySHACL run (of all the shapes, or of `use_shapes`): its report and the issues in it.

    With `focus_nodes` (IRIs; never an empty list, which pySHACL reads as none given) pySHACL
    checks those nodes against each of `use_shapes` without asking the shapes' targets: the
    caller has chosen them among the targets (`icgraph.contributions.gate`).
    """
    from pyshacl import validate as shacl_validate  # here: the server imports this module, and starts faster without it

    with _qualified_values_checked_once():
        _, report_graph, text = shacl_validate(
            _QueryPreparingGraph.over(graph),
            shacl_graph=_RepeatedReads.over(shapes),
            inference="none",
            advanced=True,  # SHACL-SPARQL constraints and SPARQL targets
            inplace=True,  # `graph` is ours: a copy, or the caller gave it up (`inplace`)
            allow_warnings=True,
            allow_infos=True,
            use_shapes=use_shapes,
            focus_nodes=focus_nodes,
        )
    if not isinstance(report_graph, Graph):
        # pySHACL returns a ValidationFailure, not a report, for a shape it cannot run (only once the
        # shape has focus nodes: a broken shape whose target is empty goes unnoticed).
        raise ValueError(f"shapes/ hold a shape pySHACL cannot run; fix it: {text}")
    return report_graph, [_issue(report_graph, r, graph, shapes) for r in report_graph.objects(None, SH.result)]


@contextmanager
def _qualified_values_checked_once() -> Iterator[None]:
    """During one pySHACL run: each value node checked once against a ``sh:qualifiedValueShape``, not once per focus node.

    pySHACL counts the value nodes of each focus node that conform to the qualified shape by
    validating each of them against it; icgsh:ActorKind's value nodes are the actors' classes, a
    few dozen, each checked again for every actor that has it (a third of the gate's time). Whether
    a node conforms to a shape depends only on the node, the shape and the graphs, which nothing
    changes during a run (no inference, no SHACL rules); the reports of those checks are dropped by
    pySHACL (only the counts make results), so the first answer for a node stands for the next ones.
    A shape that may be recursive (pySHACL's own check on the evaluation path) is validated as before.
    """
    from pyshacl.constraints.core.shape_based_constraints import QualifiedValueShapeConstraintComponent as Qualified
    from pyshacl.shape import Shape

    original = Qualified._evaluate_value_shape
    answers: dict[tuple, tuple] = {}

    def evaluate(self, executor, v_shape, target_graph, focus_value_nodes, potentially_recursive, evaluation_path):
        shape = self.shape
        if potentially_recursive:
            return original(self, executor, v_shape, target_graph, focus_value_nodes, potentially_recursive, evaluation_path)
        lookup = Shape.get_other_shape  # as it is now (an enclosing call may have replaced it too)
        path = _path_key(evaluation_path)

        def other_shape(asking, node):
            found = lookup(asking, node)
            # Only this constraint's own lookup of its qualified shape; every other lookup (siblings, nested shapes) as it was.
            return _ValidatedOnce(found, answers, path) if asking is shape and node == v_shape and found is not None else found

        Shape.get_other_shape = other_shape  # for this call only (pySHACL's shapes have slots: no attribute of their own)
        try:
            return original(self, executor, v_shape, target_graph, focus_value_nodes, potentially_recursive, evaluation_path)
        finally:
            Shape.get_other_shape = lookup

    Qualified._evaluate_value_shape = evaluate
    try:
        yield
    finally:
        Qualified._evaluate_value_shape = original


def _path_key(evaluation_path: list) -> tuple:
    """What pySHACL's recursion checks read of a path of shapes and constraints: each shape (they live as long as
    the run), and each constraint's kind and shape (a constraint object is made anew for every check, and the
    identity of one that is gone may be given to another)."""
    from pyshacl.shape import Shape

    return tuple(id(step) if isinstance(step, Shape) else (type(step), id(step.shape)) for step in evaluation_path)


class _ValidatedOnce:
    """A pySHACL shape whose ``validate(focus=node)`` answers are kept (`_qualified_values_checked_once`)."""

    def __init__(self, shape, answers: dict, path: tuple):
        self._shape, self._answers, self._path = shape, answers, path

    def validate(self, executor, target_graph, focus=None, _evaluation_path=None):
        key = (id(self._shape), id(target_graph), focus, self._path)
        found = self._answers.get(key)
        if found is None:
            found = self._answers[key] = self._shape.validate(executor, target_graph, focus=focus, _evaluation_path=_evaluation_path)
        return found

    def __getattr__(self, name):
        return getattr(self._shape, name)


class _RepeatedReads(Graph):
    """A graph (the same triples, not a copy) that keeps the answer of each triple pattern it is asked.

    pySHACL asks the same patterns over and over: each value node of a property path reads the
    path's structure anew from the shapes graph (icgsh:ActorKind, a path of four steps with a
    zero-or-more step, does so for every type of every actor), and the data graph's class
    hierarchy likewise. `triples` is what `objects`, `subjects`, `value`, `__contains__`, property
    paths and SPARQL's basic graph patterns all read; nothing changes either graph during a run (no
    inference, no SHACL rules), and should anything add or remove a triple the kept answers are
    dropped, so each answer is the one the graph gives.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._answers: dict[tuple, tuple] = {}

    def triples(self, triple):
        if isinstance(triple[1], PropertyPath):  # evaluated from the plain patterns it asks
            yield from super().triples(triple)
            return
        found = self._answers.get(triple)
        if found is None:
            found = self._answers[triple] = tuple(super().triples(triple))
        yield from found

    def add(self, triple):
        self._answers.clear()
        return super().add(triple)

    def addN(self, quads):
        self._answers.clear()
        return super().addN(quads)

    def remove(self, triple):
        self._answers.clear()
        return super().remove(triple)

    @classmethod
    def over(cls, graph: Graph) -> "_RepeatedReads":
        return cls(store=graph.store, identifier=graph.identifier, namespace_manager=graph.namespace_manager)


class _QueryPreparingGraph(_RepeatedReads):
    """The data graph as pySHACL reads it (the same triples, not a copy): each SPARQL text is parsed once.

    pySHACL hands a SHACL-SPARQL constraint's text to `Graph.query` once per focus node, and rdflib
    parses it anew each time: that parse was most of the gate's time (icgsh:StatedRelationCited, with
    a focus node per practice, spent 1.5 s of 1.8 s in it). The text is prepared once per process here
    and each focus node's bindings applied to it, as rdflib's prepared queries are meant to be used;
    the query, its bindings and so its answers are unchanged.
    """

    def query(self, query_object, processor="sparql", result="sparql", initNs=None, initBindings=None,
              use_store_provided=True, **kwargs):
        if isinstance(query_object, str) and processor == "sparql" and not kwargs:
            # As `Graph.query` parses a text: with the given prefixes, else with the graph's own.
            namespaces = initNs or dict(self.namespaces())
            query_object = _prepared_query(query_object, tuple(sorted(namespaces.items())))
        return super().query(query_object, processor, result, initNs, initBindings, use_store_provided, **kwargs)


@functools.lru_cache(maxsize=512)
def _prepared_query(text: str, namespaces: tuple[tuple[str, str], ...]):
    from rdflib.plugins.sparql import prepareQuery

    return prepareQuery(text, initNs=dict(namespaces))


def _can_fork() -> bool:
    # macOS system libraries may run threads that a forked child cannot continue (see the
    # multiprocessing documentation), so there the shapes run in one process.
    return sys.platform != "darwin" and "fork" in multiprocessing.get_all_start_methods()


_installed: tuple[Graph, Graph] | None = None


def _install(graph: Graph, shapes: Graph) -> None:
    """Pool initializer: the data and shapes graphs a worker validates (inherited through fork)."""
    global _installed
    _installed = (graph, shapes)


def _run_installed(use_shapes: list[str] | None) -> tuple[list, list[ValidationIssue], float]:
    cpu = time.thread_time()
    report_graph, issues = run_shapes(*_installed, use_shapes)
    return list(report_graph), issues, time.thread_time() - cpu  # its triples pickle more cheaply than the Graph


def _joined_report(reports: Iterable[list], shapes: Graph) -> Graph:
    """One sh:ValidationReport holding the results of several, as pySHACL writes one."""
    joined = Graph(bind_namespaces="core")
    for prefix, iri in shapes.namespaces():
        joined.bind(prefix, iri)
    report = BNode()
    conforms = True
    joined.add((report, RDF.type, SH.ValidationReport))
    for triples in reports:
        own = {s for s, p, o in triples if p == RDF.type and o == SH.ValidationReport}
        for s, p, o in triples:
            if s not in own:
                joined.add((s, p, o))
            elif p == SH.result:
                joined.add((report, p, o))
            elif p == SH.conforms:
                conforms = conforms and bool(o.toPython())
    joined.add((report, SH.conforms, Literal(conforms)))
    return joined


def _issue(report: Graph, result: Node, data: Graph, shapes: Graph) -> ValidationIssue:
    focus = report.value(result, SH.focusNode)
    shape = report.value(result, SH.sourceShape)
    path = report.value(result, SH.resultPath)
    value = report.value(result, SH.value)
    severity = _SEVERITY_BY_IRI.get(report.value(result, SH.resultSeverity), "Violation")
    messages = list(report.objects(result, SH.resultMessage))
    message = _english(messages) or _english(list(shapes.objects(shape, SH.message))) or "(no message)"
    constraint = report.value(result, SH.sourceConstraintComponent)
    return ValidationIssue(
        severity=severity,
        shape=compact(shape),
        shape_label=_english(list(shapes.objects(shape, RDFS.label))) or compact(shape),
        focus_node=compact(focus),
        focus_label=label_of(data, focus),
        path=_path_text(report, path),
        value=_value_text(value),
        message=message,
        source_line=source_line(data, focus),
        constraint=compact(constraint).removeprefix("sh:") if constraint is not None else None,
    )


def _english(literals: list[Node]) -> str | None:
    """The English (or untagged) text among `literals`, else any."""
    texts = [l for l in literals if isinstance(l, Literal)]
    for lit in texts:
        if lit.language in ("en", None):
            return str(lit)
    return str(texts[0]) if texts else None


def compact(node: Node | None) -> str:
    """A CURIE for `node` with the project's prefixes, else its N-Triples form."""
    if node is None:
        return ""
    if isinstance(node, URIRef):
        text = str(node)
        best = max((iri for iri in PREFIXES.values() if text.startswith(iri)), key=len, default=None)
        if best is not None and len(text) > len(best):
            prefix = next(p for p, iri in PREFIXES.items() if iri == best)
            return f"{prefix}:{text[len(best):]}"
        if text.startswith("https://w3id.org/icgraph/shapes#"):
            return "icgsh:" + text.split("#", 1)[1]
        return f"<{text}>"
    if isinstance(node, BNode):
        return f"_:{node}"
    return node.n3()


def _path_text(report: Graph, path: Node | None) -> str | None:
    if path is None:
        return None
    if isinstance(path, BNode):
        inverse = report.value(path, SH.inversePath)
        if inverse is not None:
            return "^" + compact(inverse)
        return "(complex path)"
    return compact(path)


def _value_text(value: Node | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, Literal):
        return str(value)
    return compact(value)


def _owner(node: Node) -> URIRef | None:
    """The entity a hash IRI hangs off (practice:SLUG#ref-1 -> practice:SLUG)."""
    if isinstance(node, URIRef) and "#" in node and not str(node).startswith(str(ICG)):
        return URIRef(str(node).split("#", 1)[0])
    return None


def label_of(graph: Graph, node: Node | None) -> str | None:
    """skos:prefLabel, dct:title, rdfs:label or foaf:name of `node` (English first)."""
    if node is None or isinstance(node, Literal):
        return None
    for prop in _LABEL_PROPERTIES:
        text = _english(list(graph.objects(node, prop)))
        if text:
            return text
    owner = _owner(node)
    if owner is not None:
        owner_label = label_of(graph, owner)
        if owner_label:
            return f"{owner_label} #{str(node).split('#', 1)[1]}"
    return None


def source_line(graph: Graph, node: Node | None) -> int | None:
    """The first source line of `node`: icg:sourceLine, its derivation's icg:startLine, or its owner's."""
    if node is None or isinstance(node, Literal):
        return None
    lines = [l.value for l in graph.objects(node, ICG.sourceLine) if isinstance(l, Literal)]
    lines += [l.value for l in graph.objects(node, ICG.startLine) if isinstance(l, Literal)]
    for derivation in graph.objects(node, PROV.qualifiedDerivation):
        lines += [l.value for l in graph.objects(derivation, ICG.startLine) if isinstance(l, Literal)]
    lines = [l for l in lines if isinstance(l, int)]
    if lines:
        return min(lines)
    owner = _owner(node)
    return source_line(graph, owner) if owner is not None else None


# --------------------------------------------------------------------------- reporting


def load_report(path: Path) -> ValidationResult:
    """A report as a release keeps it (``report/shacl.json``, `icgraph.publish.report_json`); no report graph."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    issues = [ValidationIssue(**issue) for issue in data["issues"]]
    return ValidationResult(
        conforms=data["conforms"], counts=data["counts"], report_graph=Graph(), issues=issues,
        seconds=data.get("seconds", 0.0), triples=data.get("triples", 0),
    )


def format_report(result: ValidationResult, fmt: str = "text") -> str:
    """Render `result` as "text" (linter style), "json" (a list of objects) or "ttl" (sh:ValidationReport)."""
    if fmt == "ttl":
        return result.report_graph.serialize(format="turtle")
    if fmt == "json":
        return json.dumps([i.as_dict() for i in result.issues], indent=2, ensure_ascii=False)
    if fmt == "text":
        return _format_text(result)
    raise ValueError(f"unknown report format {fmt!r}; use text, ttl or json")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _format_text(result: ValidationResult) -> str:
    c = result.counts
    verdict = "conforms" if result.conforms else "does NOT conform: violations block the build"
    lines = [
        f"icgraph validate: {_plural(c['Violation'], 'violation')}, {_plural(c['Warning'], 'warning')}, "
        f"{_plural(c['Info'], 'info')} ({verdict}; {result.triples} triples in {result.seconds:.2f} s)"
    ]
    for severity, by_shape in result.grouped().items():
        total = sum(len(v) for v in by_shape.values())
        lines += ["", f"{severity.upper()}S ({total})" if severity != "Info" else f"INFOS ({total})"]
        for shape_label, issues in by_shape.items():
            messages = Counter(i.message for i in issues)
            common = messages.most_common(1)[0][0]
            lines.append(f"  {shape_label} [{issues[0].shape}] ({len(issues)})")
            lines.append(f"    fix: {common}")
            for i in issues:
                where = f"line {i.source_line}" if i.source_line is not None else "line ?"
                focus = i.focus_node + (f' "{i.focus_label}"' if i.focus_label else "")
                detail = ""
                if i.path:
                    detail += f"  {i.path}"
                if i.value is not None:
                    detail += f" = {i.value}"
                lines.append(f"    {where:>10}  {focus}{detail}")
                if i.message != common:
                    lines.append(f"                {i.message}")
    return "\n".join(lines) + "\n"
