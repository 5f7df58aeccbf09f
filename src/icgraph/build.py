"""Orchestrate a build: sources + curation -> RDF -> inference -> SHACL gate -> dumps -> store.

Each stage is one function of its own module; this module only runs them in order,
times them, and refuses to publish anything that does not pass the SHACL gate. The gate
runs in worker processes while this process writes the dumps, loads the new store and
indexes it beside what is served; all of it is published only once the gate has passed,
and removed if it has not.
"""

from __future__ import annotations

import datetime as dt
import gc
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pyoxigraph as ox
from rdflib import Graph, URIRef
from rdflib.namespace import ORG, RDF

from icgraph import __version__
from icgraph.config import Settings
from icgraph.infer import infer_triples
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
from icgraph.backends import is_remote
from icgraph.publish import ReleaseWriter
from icgraph.release import Release, digest_files
from icgraph.store import read_base, writable_copy
from icgraph.terms import from_ox, to_ox
from icgraph.validate import ValidationResult, validate, validating

COMPENDIUM_FILE = "cdadi-2024-39-compendium.txt"
MEETING_REPORT_FILE = "gt-adi-int-2020-4-meeting-report.txt"
#: Worker processes for the SHACL gate: one per CPU, but a few suffice, as the slowest shape
#: alone (icgsh:ActorKind) takes about a third of the validation.
_PROCESSES = min(os.cpu_count() or 1, 4)
#: Worker processes for the gate of `build`, whose own process writes the release meanwhile (and forks
#: the JSON-LD dump beside it): the other cores, at least one. On two cores the gate is one run of every
#: shape in one worker, which costs a third less CPU than the shapes shared out among two.
_GATE_PROCESSES = max(1, min((os.cpu_count() or 1) - 1, 4))


class BuildError(RuntimeError):
    """The build stopped; nothing was published. The message says why and what to fix."""

    def __init__(self, message: str, validation: ValidationResult | None = None):
        super().__init__(message)
        self.validation = validation


@dataclass
class Build:
    """The named graphs of one build, with what the stages reported.

    `timings` holds each stage's wall-clock seconds. In `build`, the dumps, the store load
    and the search index are made while the gate runs, so their times are part of
    "validate" too (the time from starting the gate to its result). `cpu` holds each stage's
    CPU seconds, in the thread or process that ran it ("gate": its workers'), for
    `bench.stages`; the manifest keeps the wall-clock seconds only.
    """

    graphs: dict[URIRef, Graph]
    validation: ValidationResult | None
    #: graph:inferred, as Oxigraph triples: the store takes them as they are (in rdflib they would be copied
    #: twice, there and back); the shapes read the part they check (`_shape_relevant`).
    inferred: list[ox.Triple] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)
    #: The release the build published (None for `build_dataset`, which publishes nothing).
    release: Release | None = None

    @property
    def triples(self) -> int:
        """How many triples the named graphs hold together (graph:inferred included)."""
        return sum(len(graph) for graph in self.graphs.values()) + len(self.inferred)

    @property
    def graph_count(self) -> int:
        return len(self.graphs) + 1

    def quads(self) -> Iterator[ox.Quad]:
        """The build as Oxigraph quads, one named graph each."""
        for name, graph in self.graphs.items():
            graph_name = ox.NamedNode(str(name))
            for s, p, o in graph:
                yield ox.Quad(to_ox(s), to_ox(p), to_ox(o), graph_name)
        inferred = ox.NamedNode(str(INFERRED_GRAPH))
        for triple in self.inferred:
            yield ox.Quad(triple.subject, triple.predicate, triple.object, inferred)


@contextmanager
def _timed(timings: dict[str, float], stage: str, cpu: dict[str, float] | None = None) -> Iterator[None]:
    start, thread_start = time.perf_counter(), time.thread_time()
    yield
    timings[stage] = time.perf_counter() - start
    if cpu is not None:
        cpu[stage] = time.thread_time() - thread_start


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a build runs.

    A build piles up hundreds of thousands of long-lived containers (the graphs' indexes), and
    each collection of the oldest generation walks all of them to find next to nothing
    (reference counting frees the rest): about a seventh of the build's CPU time. Paused, it
    also leaves alone the pages that the gate's forked workers share with this process, as
    the `gc` documentation advises before a fork.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def build_dataset(settings: Settings, strict: bool = False) -> Build:
    """Run every stage up to and including the SHACL gate; publish nothing."""
    with _collector_paused():
        result, shape_data = _assemble(settings, strict)
        with _timed(result.timings, "validate"):
            result.validation = validate(shape_data, settings, processes=_PROCESSES, inplace=True)
    return result


def _assemble(settings: Settings, strict: bool) -> tuple[Build, Graph]:
    """Every stage before the gate: the named graphs, and the graph the shapes validate."""
    timings: dict[str, float] = {}
    cpu: dict[str, float] = {}
    with _timed(timings, "parse", cpu):
        compendium = parse_compendium(settings.sources_dir / COMPENDIUM_FILE, strict=strict)
        meeting = parse_meeting_report(settings.sources_dir / MEETING_REPORT_FILE)
    problems = [str(p) for p in compendium.problems]

    with _timed(timings, "map sources", cpu):
        compendium_graph = map_compendium(compendium.records)
        meeting_graph = map_meeting_report(meeting)

    with _timed(timings, "map curation", cpu):
        practices = {f"practice:{record.slug}" for record in compendium.records}
        # The meeting report's parser defines the working group and its participants; curation may name them.
        from_report = {_curie(subject) for subject in meeting_graph.subjects(RDF.type, None)}
        curation_graph = map_curation(
            settings.curation_dir, known_practices=practices, extra_known=from_report, cache_dir=settings.build_dir / "cache"
        )

    with _timed(timings, "ontology", cpu):
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

    with _timed(timings, "infer", cpu):
        inferred = infer_triples(asserted, ontology_dir=settings.ontology_dir, cache_dir=settings.build_dir / "cache")

    # `asserted` has served the inference; with the inferred triples the shapes read, it is
    # what they validate (in place: nothing else uses it).
    asserted.addN((from_ox(t.subject), from_ox(t.predicate), from_ox(t.object), asserted) for t in _shape_relevant(inferred))
    return Build(graphs=graphs, validation=None, inferred=inferred, problems=problems, timings=timings, cpu=cpu), asserted


def build(settings: Settings, strict: bool = False, progress=None) -> Build:
    """Build, gate and publish a release (`icgraph.publish`). Raises BuildError (publishing nothing) on a violation.

    While the gate runs, the release is written beside what is served: dumps, store, per-graph
    files, search index, VoID. Only once the gate has passed does it get its manifest and
    become current (for a remote store, once the store is loaded too); otherwise it is removed.
    A build killed at any moment leaves the previous release served, and the next build
    removes what it left.
    """
    _refuse_if_written_by_a_server(settings)
    with _collector_paused():
        writer = ReleaseWriter(settings.store, settings.build_dir, _inputs(settings), settings)
        try:
            writer.prepare()  # its aggregates' process starts on the core the assembly leaves idle
            result, shape_data = _assemble(settings, strict)
            with _timed(result.timings, "validate"):
                with validating(shape_data, settings, processes=_GATE_PROCESSES, inplace=True, background=True) as validation:
                    writer.write_data(result.quads())
                    result.validation = validation()
            if not result.validation.conforms:
                raise BuildError(
                    f"SHACL found {len(result.validation.violations)} violation(s); nothing was published and the "
                    "previous release still serves. Fix the data as each message says, then build again.",
                    result.validation,
                )
            result.release = writer.finish(result.validation, result.timings, progress)
        except BaseException:
            writer.discard()
            raise
        result.timings.update(writer.timings)
        result.cpu.update(writer.cpu, gate=result.validation.cpu_seconds)
    return result


def _refuse_if_written_by_a_server(settings: Settings) -> None:
    """A build never shares files with a store that a server writes (`icgraph.server.workers`)."""
    if is_remote(settings.store):
        return
    writable = writable_copy(settings.store)
    if writable.exists():
        raise BuildError(
            f"{writable} holds updates made through /update on release {read_base(writable) or '?'}; a new "
            "release would hide them. Export them first (`icgraph export --store " + str(writable) + "`), then "
            f"remove {writable} and build again."
        )


def _inputs(settings: Settings) -> dict[str, str]:
    """Hashes of every file the build reads: sources, curation, ontology, shapes."""
    folders = (settings.sources_dir, settings.curation_dir, settings.ontology_dir, settings.shapes_dir)
    files = [p for folder in folders if folder.exists() for p in folder.rglob("*") if p.is_file()]
    return digest_files(files, settings.project_dir)


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


def _shape_relevant(inferred: list[ox.Triple]) -> Iterator[ox.Triple]:
    """The inferred triples the shapes read: everything but the cooperation edges.

    The edges are most of graph:inferred (an n-ary node per pair of co-participants) and no shape
    constrains them: they are derived by ontology/rules from participations the shapes do check.
    Leaving them out of the SHACL run halves its time.
    """
    rdf_type, edge = to_ox(RDF.type), to_ox(ICG.CooperationEdge)
    left_out = {to_ox(ICG.cooperatesWith), to_ox(ORG.linkedTo)}
    edges = {t.subject for t in inferred if t.predicate == rdf_type and t.object == edge}
    for triple in inferred:
        if triple.subject not in edges and triple.predicate not in left_out:
            yield triple


def _curie(iri) -> str:
    for prefix, namespace in PREFIXES.items():
        if prefix in ("actor", "place", "practice", "partnership") and str(iri).startswith(namespace):
            return f"{prefix}:{str(iri)[len(namespace):]}"
    return str(iri)
