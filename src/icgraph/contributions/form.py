"""The practice form, read from the shapes: fields, cardinalities and choices come from shapes/ and the SKOS schemes.

A field is a property path that a shape constrains for practices (``sh:targetClass icg:Practice``,
or ``sh:targetSubjectsOf`` a practice property), with the cardinality the shapes allow (the
tightest sh:minCount and sh:maxCount of every severity), the shape's rdfs:label as its label and
its sh:message as its help. Choices come from a helper shape's ``skos:inScheme`` value (the
concepts of that scheme, with their English labels) or from the class the shapes ask for
(``sh:class icg:Country``: the places of that class in the release). An ``sh:or`` of paths
(a country, or transnational) gives each path a field, none of them required on its own.
Participations (``icg:hasParticipation``) are rows of an actor and a role (the role scheme of
icgsh:ParticipationRole). Nothing here names a concept, a scheme or a cardinality.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.collection import Collection
from rdflib.namespace import RDF, RDFS, SKOS, XSD

from icgraph.config import Settings
from icgraph.contributions.checking import Registry, registry
from icgraph.namespaces import ACTOR, ICG, SH, compact
from icgraph.validate import load_ontology, load_shapes

#: Field kinds: what the form shows for a path.
TEXT, YEAR, CHOICE, BOOLEAN, PARTICIPANTS = "text", "year", "choice", "boolean", "participants"


@dataclass
class Field:
    name: str  #: the form key: the path's local name
    path: str  #: the property IRI
    label: str
    kind: str
    min_count: int = 0
    max_count: int | None = None
    language: str | None = None
    datatype: str | None = None
    options: list[tuple[str, str]] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)

    @property
    def required(self) -> bool:
        return self.min_count > 0

    @property
    def multiple(self) -> bool:
        return self.max_count is None or self.max_count > 1


def _english(graph: Graph, node, predicate) -> str | None:
    values = [v for v in graph.objects(node, predicate) if isinstance(v, Literal)]
    for value in values:
        if value.language in ("en", None):
            return str(value)
    return str(values[0]) if values else None


def _practice_property_shapes(shapes: Graph):
    """(shape, path, in an sh:or?) for every property shape about a practice's own property."""
    practice_properties = set()
    for shape in shapes.subjects(SH.targetClass, ICG.Practice):
        path = shapes.value(shape, SH.path)
        if isinstance(path, URIRef):
            practice_properties.add(path)
            yield shape, path, False
        for members in shapes.objects(shape, SH["or"]):
            for member in Collection(shapes, members):
                path = shapes.value(member, SH.path)
                if isinstance(path, URIRef):
                    yield member, path, True
    for shape in shapes.subjects(SH.targetSubjectsOf, None):
        target, path = shapes.value(shape, SH.targetSubjectsOf), shapes.value(shape, SH.path)
        if target == path and isinstance(path, URIRef):
            yield shape, path, True  # only there when given: optional


def _fields(settings: Settings, known: Registry) -> tuple[Field, ...]:
    shapes, ontology = load_shapes(settings), load_ontology(settings)
    found: dict[str, Field] = {}
    for shape, path, optional in _practice_property_shapes(shapes):
        name = compact(path).split(":", 1)[-1]
        entry = found.get(name)
        if entry is None:
            entry = found[name] = Field(name=name, path=str(path), label=name, kind=TEXT)
            entry.min_count = 0
        label = _english(shapes, shape, RDFS.label)
        severity = shapes.value(shape, SH.severity)
        if label and (severity in (None, SH.Violation) or entry.label == name):
            entry.label = label
        message = _english(shapes, shape, SH.message)
        if message and message not in entry.messages:
            entry.messages.append(message)
        minimum, maximum = shapes.value(shape, SH.minCount), shapes.value(shape, SH.maxCount)
        if minimum is not None and not optional and severity in (None, SH.Violation):
            entry.min_count = max(entry.min_count, int(minimum))
        if maximum is not None:
            entry.max_count = int(maximum) if entry.max_count is None else min(entry.max_count, int(maximum))
        languages = shapes.value(shape, SH.languageIn)
        if languages is not None:
            entry.language = str(next(iter(Collection(shapes, languages)), "en"))
        datatype = shapes.value(shape, SH.datatype)
        if datatype == XSD.gYear:
            entry.kind, entry.datatype = YEAR, str(datatype)
        if shapes.value(shape, SH.hasValue) == Literal(True):
            entry.kind = BOOLEAN
        scheme = _scheme_of(shapes, shapes.value(shape, SH.node))
        if scheme is not None:
            entry.kind = CHOICE
            entry.options = _concepts(ontology, scheme)
        wanted_class = shapes.value(shape, SH["class"])
        if wanted_class is not None and path != ICG.hasParticipation and str(wanted_class).startswith(str(ICG)):
            options = _instances(known, ontology, wanted_class)
            if options:
                entry.kind, entry.options = CHOICE, options
        if path == ICG.hasParticipation:
            entry.kind = PARTICIPANTS
    # Paths the shapes only use for provenance that icgraph sets itself are not for the contributor.
    reserved = {"wasDerivedFrom", "qualifiedDerivation", "reference"}
    kept = [f for f in found.values() if f.name not in reserved and f.max_count != 0]
    order = {TEXT: 0, CHOICE: 1, BOOLEAN: 2, YEAR: 3, PARTICIPANTS: 4}
    return tuple(sorted(kept, key=lambda f: (order[f.kind] + (5 if f.kind == TEXT and not f.required else 0), -f.min_count, f.label)))


#: The fields, by (shapes folder, ontology folder, release id): made once per release.
_made: dict[tuple, tuple[Field, ...]] = {}


def practice_fields(settings: Settings) -> list[Field]:
    known = registry(settings)
    key = (str(settings.shapes_dir), str(settings.ontology_dir), known.release_id)
    if key not in _made:
        _made.clear()
        _made[key] = _fields(settings, known)
    return list(_made[key])


def role_options(settings: Settings) -> list[tuple[str, str]]:
    """The participation roles: the scheme of the shape on a participation's icg:role."""
    shapes, ontology = load_shapes(settings), load_ontology(settings)
    for shape in shapes.subjects(SH.targetClass, ICG.Participation):
        if shapes.value(shape, SH.path) == ICG.role:
            scheme = _scheme_of(shapes, shapes.value(shape, SH.node))
            if scheme is not None:
                return _concepts(ontology, scheme)
    return []


def actor_options(settings: Settings) -> list[tuple[str, str]]:
    """Every actor of the registry: (IRI, name), by name."""
    return sorted(registry(settings).labels(str(ACTOR)).items(), key=lambda item: item[1].casefold())


def _scheme_of(shapes: Graph, node) -> URIRef | None:
    if node is None:
        return None
    for member in shapes.objects(node, SH.property):
        if shapes.value(member, SH.path) == SKOS.inScheme:
            value = shapes.value(member, SH.hasValue)
            if isinstance(value, URIRef):
                return value
    return None


def _concepts(ontology: Graph, scheme: URIRef) -> list[tuple[str, str]]:
    concepts = [(str(c), _english(ontology, c, SKOS.prefLabel) or compact(c)) for c in ontology.subjects(SKOS.inScheme, scheme)]
    rank = {str(c): int(r) for c, r in ontology.subject_objects(ICG.rank) if isinstance(r, Literal)}
    return sorted(concepts, key=lambda item: (rank.get(item[0], 1 << 20), item[1].casefold()))


def _instances(known: Registry, ontology: Graph, wanted_class: URIRef) -> list[tuple[str, str]]:
    found = []
    for subject, triples in known.by_subject.items():
        if any(t.predicate.value == str(RDF.type) and t.object.value == str(wanted_class) for t in triples):
            label = next((t.object.value for t in triples if t.predicate.value == str(SKOS.prefLabel)), None)
            found.append((subject, label or compact(subject)))
    return sorted(found, key=lambda item: item[1].casefold())


# --------------------------------------------------------------------------- form values <-> RDF


def to_graph(fields: list[Field], values: dict[str, list[str]]) -> Graph:
    """The practice the form describes (a blank node typed icg:Practice), from the submitted values."""
    graph = Graph()
    practice = BNode()
    graph.add((practice, RDF.type, ICG.Practice))
    for entry in fields:
        if entry.kind == PARTICIPANTS:
            for actor, role in zip(values.get("participant_actor", []), values.get("participant_role", [])):
                if not actor.strip() and not role.strip():
                    continue
                participation = BNode()
                graph.add((practice, ICG.hasParticipation, participation))
                if actor.strip():
                    graph.add((participation, ICG.agent, _term(actor.strip())))
                if role.strip():
                    graph.add((participation, ICG.role, _term(role.strip())))
            continue
        for raw in values.get(entry.name, []):
            value = raw.strip()
            if not value:
                continue
            path = URIRef(entry.path)
            if entry.kind == CHOICE:
                graph.add((practice, path, _term(value)))
            elif entry.kind == YEAR:
                graph.add((practice, path, Literal(value, datatype=XSD.gYear)))
            elif entry.kind == BOOLEAN:
                graph.add((practice, path, Literal(value in ("true", "on", "1"))))
            else:
                graph.add((practice, path, Literal(value, lang=entry.language)))
    return graph


def _term(value: str) -> URIRef:
    """A picked IRI, or a name typed into the actor box: an actor IRI from the registry's names."""
    return URIRef(value)


def field_of(fields: list[Field], path: str | None) -> str:
    """The form field a SHACL result's path belongs to ("" for the practice as a whole)."""
    if not path:
        return ""
    for entry in fields:
        if compact(URIRef(entry.path)) == path:
            return entry.name
    if path in ("icg:agent", "icg:role"):
        return "hasParticipation"
    return ""
