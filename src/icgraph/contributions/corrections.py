"""Corrections of published practices: the published description, and the difference a correction makes.

A correction is a submission that names the published practice it corrects (`checking`). The
review page shows what it changes as statements a reader can follow: "Title: removed «…»,
added «…»", with the labels of concepts, places and actors rather than IRIs, and the
N-Triples term beside each value for whoever wants it. Only what a contributor can state is
compared (the form's fields, from the shapes, and the participations as actor and role): the
published practice's source facts (lines, headings as printed) are not part of a correction.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rdflib import Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, PROV, RDFS, SKOS

from icgraph.config import Settings
from icgraph.contributions import form as practice_form
from icgraph.contributions.checking import Registry, registry
from icgraph.namespaces import ICG, compact
from icgraph.validate import load_ontology

_LABELS = (str(SKOS.prefLabel), str(RDFS.label), str(DCTERMS.title))


@dataclass(frozen=True, order=True)
class Statement:
    """One thing a practice says, readable: the field's label, the value's label, and the value as an RDF term."""

    field: str
    value: str
    term: str


@dataclass
class Difference:
    """What a correction changes in the practice it corrects."""

    corrects: str
    title: str  #: the corrected practice's published title
    removed: list[Statement] = field(default_factory=list)
    added: list[Statement] = field(default_factory=list)
    kept: int = 0
    #: The practice that has replaced ``corrects`` since this correction was written (an accepted correction), if any:
    #: this one cannot be accepted any more, it would undo that one.
    superseded_by: str | None = None

    @property
    def empty(self) -> bool:
        return not self.removed and not self.added


def corrected_practice(rdf: str, practice: str) -> str | None:
    """The published practice a stored submission corrects (its prov:wasRevisionOf), or None."""
    if "wasRevisionOf" not in rdf:
        return None
    graph = Graph().parse(data=rdf, format="turtle")
    found = graph.value(URIRef(practice), PROV.wasRevisionOf)
    return str(found) if found is not None else None


def published_graph(known: Registry, practice: str) -> Graph:
    """The published practice and its own nodes (``practice#...``), from the release's source and contribution graphs."""
    own = f"{practice}#"
    lines = [f"{t} ." for t in known.by_subject.get(practice, ())]
    for subject, triples in known.by_subject.items():
        if subject.startswith(own):
            lines += [f"{t} ." for t in triples]
    graph = Graph()
    if lines:
        graph.parse(data="\n".join(lines), format="nt")
    return graph


def published_values(settings: Settings, practice: str) -> dict[str, list[str]]:
    """The form's values for a published practice's current version, to start a correction from (empty if there is no such practice).

    A practice that has been corrected is corrected from its correction (its current version), so that a
    second correction keeps what the first one changed.
    """
    known = registry(settings)
    seen = {practice}
    while (newer := known.replaced_by(practice)) is not None and newer not in seen:
        practice = newer
        seen.add(newer)
    if not known.is_practice(practice):
        return {}
    fields = practice_form.practice_fields(settings)
    values = practice_form.values_of(published_graph(known, practice), URIRef(practice), fields)
    values["corrects"] = [practice]
    return values


class Labeller:
    """Labels for the values a practice refers to: the registry's names, the vocabularies' concepts, else the compact IRI."""

    def __init__(self, settings: Settings, known: Registry, *extra: Graph):
        self.known, self.ontology, self.extra = known, load_ontology(settings), extra

    def __call__(self, term) -> str:
        if isinstance(term, Literal):
            return str(term)
        for t in self.known.by_subject.get(str(term), ()):
            if t.predicate.value in _LABELS:
                return t.object.value
        for graph in (*self.extra, self.ontology):
            for predicate in (SKOS.prefLabel, RDFS.label):
                found = [o for o in graph.objects(term, predicate) if isinstance(o, Literal)]
                if found:
                    return str(next((o for o in found if o.language in ("en", None)), found[0]))
        return compact(term)


def statements(graph: Graph, practice: URIRef, fields: list, label) -> set[Statement]:
    """What ``graph`` says about ``practice`` in the form's fields, as readable statements."""
    found: set[Statement] = set()
    for entry in fields:
        path = URIRef(entry.path)
        if entry.kind == practice_form.PARTICIPANTS:
            for participation in graph.objects(practice, path):
                agents = sorted(graph.objects(participation, ICG.agent), key=str)
                roles = sorted(graph.objects(participation, ICG.role), key=str)
                value = " — ".join(filter(None, [", ".join(label(a) for a in agents), ", ".join(label(r) for r in roles)]))
                term = " ".join(t.n3() for t in (*agents, *roles))
                found.add(Statement(entry.label, value, term))
            continue
        for value in graph.objects(practice, path):
            found.add(Statement(entry.label, label(value), value.n3()))
    return found


def difference(settings: Settings, rdf: str, practice: str, corrects: str) -> Difference:
    """What the correction ``practice`` (stored as ``rdf``) removes from and adds to the published ``corrects``."""
    known = registry(settings)
    fields = practice_form.practice_fields(settings)
    proposed = Graph().parse(data=rdf, format="turtle")
    published = published_graph(known, corrects)
    label = Labeller(settings, known, proposed)
    before = statements(published, URIRef(corrects), fields, label)
    after = statements(proposed, URIRef(practice), fields, label)
    title = next((str(t) for t in published.objects(URIRef(corrects), DCTERMS.title)), corrects)
    order = {entry.label: index for index, entry in enumerate(fields)}
    ranked = lambda found: sorted(found, key=lambda s: (order.get(s.field, len(order)), s.value))  # noqa: E731
    newer = known.replaced_by(corrects)
    return Difference(corrects, title, ranked(before - after), ranked(after - before), len(before & after),
                      newer if newer != practice else None)


def superseded_by(settings: Settings, rdf: str, practice: str) -> str | None:
    """The practice that has replaced the one a stored correction names since it was written, or None (also for a new practice)."""
    corrects = corrected_practice(rdf, practice)
    if corrects is None:
        return None
    newer = registry(settings).replaced_by(corrects)
    return newer if newer != practice else None
