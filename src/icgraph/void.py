"""The VoID + DCAT description of a release, with its counts: written once by the build.

The server reads ``void.ttl`` from the release it serves (`icgraph.release`); nothing is
counted at request time.
"""

from __future__ import annotations

import json
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
    return describe_void(void_counts(store, dataset), dumps_dir, version=version, issued=issued, base=base, skipped=skipped)


def describe_void(counts: dict, dumps_dir: Path, version: str | None = None, issued: str | None = None, base: str = ROOT,
                  skipped: Iterable[str] = ()) -> Graph:
    """The VoID + DCAT description of a dataset with the counts ``counts`` (`void_counts`, `counts_of_void`, `updated_counts`)."""
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

    g.add((d, VOID.triples, Literal(counts["triples"])))
    g.add((d, VOID.entities, Literal(counts["entities"])))
    for namespace in sorted(counts["vocabularies"]):
        g.add((d, VOID.vocabulary, URIRef(namespace)))
    for graph, of_graph in sorted(counts["graphs"].items()):
        subset = URIRef(graph)
        g.add((d, VOID.subset, subset))
        g.add((subset, RDF.type, VOID.Dataset))
        g.add((subset, RDFS.label, Literal(graph[len(str(GRAPH)):])))
        g.add((subset, VOID.triples, Literal(of_graph["triples"])))
        g.add((subset, VOID.properties, Literal(of_graph["properties"])))
        g.add((subset, VOID.entities, Literal(of_graph["entities"])))
        for cls, n in sorted(of_graph["classes"].items()):
            partition = URIRef(f"{VOID_IRI}#{graph[len(str(GRAPH)):]}-class-{_slug(compact(ox.NamedNode(cls)))}")
            g.add((subset, VOID.classPartition, partition))
            g.add((partition, VOID["class"], URIRef(cls)))
            g.add((partition, VOID.entities, Literal(n)))
    for example in counts["examples"]:
        g.add((d, VOID.exampleResource, URIRef(example)))
    return g


def void_counts(store: ox.Store, dataset: dict | None = None) -> dict:
    """What VoID counts in ``store``: triples and entities of the merge, the vocabularies used, and per named graph
    its triples, properties, entities and the entities of each class; and the example resources.

    ``dataset`` as for `build_void`."""
    union = default_dataset(store) if dataset is None else dataset
    (total,) = _rows(store, "void-triples", **union)
    (entities,) = _rows(store, "void-entities", **union)
    graphs = {}
    for graph in sorted(g_.value for g_ in store.named_graphs() if isinstance(g_, ox.NamedNode)):
        in_graph = {"default_graph": [ox.NamedNode(graph)]}
        (size,) = _rows(store, "void-graph-size", **in_graph)
        (subjects,) = _rows(store, "void-entities", **in_graph)
        graphs[graph] = {
            "triples": int(size["n"].value), "properties": int(size["props"].value), "entities": int(subjects["n"].value),
            "classes": {row["c"].value: int(row["n"].value) for row in _rows(store, "void-class-partitions", **in_graph)},
        }
    return {"triples": int(total["n"].value), "entities": int(entities["n"].value), "vocabularies": _vocabularies(store, union),
            "graphs": graphs, "examples": _examples(store, union)}


def counts_of_void(void: Graph) -> dict:
    """The counts a VoID description (`describe_void`) holds, as `void_counts` gives them."""
    d = DATASET
    graphs = {}
    for subset in void.objects(d, VOID.subset):
        graphs[str(subset)] = {
            "triples": int(void.value(subset, VOID.triples)), "properties": int(void.value(subset, VOID.properties)),
            "entities": int(void.value(subset, VOID.entities)),
            "classes": {str(void.value(p, VOID["class"])): int(void.value(p, VOID.entities))
                        for p in void.objects(subset, VOID.classPartition)},
        }
    return {"triples": int(void.value(d, VOID.triples)), "entities": int(void.value(d, VOID.entities)),
            "vocabularies": sorted(str(v) for v in void.objects(d, VOID.vocabulary)), "graphs": graphs,
            "examples": sorted(str(x) for x in void.objects(d, VOID.exampleResource))}


def updated_counts(counts: dict, before: ox.Store, after: ox.Store, removed: list[ox.Quad], added: list[ox.Quad]) -> dict:
    """``counts`` of the store ``before`` (`void_counts`), changed into the counts of ``after``, which differs from it
    by the named-graph quads ``removed`` and ``added`` (and their merge). Each count is looked up for the terms the
    change touches only, in both stores: a triple of the merge, a subject, a property of a graph, an entity of a class."""
    default, rdf_type = ox.DefaultGraph(), ox.NamedNode(str(RDF.type))
    counts = json.loads(json.dumps(counts))
    removed, added = set(removed), set(added)
    changed = list(removed - added) + list(added - removed)

    def has(store, s=None, p=None, o=None, g=None) -> bool:
        return next(iter(store.quads_for_pattern(s, p, o, g)), None) is not None

    def difference(test) -> int:
        return int(test(after)) - int(test(before))

    for triple in dict.fromkeys(q.triple for q in changed):
        counts["triples"] += difference(lambda st: ox.Quad(triple.subject, triple.predicate, triple.object, default) in st)
    for subject in dict.fromkeys(q.subject for q in changed if isinstance(q.subject, ox.NamedNode)):
        counts["entities"] += difference(lambda st: has(st, subject, g=default))
    for graph in dict.fromkeys(q.graph_name for q in changed):
        mine = [q for q in changed if q.graph_name == graph]
        of_graph = counts["graphs"].setdefault(graph.value, {"triples": 0, "properties": 0, "entities": 0, "classes": {}})
        of_graph["triples"] += sum(1 for q in mine if q in added) - sum(1 for q in mine if q in removed)
        for predicate in dict.fromkeys(q.predicate for q in mine):
            of_graph["properties"] += difference(lambda st: has(st, p=predicate, g=graph))
        for subject in dict.fromkeys(q.subject for q in mine if isinstance(q.subject, ox.NamedNode)):
            of_graph["entities"] += difference(lambda st: has(st, subject, g=graph))
        for quad in mine:
            if quad.predicate == rdf_type:
                n = of_graph["classes"].get(quad.object.value, 0) + difference(lambda st: has(st, quad.subject, rdf_type, quad.object, graph))
                of_graph["classes"][quad.object.value] = n
        of_graph["classes"] = {c: n for c, n in of_graph["classes"].items() if n}
    # The vocabularies: those of the new terms; one whose terms were all taken away is looked for again in the whole merge.
    terms = lambda quads: {q.predicate.value for q in quads} | {q.object.value for q in quads if q.predicate == rdf_type}  # noqa: E731
    gone = [t for t in terms(q for q in changed if q in removed)
            if not has(after, p=ox.NamedNode(t), g=default) and not has(after, p=rdf_type, o=ox.NamedNode(t), g=default)]
    # (``after`` is a release being written: its default graph holds the merge, `{}` reads it without the scan that proves it)
    if gone:
        counts["vocabularies"] = _vocabularies(after, {})
    else:
        counts["vocabularies"] = sorted(set(counts["vocabularies"]) | set(filter(None, map(_listed_vocabulary, terms(q for q in changed if q in added)))))
    counts["examples"] = _examples(after, {})  # the first resources of a few classes: a short sorted query
    return counts


def _listed_vocabulary(term: str) -> str | None:
    """The vocabulary VoID lists for a term: a known namespace, neither the data's nor the graphs'."""
    namespace = _vocabulary(term)
    return namespace if namespace and not namespace.startswith(str(ID)) and namespace != str(GRAPH) else None


def _vocabularies(store: ox.Store, union: dict) -> list[str]:
    return sorted(set(filter(None, (_listed_vocabulary(row["t"].value) for row in _rows(store, "void-terms", **union)))))


def _examples(store: ox.Store, union: dict) -> list[str]:
    return sorted(row["x"].value for row in _rows(store, "void-examples", **union))


def statistics_of_counts(counts: dict) -> dict:
    """`store_statistics` from VoID's counts: the triples of each named graph and of their merge."""
    return {"graphs": sorted((graph, c["triples"]) for graph, c in counts["graphs"].items()), "default_triples": counts["triples"]}


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
