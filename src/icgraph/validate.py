"""The SHACL gate: validate the data against shapes/ and report what to fix.

`validate` merges the data with the ontology and the SKOS vocabularies (so that
`sh:targetClass` and `sh:class` follow `rdfs:subClassOf`, and concepts can be checked
against their `skos:inScheme`), runs pySHACL once over the whole graph and returns a
`ValidationResult`. `format_report` renders it as text (grouped like a linter), JSON or
the `sh:ValidationReport` in Turtle. Only `sh:Violation` results block the build.

Why no inference: SHACL's own notion of "instance" already follows `rdfs:subClassOf`
in the data graph, and the ontology is merged in, so RDFS/OWL-RL pre-inference would
only add cost (seconds on the full graph) without changing a result.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable

from pyshacl import validate as shacl_validate
from rdflib import BNode, Dataset, Graph, Literal, URIRef
from rdflib.graph import ConjunctiveGraph
from rdflib.term import Node

from icgraph.config import Settings
from icgraph.namespaces import (
    DCTERMS,
    FOAF,
    ICG,
    ONTOLOGY_GRAPH,
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


def _merged(data_graph: Graph, settings: Settings, ontology: Graph | None) -> Graph:
    """One plain graph: the union of the data's named graphs, plus the ontology.

    pySHACL validates each named graph of a Dataset on its own, but practices
    (graph:compendium) and their participants (graph:curation) must be seen together.
    """
    merged = Graph()
    has_ontology = False
    if isinstance(data_graph, (Dataset, ConjunctiveGraph)):
        for s, p, o, _ in data_graph.quads((None, None, None, None)):
            merged.add((s, p, o))
        graphs = data_graph.graphs() if isinstance(data_graph, Dataset) else data_graph.contexts()
        names = {g.identifier for g in graphs if len(g)}
        has_ontology = ONTOLOGY_GRAPH in names and VOCABULARIES_GRAPH in names
    else:
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


def validate(data_graph: Graph, settings: Settings | None = None, *, ontology: Graph | None = None) -> ValidationResult:
    """Validate `data_graph` (a Graph, or a Dataset whose named graphs are merged) against shapes/.

    The ontology and vocabularies come from the Dataset's `graph:ontology` and
    `graph:vocabularies` when present, else from `ontology` if given, else from
    settings.ontology_dir. The input graph is never modified.
    """
    settings = settings or Settings()
    started = time.perf_counter()
    graph = _merged(data_graph, settings, ontology)
    _, report_graph, _ = shacl_validate(
        graph,
        shacl_graph=load_shapes(settings),
        inference="none",
        advanced=True,  # SHACL-SPARQL constraints and SPARQL targets
        inplace=True,  # `graph` is our own copy
        allow_warnings=True,
        allow_infos=True,
    )
    for prefix, iri in PREFIXES.items():
        report_graph.bind(prefix, iri, override=True)
    report_graph.bind("icgsh", "https://w3id.org/icgraph/shapes#")
    shapes = load_shapes(settings)
    issues = sorted(
        (_issue(report_graph, r, graph, shapes) for r in report_graph.objects(None, SH.result)),
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
        seconds=time.perf_counter() - started,
        triples=len(graph),
    )


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
