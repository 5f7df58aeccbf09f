"""The VoID + DCAT description of a release, with its counts: written once by the build.

The server reads ``void.ttl`` from the release it serves (`icgraph.release`); nothing is
counted at request time.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable

import pyoxigraph as ox
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, PROV, RDF, RDFS, VOID, XSD

from icgraph import sparql
from icgraph.namespaces import COMPENDIUM, GRAPH, ID, MEETING_REPORT, PREFIXES, ROOT
from icgraph.release import DUMPS
from icgraph.results import compact
from icgraph.store import default_dataset

LICENSE = "https://creativecommons.org/licenses/by/4.0/"
VOID_IRI = ROOT + ".well-known/void"
DATASET = URIRef(VOID_IRI + "#icgraph")
_VOCABULARY_NAMES = {v: k for k, v in PREFIXES.items()}


def vocabulary_prefix(namespace: str) -> str:
    return _VOCABULARY_NAMES.get(namespace, "")


def _vocabulary(iri: str) -> str | None:
    """The namespace of a term, if it is a vocabulary we know (namespaces.PREFIXES)."""
    for namespace in sorted(_VOCABULARY_NAMES, key=len, reverse=True):
        if iri.startswith(namespace):
            return namespace
    return None


def _rows(store: ox.Store, name: str, **dataset) -> list:
    return list(store.query(sparql.load(name), **dataset))


def build_void(store: ox.Store, dumps_dir: Path, version: str | None = None, issued: str | None = None, base: str = ROOT,
               dataset: dict | None = None, skipped: Iterable[str] = ()) -> Graph:
    """The VoID + DCAT description of the dataset in ``store``, with every count computed from it.

    ``dataset``: the store's `default_dataset` when the caller knows it (a release being written
    holds the merge: ``{}``), which spares the scan that proves it. ``skipped``: dumps the release
    does not hold (`icgraph.dump_writers.skipped_dumps`), not offered.
    """
    g = Graph()
    for prefix, iri in PREFIXES.items():
        g.bind(prefix, iri)
    g.bind("dcat", DCAT)
    d = DATASET
    g.add((d, RDF.type, VOID.Dataset))
    g.add((d, RDF.type, DCAT.Dataset))
    g.add((d, DCTERMS.title, Literal("icgraph: intercultural integration and multilevel governance practices", lang="en")))
    g.add((d, DCTERMS.description, Literal(
        "The good practices in intercultural integration and multilevel governance of the Council of Europe's "
        "Compendium CDADI(2024)39 and the meeting report GT-ADI-INT(2020)4, as linked data: practices, the "
        "organisations that take part in them with their roles and governance levels, places, partnerships, "
        "memberships, and the working group's meetings.", lang="en")))
    g.add((d, DCTERMS.license, URIRef(LICENSE)))
    if version:
        g.add((d, URIRef(str(DCAT) + "version"), Literal(version)))  # DCAT 3; rdflib 7 lacks the term
    if issued:
        g.add((d, DCTERMS.modified, Literal(issued, datatype=XSD.dateTime)))
    publisher = URIRef(VOID_IRI + "#publisher")
    g.add((d, DCTERMS.publisher, publisher))
    g.add((publisher, RDF.type, FOAF.Organization))
    g.add((publisher, FOAF.name, Literal("icgraph contributors")))
    for source in (COMPENDIUM, MEETING_REPORT):
        g.add((d, PROV.wasDerivedFrom, URIRef(str(source))))
        g.add((d, DCTERMS.source, URIRef(str(source))))
    g.add((d, VOID.sparqlEndpoint, URIRef(base + "sparql")))
    g.add((d, VOID.uriSpace, Literal(str(ID))))
    g.add((d, VOID.rootResource, URIRef(ROOT + "def")))
    g.add((d, DCAT.landingPage, URIRef(base)))

    for name, (fmt, media_type, description) in DUMPS.items():
        if name in skipped:
            continue
        url = URIRef(base + "downloads/" + name)
        dist = _distribution(name)
        g.add((d, VOID.dataDump, url))
        g.add((d, DCAT.distribution, dist))
        g.add((dist, RDF.type, DCAT.Distribution))
        g.add((dist, DCTERMS.title, Literal(description, lang="en")))
        g.add((dist, DCAT.downloadURL, url))
        g.add((dist, DCAT.accessURL, URIRef(base + "downloads")))
        g.add((dist, DCAT.mediaType, URIRef("https://www.iana.org/assignments/media-types/" + media_type)))
        if name.endswith(".gz"):
            g.add((dist, DCAT.compressFormat, URIRef("https://www.iana.org/assignments/media-types/application/gzip")))
        g.add((dist, DCTERMS.license, URIRef(LICENSE)))
    set_dump_sizes(g, dumps_dir)

    union = default_dataset(store) if dataset is None else dataset
    (total,) = _rows(store, "void-triples", **union)
    g.add((d, VOID.triples, Literal(int(total["n"].value))))
    (entities,) = _rows(store, "void-entities", **union)
    g.add((d, VOID.entities, Literal(int(entities["n"].value))))

    vocabularies = set()
    for row in _rows(store, "void-terms", **union):
        namespace = _vocabulary(row["t"].value)
        if namespace and not namespace.startswith(str(ID)) and namespace != str(GRAPH):
            vocabularies.add(namespace)
    for namespace in sorted(vocabularies):
        g.add((d, VOID.vocabulary, URIRef(namespace)))

    for graph in sorted(g_.value for g_ in store.named_graphs() if isinstance(g_, ox.NamedNode)):
        subset = URIRef(graph)
        in_graph = {"default_graph": [ox.NamedNode(graph)]}
        g.add((d, VOID.subset, subset))
        g.add((subset, RDF.type, VOID.Dataset))
        g.add((subset, RDFS.label, Literal(graph[len(str(GRAPH)):])))
        (row,) = _rows(store, "void-graph-size", **in_graph)
        g.add((subset, VOID.triples, Literal(int(row["n"].value))))
        g.add((subset, VOID.properties, Literal(int(row["props"].value))))
        (row,) = _rows(store, "void-entities", **in_graph)
        g.add((subset, VOID.entities, Literal(int(row["n"].value))))
        for row in _rows(store, "void-class-partitions", **in_graph):
            partition = URIRef(f"{VOID_IRI}#{graph[len(str(GRAPH)):]}-class-{_slug(compact(row['c']))}")
            g.add((subset, VOID.classPartition, partition))
            g.add((partition, VOID["class"], URIRef(row["c"].value)))
            g.add((partition, VOID.entities, Literal(int(row["n"].value))))

    for row in _rows(store, "void-examples", **union):
        g.add((d, VOID.exampleResource, URIRef(row["x"].value)))
    return g


#: The properties of VoID + DCAT whose values are addresses on the public site (`rebase`).
_ADDRESSES = (VOID.sparqlEndpoint, VOID.dataDump, DCAT.landingPage, DCAT.downloadURL, DCAT.accessURL)


def rebase(void: Graph, base: str) -> Graph:
    """``void`` with its addresses (endpoint, dumps, landing page) on ``base``: a release's VoID names the
    base it was built with; a server with another ``Settings.base_url`` serves it re-based."""
    endpoint = void.value(DATASET, VOID.sparqlEndpoint)
    old = str(endpoint)[: -len("sparql")] if endpoint is not None and str(endpoint).endswith("sparql") else None
    if old is None or old == base:
        return void
    moved = Graph()
    for prefix, namespace in void.namespaces():
        moved.bind(prefix, namespace)
    for s, p, o in void:
        if p in _ADDRESSES and isinstance(o, URIRef) and str(o).startswith(old):
            o = URIRef(base + str(o)[len(old):])
        moved.add((s, p, o))
    return moved


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")


def _distribution(dump: str) -> URIRef:
    return URIRef(VOID_IRI + "#dump-" + dump.removeprefix("icgraph.").replace(".", "-"))


def set_dump_sizes(void: Graph, dumps_dir: Path) -> None:
    """Give each distribution of ``void`` (`build_void`) the size of its dump in ``dumps_dir`` as it is now.

    The release writer describes the release while some dumps are still being written, then sets
    their sizes once they all are.
    """
    for name in DUMPS:
        dist = _distribution(name)
        void.remove((dist, DCAT.byteSize, None))
        if (dumps_dir / name).is_file():
            void.add((dist, DCAT.byteSize, Literal((dumps_dir / name).stat().st_size, datatype=XSD.nonNegativeInteger)))


def store_statistics(store: ox.Store, dataset: dict | None = None) -> dict:
    """Triples per named graph and in the default graph (their merge): the manifest's and service description's counts.

    ``dataset`` as for `build_void`.
    """
    counts = {str(row["g"].value): int(row["n"].value) for row in _rows(store, "graph-triple-counts")}
    for name in store.named_graphs():
        counts.setdefault(str(name.value), 0)
    (row,) = _rows(store, "union-triples", **(default_dataset(store) if dataset is None else dataset))
    return {"graphs": sorted(counts.items()), "default_triples": int(row["n"].value)}
