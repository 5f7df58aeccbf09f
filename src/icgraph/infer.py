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
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import owlrl
import pyoxigraph as ox
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.graph import ConjunctiveGraph
from rdflib.namespace import OWL, RDF, RDFS, XSD
from rdflib.paths import Path as PropertyPath
from rdflib.plugins.sparql import prepareQuery
from rdflib.plugins.sparql.parserutils import CompValue
from rdflib.term import Node, Variable

from icgraph.config import Settings
from icgraph.namespaces import PREFIXES

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
_XSD_STRING = str(XSD.string)

#: The closed schema lives in this graph of the working store, apart from the data.
_TBOX = "urn:x-icgraph:closed-schema"
#: The instance closure: each query applies one kind of schema axiom.
CLOSURE = {
    "superclasses": "CONSTRUCT { ?x a ?super } WHERE { GRAPH <%s> { ?class rdfs:subClassOf ?super } ?x a ?class }",
    "superproperties": "CONSTRUCT { ?s ?super ?o } WHERE { GRAPH <%s> { ?p rdfs:subPropertyOf ?super } ?s ?p ?o }",
    "inverses": "CONSTRUCT { ?o ?q ?s } WHERE { GRAPH <%s> { ?p owl:inverseOf ?q } ?s ?p ?o FILTER (!isLiteral(?o)) }",
    "symmetric": "CONSTRUCT { ?o ?p ?s } WHERE { GRAPH <%s> { ?p a owl:SymmetricProperty } ?s ?p ?o FILTER (!isLiteral(?o)) }",
    "domains": "CONSTRUCT { ?s a ?class } WHERE { GRAPH <%s> { ?p rdfs:domain ?class } ?s ?p ?o }",
    "ranges": "CONSTRUCT { ?o a ?class } WHERE { GRAPH <%s> { ?p rdfs:range ?class } ?s ?p ?o FILTER (!isLiteral(?o)) }",
}
_CLOSURE_PREFIXES = {"rdfs": str(RDFS), "owl": str(OWL)}


@dataclass
class Schema:
    """The ontology, its closed axioms and the rules, ready for a working store."""

    triples: Graph = field(default_factory=Graph)  # ontology + vocabularies, as read
    tbox: Graph = field(default_factory=Graph)  # the closed axioms CLOSURE applies
    rules: list[tuple[str, str]] = field(default_factory=list)  # (name, query)
    #: The predicates an inference can read or write; None means every predicate.
    predicates: set[URIRef] | None = field(default_factory=set)


def infer(data: Graph, *, ontology_dir: Path | None = None) -> Graph:
    """Everything the data implies under the ontology and the rules, minus what it already says.

    `data` is an rdflib Graph or Dataset (all its named graphs are read). The ontology and
    vocabularies are read from `ontology_dir` (default: the project's `ontology/`), so the
    data need not contain them.
    """
    schema = load_schema(ontology_dir or Settings().ontology_dir)
    asserted = _to_quads(_triples(data, schema.predicates))
    asserted += _to_quads(schema.triples)
    store = ox.Store()
    store.extend(asserted)
    store.extend(_to_quads(schema.tbox, ox.NamedNode(_TBOX)))

    # Each rule runs as the equivalent INSERT inside Oxigraph, so no intermediate result
    # crosses into Python; stop when a whole round adds nothing.
    size = len(store)
    while True:
        for name, update in schema.rules:
            try:
                store.update(update, prefixes=_CLOSURE_PREFIXES)
            except SyntaxError as error:
                raise ValueError(f"{name}: {error}; fix the query") from error
        if len(store) == size:
            break
        size = len(store)

    before = set(asserted)
    result = Graph()
    for prefix, iri in PREFIXES.items():
        result.bind(prefix, iri)
    result.addN(
        (_from_ox(q.subject), _from_ox(q.predicate), _from_ox(q.object), result)
        for q in store.quads_for_pattern(None, None, None, ox.DefaultGraph())
        if q not in before
    )
    return result


def load_schema(ontology_dir: Path) -> Schema:
    """The closed schema and the rules of `ontology_dir`; cached until one of its files changes."""
    files = [ontology_dir / "icgraph.ttl", *sorted((ontology_dir / "vocabularies").glob("*.ttl"))]
    rules = sorted((ontology_dir / "rules").glob("*.rq"))
    stamp = tuple((str(p), p.stat().st_mtime_ns) for p in [*files, *rules])
    return _load_schema(stamp)


@functools.lru_cache(maxsize=4)
def _load_schema(stamp: tuple[tuple[str, int], ...]) -> Schema:
    schema = Schema()
    rule_files = []
    for path, _ in stamp:
        if path.endswith(".ttl"):
            schema.triples.parse(path, format="turtle")
        else:
            rule_files.append((f"ontology/rules/{Path(path).name}", Path(path).read_text(encoding="utf-8")))

    axioms = Graph()
    for predicate in _SCHEMA_PREDICATES:
        axioms += schema.triples.triples((None, predicate, None))
    for kind in (OWL.Class, *_PROPERTY_TYPES):
        axioms += schema.triples.triples((None, RDF.type, kind))
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
    tbox = schema.tbox
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

    closure = [(f"closure: {name}", query % _TBOX) for name, query in CLOSURE.items()]
    # Closure again after the rules, so that one round usually reaches the fixpoint and the
    # second only confirms it.
    schema.rules = [(name, _as_insert(name, query)) for name, query in closure + rule_files + closure]
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
    return [ox.Quad(_to_ox(s), _to_ox(p), _to_ox(o), graph) for s, p, o in triples]


@functools.lru_cache(maxsize=100_000)
def _to_ox(term: Node):
    if isinstance(term, URIRef):
        return ox.NamedNode(str(term))
    if isinstance(term, BNode):
        return ox.BlankNode(str(term))
    if isinstance(term, Literal):
        if term.language:
            return ox.Literal(str(term), language=term.language)
        if term.datatype:
            return ox.Literal(str(term), datatype=ox.NamedNode(str(term.datatype)))
        return ox.Literal(str(term))
    raise TypeError(f"not an RDF term: {term!r}")


@functools.lru_cache(maxsize=100_000)
def _from_ox(term) -> Node:
    if isinstance(term, ox.NamedNode):
        return URIRef(term.value)
    if isinstance(term, ox.BlankNode):
        return BNode(term.value)
    if term.language:
        return Literal(term.value, lang=term.language)
    datatype = term.datatype.value
    if datatype == _XSD_STRING:
        return Literal(term.value)
    return Literal(term.value, datatype=URIRef(datatype))
