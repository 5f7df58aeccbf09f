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

import pyoxigraph as ox

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.collection import Collection
from rdflib.namespace import OWL, PROV, RDF, RDFS, SKOS, XSD

from icgraph.config import Settings
from icgraph.contributions.checking import Registry, registry
from icgraph.namespaces import ACTOR, ICG, SH, compact
from icgraph.slugs import slugify
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


def _fields(settings: Settings, known: Registry, for_actors: bool = False) -> tuple[Field, ...]:
    shapes, ontology = load_shapes(settings), load_ontology(settings)
    found: dict[str, Field] = {}
    chosen = _actor_property_shapes(shapes, ontology) if for_actors else _practice_property_shapes(shapes)
    for shape, path, optional in chosen:
        name = compact(path).split(":", 1)[-1]
        entry = found.get(name)
        if entry is None:
            entry = found[name] = Field(name=name, path=str(path), label=name, kind=TEXT)
            entry.min_count = 0
        label = _english(shapes, shape, RDFS.label)
        severity = shapes.value(shape, SH.severity)
        if label and (severity in (None, SH.Violation) or (entry.label == name and not for_actors)):
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
            options = _instances(known, ontology, wanted_class, with_subclasses=for_actors)
            if options:
                entry.kind, entry.options = CHOICE, options
        kinds = _kinds(shapes, ontology, shapes.value(shape, SH.qualifiedValueShape)) if path == RDF.type else []
        if kinds:
            entry.kind, entry.options, entry.max_count = CHOICE, kinds, 1
            entry.min_count = max(entry.min_count, int(shapes.value(shape, SH.qualifiedMinCount) or 0))
        if path == ICG.hasParticipation:
            entry.kind = PARTICIPANTS
    if for_actors:
        for entry in found.values():
            # An actor's shapes are mostly warnings named after what they warn of: the ontology's name reads better.
            entry.label = _english(ontology, URIRef(entry.path), RDFS.label) or entry.label
            if entry.kind == TEXT and entry.language is None:
                # No scheme or class in the shapes (dct:spatial): the values the registry's actors have.
                used = _used_values(known, ontology, URIRef(entry.path))
                if used:
                    entry.kind, entry.options = CHOICE, used
    # Paths the shapes only use for provenance that icgraph sets itself are not for the contributor.
    reserved = {"wasDerivedFrom", "qualifiedDerivation", "reference", "sourceLine"}
    kept = [f for f in found.values() if f.name not in reserved and f.max_count != 0
            and (not for_actors or f.kind != TEXT or f.language is not None)]
    order = {TEXT: 0, CHOICE: 1, BOOLEAN: 2, YEAR: 3, PARTICIPANTS: 4}
    return tuple(sorted(kept, key=lambda f: (order[f.kind] + (5 if f.kind == TEXT and not f.required else 0), -f.min_count, f.label)))


#: The fields, by (shapes folder, ontology folder, release id): made once per release.
_made: dict[tuple, tuple[Field, ...]] = {}


def practice_fields(settings: Settings) -> list[Field]:
    return _made_fields(settings, for_actors=False)


def actor_fields(settings: Settings) -> list[Field]:
    """The fields of an actor a submission proposes as new: from the shapes on icg:Actor and its subclasses."""
    return _made_fields(settings, for_actors=True)


def _made_fields(settings: Settings, for_actors: bool) -> list[Field]:
    known = registry(settings)
    key = (str(settings.shapes_dir), str(settings.ontology_dir), known.release_id, for_actors)
    if key not in _made:
        for old in [k for k in _made if k[:3] != key[:3]]:
            del _made[old]
        _made[key] = _fields(settings, known, for_actors)
    return list(_made[key])


def _actor_property_shapes(shapes: Graph, ontology: Graph):
    """(shape, path, optional?) for the shapes on an actor: icg:Actor's (required as they say), its subclasses' and
    sh:or members (optional), and the shapes on a property's subjects for those paths (their class or scheme)."""
    paths = set()
    classes = [ICG.Actor, *sorted(set(ontology.transitive_subjects(RDFS.subClassOf, ICG.Actor)) - {ICG.Actor}, key=str)]
    for cls in classes:
        for shape in sorted(shapes.subjects(SH.targetClass, cls), key=str):
            path = shapes.value(shape, SH.path)
            if isinstance(path, URIRef):
                paths.add(path)
                yield shape, path, cls != ICG.Actor
            for members in shapes.objects(shape, SH["or"]):
                for member in Collection(shapes, members):
                    path = shapes.value(member, SH.path)
                    if isinstance(path, URIRef):
                        paths.add(path)
                        yield member, path, True
    for shape in shapes.subjects(SH.targetSubjectsOf, None):
        target, path = shapes.value(shape, SH.targetSubjectsOf), shapes.value(shape, SH.path)
        if target == path and path in paths:
            yield shape, path, True


def _kinds(shapes: Graph, ontology: Graph, qualified) -> list[tuple[str, str]]:
    """The classes a qualified value shape on rdf:type allows: the subclasses of the class it names
    (``sh:path [sh:oneOrMorePath rdfs:subClassOf]; sh:hasValue C``) that are members of an
    owl:AllDisjointClasses, when it asks for that too."""
    if qualified is None:
        return []
    base, disjoint = None, False
    for member in shapes.objects(qualified, SH.property):
        value = shapes.value(member, SH.hasValue)
        path = shapes.value(member, SH.path)
        if path is not None and shapes.value(path, SH.oneOrMorePath) == RDFS.subClassOf:
            base = value
        elif value == OWL.AllDisjointClasses:
            disjoint = True
    if base is None:
        return []
    found = set(ontology.transitive_subjects(RDFS.subClassOf, base)) - {base}
    if disjoint:
        members = set()
        for group in ontology.subjects(RDF.type, OWL.AllDisjointClasses):
            for listed in ontology.objects(group, OWL.members):
                members.update(Collection(ontology, listed))
        found &= members
    labelled = [(str(c), _english(ontology, c, RDFS.label) or compact(c)) for c in found]
    return sorted(labelled, key=lambda item: item[1].casefold())


def _used_values(known: Registry, ontology: Graph, path: URIRef) -> list[tuple[str, str]]:
    """The IRIs the registry's actors have as values of ``path``, with their names."""
    actors, values = str(ACTOR), set()
    for subject, triples in known.by_subject.items():
        if subject.startswith(actors):
            values.update(t.object.value for t in triples if t.predicate.value == str(path) and isinstance(t.object, ox.NamedNode))
    labelled = []
    for value in values:
        label = next((t.object.value for t in known.by_subject.get(value, ()) if t.predicate.value == str(SKOS.prefLabel)), None)
        labelled.append((value, label or compact(URIRef(value))))
    return sorted(labelled, key=lambda item: item[1].casefold())


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


def _instances(known: Registry, ontology: Graph, wanted_class: URIRef, with_subclasses: bool = False) -> list[tuple[str, str]]:
    wanted = {str(wanted_class)}
    if with_subclasses:
        wanted |= {str(c) for c in ontology.transitive_subjects(RDFS.subClassOf, wanted_class)}
    found = []
    for subject, triples in known.by_subject.items():
        if any(t.predicate.value == str(RDF.type) and t.object.value in wanted for t in triples):
            label = next((t.object.value for t in triples if t.predicate.value == str(SKOS.prefLabel)), None)
            found.append((subject, label or compact(subject)))
    return sorted(found, key=lambda item: item[1].casefold())


# --------------------------------------------------------------------------- form values <-> RDF


def to_graph(fields: list[Field], values: dict[str, list[str]]) -> Graph:
    """The practice the form describes (a blank node typed icg:Practice), from the submitted values."""
    graph = Graph()
    practice = BNode()
    graph.add((practice, RDF.type, ICG.Practice))
    for corrects in values.get("corrects", []):
        if corrects.strip():
            # A correction: the published practice it revises (checking makes the rest of it).
            graph.add((practice, PROV.wasRevisionOf, URIRef(corrects.strip())))
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


def values_of(graph: Graph, practice: URIRef, fields: list[Field]) -> dict[str, list[str]]:
    """A practice in ``graph`` back into form values: a stored submission to edit, or a published practice to correct."""
    values: dict[str, list[str]] = {}
    for entry in fields:
        if entry.kind == PARTICIPANTS:
            for participation in sorted(graph.objects(practice, URIRef(entry.path)), key=str):
                values.setdefault("participant_actor", []).append(str(graph.value(participation, ICG.agent) or ""))
                values.setdefault("participant_role", []).append(str(graph.value(participation, ICG.role) or ""))
        else:
            values[entry.name] = [str(v) for v in graph.objects(practice, URIRef(entry.path))]
    corrects = graph.value(practice, PROV.wasRevisionOf)
    if corrects is not None:
        values["corrects"] = [str(corrects)]
    return values


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


# --------------------------------------------------------------------------- actors proposed as new

#: Form keys of the new-actor rows: ``new_actor_<field name>``, one value per row.
NEW_ACTOR = "new_actor_"


def new_actor_key(row: int, name: str) -> str:
    """Where a problem of a proposed actor's field is shown: ``new_actor-ROW-FIELD`` ("" for the actor as a whole)."""
    return f"new_actor-{row}-{name}"


def proposed_actors(fields: list[Field], values: dict[str, list[str]], known: Registry) -> tuple[Graph, list[URIRef | None], dict[str, list[str]]]:
    """The actors the form proposes as new: their triples, their IRIs by row (None for an empty row), and problems by key.

    An actor's IRI is made from its name (``actor:SLUG``); a name whose IRI the registry has already
    is a problem (pick that actor among the participants instead).
    """
    graph, iris, problems = Graph(), [], {}
    rows = max((len(values.get(NEW_ACTOR + f.name, [])) for f in fields), default=0)
    for row in range(rows):
        typed = {f.name: (values.get(NEW_ACTOR + f.name, [])[row:row + 1] or [""])[0].strip() for f in fields}
        if not any(typed.values()):
            iris.append(None)
            continue
        name_field = next((f for f in fields if f.language is not None), None)
        name = typed.get(name_field.name, "") if name_field else ""
        slug = slugify(name) if name else ""
        if not slug:
            problems.setdefault(new_actor_key(row, name_field.name if name_field else ""), []).append(
                "Give the new actor's name (in English): its IRI is made from it.")
            iris.append(None)
            continue
        actor = ACTOR[slug]
        if known.has(str(actor)):
            registered = known.labels(str(ACTOR)).get(str(actor), compact(actor))
            problems.setdefault(new_actor_key(row, name_field.name), []).append(
                f"The registry has {compact(actor)} (“{registered}”) already: pick it among the participants instead of proposing it.")
            iris.append(None)
            continue
        iris.append(actor)
        for entry in fields:
            value = typed.get(entry.name, "")
            if not value:
                continue
            if entry.kind == CHOICE:
                graph.add((actor, URIRef(entry.path), URIRef(value)))
            else:
                graph.add((actor, URIRef(entry.path), Literal(value, lang=entry.language)))
    return graph, iris, problems


def proposed_values_of(graph: Graph, fields: list[Field], known: Registry) -> dict[str, list[str]]:
    """The new-actor rows of a stored submission: its actor:... subjects the registry does not have."""
    values: dict[str, list[str]] = {}
    for actor in proposed_iris(graph, known):
        for entry in fields:
            value = graph.value(actor, URIRef(entry.path))
            values.setdefault(NEW_ACTOR + entry.name, []).append(str(value) if value is not None else "")
    return values


def proposed_iris(graph: Graph, known: Registry) -> list[URIRef]:
    """The actors a stored submission proposes as new (actor:... subjects the registry does not have), in the form's row order."""
    return sorted({s for s in graph.subjects() if isinstance(s, URIRef) and str(s).startswith(str(ACTOR)) and not known.has(str(s))}, key=str)
