"""Orchestrate a build: sources + curation -> RDF -> inference -> SHACL gate -> dumps -> store.

Each stage is one function of its own module; this module only runs them in order,
times them, and refuses to publish anything that does not pass the SHACL gate.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pyoxigraph as ox
from rdflib import Graph, URIRef
from rdflib.namespace import ORG, RDF

from icgraph import __version__
from icgraph.config import Settings
from icgraph.infer import infer
from icgraph.ingest.compendium import parse_compendium
from icgraph.ingest.meeting_report import parse_meeting_report
from icgraph.mapping.curation import map_curation
from icgraph.mapping.sources import map_compendium, map_meeting_report
from icgraph.namespaces import (
    ICG,
    COMPENDIUM_GRAPH,
    CURATION_GRAPH,
    ID,
    INFERRED_GRAPH,
    MEETING_REPORT_GRAPH,
    ONTOLOGY_GRAPH,
    PREFIXES,
    PROVENANCE_GRAPH,
    VOCABULARIES_GRAPH,
)
from icgraph.search import build_search_index
from icgraph.backends import open_store, publish
from icgraph.validate import ValidationResult, validate

COMPENDIUM_FILE = "cdadi-2024-39-compendium.txt"
MEETING_REPORT_FILE = "gt-adi-int-2020-4-meeting-report.txt"


class BuildError(RuntimeError):
    """The build stopped; nothing was published. The message says why and what to fix."""

    def __init__(self, message: str, validation: ValidationResult | None = None):
        super().__init__(message)
        self.validation = validation


@dataclass
class Build:
    """The named graphs of one build, with what the stages reported."""

    graphs: dict[URIRef, Graph]
    validation: ValidationResult
    problems: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    def union(self) -> Graph:
        union = Graph()
        for graph in self.graphs.values():
            union += graph
        return union

    def quads(self) -> Iterator[ox.Quad]:
        """The build as Oxigraph quads, one named graph each."""
        for name, graph in self.graphs.items():
            graph_name = ox.NamedNode(str(name))
            data = graph.serialize(format="nt", encoding="utf-8")
            for triple in ox.parse(data, format=ox.RdfFormat.N_TRIPLES):
                yield ox.Quad(triple.subject, triple.predicate, triple.object, graph_name)


@contextmanager
def _timed(timings: dict[str, float], stage: str) -> Iterator[None]:
    start = time.perf_counter()
    yield
    timings[stage] = time.perf_counter() - start


def build_dataset(settings: Settings, strict: bool = False) -> Build:
    """Run every stage up to and including the SHACL gate; publish nothing."""
    timings: dict[str, float] = {}
    with _timed(timings, "parse"):
        compendium = parse_compendium(settings.sources_dir / COMPENDIUM_FILE, strict=strict)
        meeting = parse_meeting_report(settings.sources_dir / MEETING_REPORT_FILE)
    problems = [str(p) for p in compendium.problems]

    with _timed(timings, "map sources"):
        compendium_graph = map_compendium(compendium.records)
        meeting_graph = map_meeting_report(meeting)

    with _timed(timings, "map curation"):
        practices = {f"practice:{record.slug}" for record in compendium.records}
        # The meeting report's parser defines the working group and its participants; curation may name them.
        from_report = {_curie(subject) for subject in meeting_graph.subjects(RDF.type, None)}
        curation_graph = map_curation(
            settings.curation_dir, known_practices=practices, extra_known=from_report, cache_dir=settings.build_dir / "cache"
        )

    with _timed(timings, "ontology"):
        ontology_graph = Graph().parse(settings.ontology_dir / "icgraph.ttl")
        vocabularies_graph = Graph()
        for path in sorted((settings.ontology_dir / "vocabularies").glob("*.ttl")):
            vocabularies_graph.parse(path)
        provenance_graph = _provenance(settings)

    graphs = {
        ONTOLOGY_GRAPH: ontology_graph,
        VOCABULARIES_GRAPH: vocabularies_graph,
        COMPENDIUM_GRAPH: compendium_graph,
        MEETING_REPORT_GRAPH: meeting_graph,
        CURATION_GRAPH: curation_graph,
        PROVENANCE_GRAPH: provenance_graph,
    }
    asserted = Graph()
    for graph in graphs.values():
        asserted += graph

    with _timed(timings, "infer"):
        graphs[INFERRED_GRAPH] = infer(asserted)

    with _timed(timings, "validate"):
        validation = validate(asserted + _shape_relevant(graphs[INFERRED_GRAPH]), settings)

    return Build(graphs=graphs, validation=validation, problems=problems, timings=timings)


def write_dumps(build: Build, build_dir: Path) -> dict[str, Path]:
    """Write the whole dataset as N-Quads and TriG into ``build_dir`` (replacing earlier dumps atomically)."""
    build_dir.mkdir(parents=True, exist_ok=True)
    quads = list(build.quads())
    written = {}
    for name, fmt in (("icgraph.nq", ox.RdfFormat.N_QUADS), ("icgraph.trig", ox.RdfFormat.TRIG)):
        target = build_dir / name
        partial = build_dir / (name + ".partial")
        ox.serialize(quads, str(partial), fmt, prefixes=PREFIXES if fmt is ox.RdfFormat.TRIG else None)
        partial.replace(target)
        written[name] = target
    return written


def build(settings: Settings, strict: bool = False, progress=None) -> Build:
    """Build, gate, dump and publish into the store. Raises BuildError (publishing nothing) on a violation.

    The store is the embedded Oxigraph store or a remote SPARQL store (``settings.store``); either
    way readers switch from the previous data to the new at once (`icgraph.backends.publish`).
    """
    result = build_dataset(settings, strict=strict)
    if not result.validation.conforms:
        raise BuildError(
            f"SHACL found {len(result.validation.violations)} violation(s); nothing was published and the store "
            "was left as it was. Fix the data as each message says, then build again.",
            result.validation,
        )
    with _timed(result.timings, "dumps"):
        dumps = write_dumps(result, settings.build_dir)
    with _timed(result.timings, "store load"):
        publish(dumps["icgraph.nq"], settings.store, progress=progress)
    with _timed(result.timings, "search index"):
        build_search_index(open_store(settings.store), settings.build_dir / "search.sqlite")
    return result


def _provenance(settings: Settings) -> Graph:
    """The source documents and the build activity that used them."""
    graph = Graph().parse(settings.sources_dir / "sources.ttl")
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()
    activity = {
        "@context": {"prov": PREFIXES["prov"], "rdfs": PREFIXES["rdfs"], "xsd": PREFIXES["xsd"], "source": PREFIXES["source"]},
        "@id": str(ID.build),
        "@type": "prov:Activity",
        "rdfs:label": f"icgraph {__version__} build",
        "prov:endedAtTime": {"@value": now, "@type": "xsd:dateTime"},
        "prov:used": [{"@id": "source:cdadi-2024-39"}, {"@id": "source:gt-adi-int-2020-4"}],
        "@reverse": {
            "prov:wasGeneratedBy": [
                {"@id": str(g)}
                for g in (COMPENDIUM_GRAPH, MEETING_REPORT_GRAPH, CURATION_GRAPH, INFERRED_GRAPH)
            ]
        },
    }
    graph.parse(data=json.dumps(activity), format="json-ld")
    return graph


def _shape_relevant(inferred: Graph) -> Graph:
    """The inferred triples the shapes read: everything but the cooperation edges.

    The edges are most of graph:inferred (an n-ary node per pair of co-participants) and no shape
    constrains them: they are derived by ontology/rules from participations the shapes do check.
    Leaving them out of the SHACL run halves its time.
    """
    edges = set(inferred.subjects(RDF.type, ICG.CooperationEdge))
    view = Graph()
    for triple in inferred:
        if triple[0] not in edges and triple[1] not in (ICG.cooperatesWith, ORG.linkedTo):
            view.add(triple)
    return view


def _curie(iri) -> str:
    for prefix, namespace in PREFIXES.items():
        if prefix in ("actor", "place", "practice", "partnership") and str(iri).startswith(namespace):
            return f"{prefix}:{str(iri)[len(namespace):]}"
    return str(iri)
