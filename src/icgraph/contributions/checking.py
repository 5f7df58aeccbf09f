"""Check a submitted practice against shapes/ at once: with its neighbourhood, not the whole graph.

A submission is one practice (a node typed icg:Practice), in Turtle or in JSON-LD under the
project's context (ontology/context.jsonld: its ``common``, ``sources`` and ``practices``
terms). It may describe the practice, the practice's own nodes (``practice:SLUG#...`` or blank
nodes, which get such names) and actors it proposes as new (``actor:...`` IRIs the registry does
not have); nothing else, so a contribution cannot rewrite what others published.

A **correction** names the published practice it corrects (``prov:wasRevisionOf <practice:x>``,
or the submission names its practice ``practice:x`` itself). It is a practice of its own,
``practice:x-correction-ID``, checked like any other; on acceptance graph:contributions holds
it with ``prov:wasRevisionOf practice:x`` and ``practice:x dct:isReplacedBy`` it, and the
graphs derived from the source documents are left as they are (docs/design.md, "Contributions").

The neighbourhood is what the shapes read beyond the submission: the actors, places and
concepts it refers to, and what those refer to in turn, read from the current release's
per-graph files (``graphs/*.nt``). The ontology and vocabularies come in with the shapes run
(`icgraph.validate`). Only results about the submission's own nodes are reported: the rest of
the graph passed the full gate of its release, which runs again before a release is published.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import pyoxigraph as ox
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, PROV, RDF, XSD

from icgraph.config import Settings
from icgraph.mapping import context as contexts
from icgraph.namespaces import ACTOR, ICG, ID, PRACTICE, PREFIXES, compact
from icgraph.release import Release, current_release
from icgraph.slugs import slugify
from icgraph.validate import validate

#: The graphs of a release a neighbourhood is read from (graph:inferred adds nothing the shapes
#: need about an actor or a place, and is most of the triples).
NEIGHBOURHOOD_GRAPHS = ("compendium", "curation", "meeting-report", "contributions")
#: How far from the submission the neighbourhood reaches (practice -> place -> region -> country ...).
NEIGHBOURHOOD_DEPTH = 4
#: Properties icgraph sets on a contributed practice itself: a contributor may not.
RESERVED = (PROV.wasDerivedFrom, PROV.qualifiedDerivation, PROV.wasGeneratedBy, PROV.wasAttributedTo)
#: Media types a submission may come in.
TURTLE = "text/turtle"
JSON_LD = "application/ld+json"


class SubmissionError(ValueError):
    """A submission that cannot be read at all (400); the message says where and why."""


@dataclass
class Check:
    """What checking a submission found."""

    practice: URIRef
    title: str
    graph: Graph  #: the submission as it will be published (without the review's provenance)
    issues: list[dict] = field(default_factory=list)
    corrects: URIRef | None = None  #: the published practice this one corrects, if it is a correction

    @property
    def conforms(self) -> bool:
        return not any(issue["severity"] == "Violation" for issue in self.issues)

    def report(self) -> dict:
        return {"conforms": self.conforms, "results": self.issues}


def submission_iri(submission_id: str) -> URIRef:
    return ID[f"submission/{submission_id}"]


def account_iri(name: str) -> URIRef:
    return ID[f"account/{name}"]


# --------------------------------------------------------------------------- reading


def submission_context() -> list[dict]:
    """The project's context for a submitted practice: prefixes, then the common, source and practice terms."""
    document = contexts._document()
    return [{**PREFIXES, "@vocab": document["curationVocab"]}, document["common"], document["sources"], document["practices"]]


def parse(body: bytes, media_type: str) -> Graph:
    """The submitted RDF as a graph; SubmissionError says why it cannot be read."""
    media_type = (media_type or "").split(";", 1)[0].strip().lower()
    graph = Graph()
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise SubmissionError(f"the body is not UTF-8 text (byte {error.start}); send it encoded in UTF-8") from None
    if media_type == TURTLE:
        try:
            graph.parse(data=text, format="turtle", publicID=str(PRACTICE))
        except Exception as error:  # rdflib raises several kinds; all mean "not Turtle"
            raise SubmissionError(f"the Turtle does not parse: {error}") from None
    elif media_type in (JSON_LD, "application/json"):
        try:
            document = json.loads(text)
        except json.JSONDecodeError as error:
            raise SubmissionError(f"the JSON does not parse: line {error.lineno}, column {error.colno}: {error.msg}") from None
        if not isinstance(document, dict):
            raise SubmissionError("send one JSON object, the practice (with @type icg:Practice)")
        if "@context" not in document:
            document = {"@context": submission_context(), **document}
        try:
            graph.parse(data=json.dumps(document), format="json-ld", base=str(PRACTICE))
        except Exception as error:
            raise SubmissionError(f"the JSON-LD cannot be read: {error}") from None
    else:
        raise SubmissionError(f"send the practice as {TURTLE} or {JSON_LD}, not {media_type or 'an unnamed type'}")
    for prefix, iri in PREFIXES.items():
        graph.bind(prefix, iri, override=True)
    return graph


# --------------------------------------------------------------------------- the release's registry


@dataclass
class Registry:
    """The triples of a release's source and contribution graphs, by subject (N-Triples text)."""

    release_id: str | None
    by_subject: dict[str, list[ox.Triple]]

    def has(self, iri: str) -> bool:
        return iri in self.by_subject

    def is_practice(self, iri: str) -> bool:
        return any(t.predicate.value == str(RDF.type) and t.object.value == str(ICG.Practice) for t in self.by_subject.get(iri, ()))

    def replaced_by(self, iri: str) -> str | None:
        """The practice that replaces ``iri`` (its accepted correction: ``dct:isReplacedBy``), or None if it is current."""
        replaced = str(DCTERMS.isReplacedBy)
        return next((t.object.value for t in self.by_subject.get(iri, ()) if t.predicate.value == replaced), None)

    def titles(self) -> dict[str, str]:
        """Every practice's English title, by practice IRI."""
        found = {}
        for subject, triples in self.by_subject.items():
            for t in triples:
                if t.predicate.value == str(DCTERMS.title) and isinstance(t.object, ox.Literal) and subject.startswith(str(PRACTICE)):
                    found[subject] = t.object.value
        return found

    def labels(self, kind_namespace: str) -> dict[str, str]:
        """skos:prefLabel of the subjects in a namespace (actors, places), by IRI."""
        found = {}
        for subject, triples in self.by_subject.items():
            if subject.startswith(kind_namespace):
                for t in triples:
                    if t.predicate.value == "http://www.w3.org/2004/02/skos/core#prefLabel":
                        found.setdefault(subject, t.object.value)
        return found

    def neighbourhood(self, graph: Graph) -> Graph:
        """The registry's triples about what ``graph`` refers to, and so on up to NEIGHBOURHOOD_DEPTH steps."""
        seen: set[str] = set()
        frontier = {str(o) for o in graph.objects() if isinstance(o, URIRef)}
        triples: list[ox.Triple] = []
        for _ in range(NEIGHBOURHOOD_DEPTH):
            following = set()
            for iri in frontier - seen:
                seen.add(iri)
                for t in self.by_subject.get(iri, ()):
                    triples.append(t)
                    if isinstance(t.object, ox.NamedNode) and not iri.startswith(str(PRACTICE)):
                        following.add(t.object.value)
            frontier = following
        found = Graph()
        if triples:
            found.parse(data="\n".join(f"{t} ." for t in triples), format="nt")
        return found


@lru_cache(maxsize=2)
def _registry_of(release_path: str) -> Registry:
    release = Release(Path(release_path))
    by_subject: dict[str, list[ox.Triple]] = {}
    for name in NEIGHBOURHOOD_GRAPHS:
        path = release.path / "graphs" / f"{name}.nt"
        if not path.is_file():
            continue
        for triple in ox.parse(path=str(path), format=ox.RdfFormat.N_TRIPLES):
            key = triple.subject.value if isinstance(triple.subject, ox.NamedNode) else str(triple.subject)
            by_subject.setdefault(key, []).append(triple)
    return Registry(release.id, by_subject)


def registry(settings: Settings) -> Registry:
    """The current release's registry (read once per release)."""
    release = current_release(settings.store, settings.build_dir)
    if release is None:
        return Registry(None, {})
    return _registry_of(str(release.path))


# --------------------------------------------------------------------------- checking


def check(settings: Settings, submitted: Graph, submission_id: str, practice: URIRef | None = None, lines: int = 1) -> Check:
    """The submission named, completed and checked against the shapes with its neighbourhood.

    ``practice`` is the IRI the submission had before (an edit keeps it); a new one gets a
    practice IRI made from its title and the submission id. ``lines``: how many lines the
    submitted document has (the derivation cites them, as a source practice cites its lines).
    """
    known = registry(settings)
    issues: list[dict] = []
    practices = sorted(set(submitted.subjects(RDF.type, ICG.Practice)), key=str)
    if len(practices) != 1:
        issues.append(_issue(None, None, f"Describe exactly one practice (one node with @type icg:Practice); this has {len(practices)}."))
        return Check(practice or PRACTICE[f"draft-{submission_id}"], "", submitted, issues)
    given = practices[0]
    title = str(next((t for t in submitted.objects(given, DCTERMS.title) if isinstance(t, Literal)), ""))
    corrects, problems = _corrected(submitted, given, practice, known, submission_id)
    issues += problems
    if isinstance(given, URIRef) and given != corrects:
        if not str(given).startswith(str(PRACTICE)) or "#" in given:
            issues.append(_issue(None, compact(given), f"Name the practice in the practice namespace ({PRACTICE}SLUG), or leave it without a name."))
        elif known.has(str(given)) and given != practice:
            issues.append(_issue(None, compact(given), "This practice is published already; to correct it, say so with "
                                 "prov:wasRevisionOf and leave the correction without a name."))
        named = given
    elif corrects is not None:
        named = practice or correction_iri(corrects, submission_id)
    else:
        named = practice or PRACTICE[f"{slugify(title or 'practice', 6) or 'practice'}-{submission_id}"]
    graph = _named(submitted, given, named, corrects)
    issues += _boundaries(graph, named, known)
    _complete(graph, named, submission_id, lines, corrects)
    if any(i["severity"] == "Violation" for i in issues):
        return Check(named, title, graph, issues, corrects)
    data = Graph()
    data += graph
    data += known.neighbourhood(graph)
    own = set(graph.subjects()) - {corrects}
    result = validate(data, settings, inplace=True)
    for found in result.issues:
        if _expand(found.focus_node) in own:
            issues.append({"severity": found.severity, "focus": found.focus_node, "path": found.path, "value": found.value,
                           "message": found.message, "shape": found.shape})
    return Check(named, title, graph, issues, corrects)


def correction_iri(corrects: URIRef, submission_id: str) -> URIRef:
    """The IRI of the corrected version of ``corrects`` that a submission proposes."""
    return URIRef(f"{corrects}-correction-{submission_id}")


def _corrected(submitted: Graph, given, practice: URIRef | None, known: Registry, submission_id: str) -> tuple[URIRef | None, list[dict]]:
    """The published practice a submission corrects (None for a new practice), and what is wrong with how it says so."""
    named = set(submitted.objects(given, PROV.wasRevisionOf))
    if isinstance(given, URIRef) and given != practice and known.is_practice(str(given)):
        named.add(given)  # the submission names the published practice itself: a correction of it
    suffix = f"-correction-{submission_id}"
    if not named and practice is not None and str(practice).endswith(suffix) and known.is_practice(str(practice)[: -len(suffix)]):
        named.add(URIRef(str(practice)[: -len(suffix)]))  # a new version of a correction stays one
    if not named:
        return None, []
    if len(named) > 1:
        return None, [_issue("prov:wasRevisionOf", None, f"Correct one published practice at a time; this names {len(named)}.")]
    target = next(iter(named))
    if not isinstance(target, URIRef) or not known.is_practice(str(target)):
        shown = compact(target) if isinstance(target, URIRef) else str(target)
        return None, [_issue("prov:wasRevisionOf", shown, f"Name a published practice (practice:SLUG, as on its page) as the one this corrects; {shown} is none.")]
    newer = known.replaced_by(str(target))
    if newer is not None and newer != str(practice):
        return None, [_issue("prov:wasRevisionOf", compact(target), superseded_message(target, newer))]
    return target, []


def superseded_message(corrects, newer) -> str:
    """What to do when the practice a correction names has been corrected since (its correction would undo that one)."""
    return (f"{compact(URIRef(corrects))} has been corrected already: its current version is {compact(URIRef(newer))}. "
            "Propose your correction from that version's page (\"Propose a correction\"), so that it keeps what the "
            "accepted correction changed.")


def _issue(path: str | None, value: str | None, message: str, severity: str = "Violation") -> dict:
    return {"severity": severity, "focus": None, "path": path, "value": value, "message": message, "shape": None}


def _expand(curie: str):
    from icgraph.namespaces import expand

    text = expand(curie)
    if text.startswith("_:"):
        return BNode(text[2:])
    return URIRef(text)


def _named(graph: Graph, given, named: URIRef, corrects: URIRef | None = None) -> Graph:
    """The graph with the practice named ``named`` and every blank node a ``named#n-K`` node of it.

    A correction may be written from the published practice's own description: ``corrects``
    becomes ``named``, and the nodes of ``corrects`` the submission describes (``corrects#p-1``)
    become the correction's (``named#p-1``). Those it only refers to (a generic actor group of
    the published practice, ``corrects#group-...``) stay what they are.
    """
    blanks: dict[BNode, URIRef] = {}
    own_nodes = f"{corrects}#" if corrects is not None else None
    described = set(graph.subjects())

    def name(term):
        if term == given:
            return named
        if isinstance(term, BNode):
            return blanks.setdefault(term, URIRef(f"{named}#n-{len(blanks) + 1}"))
        if own_nodes and term in described and str(term).startswith(own_nodes):
            return URIRef(f"{named}#{str(term)[len(own_nodes):]}")
        return term

    result = Graph()
    for prefix, iri in PREFIXES.items():
        result.bind(prefix, iri, override=True)
    for s, p, o in sorted(graph, key=lambda t: (str(t[0]), str(t[1]), str(t[2]))):
        if corrects is not None and s == corrects and p == DCTERMS.isReplacedBy:
            continue  # what icgraph states about the corrected practice (`_complete`), as a stored version shows it
        result.add((name(s), p, o if p == PROV.wasRevisionOf else name(o)))
    return result


def _boundaries(graph: Graph, practice: URIRef, known: Registry) -> list[dict]:
    """What a submission may not say: about published things other than its own, or icgraph's provenance."""
    issues = []
    for subject in sorted(set(graph.subjects()), key=str):
        text = str(subject)
        own = subject == practice or text.startswith(f"{practice}#")
        new_actor = text.startswith(str(ACTOR)) and not known.has(text)
        if not (own or new_actor):
            issues.append(_issue(None, compact(subject), f"Describe only the practice, its own parts ({compact(practice)}#...) and new actors (actor:... not in the registry); {compact(subject)} is published already or outside them."))
    for term in sorted({t for triple in graph for t in triple if isinstance(t, URIRef)}, key=str):
        if not str(term).startswith(("http://", "https://")):
            prefix = str(term).split(":", 1)[0]
            hint = f" ({PREFIXES[prefix]}{str(term).split(':', 1)[1]})" if prefix in PREFIXES else ""
            issues.append(_issue(None, str(term), f"Write {term} as a full IRI{hint}: in the project's JSON-LD context "
                                 f"'{prefix}' is a term, not a prefix, or it is no prefix at all."))
    for predicate in RESERVED:
        if (practice, predicate, None) in graph:
            issues.append(_issue(compact(predicate), None, f"Leave out {compact(predicate)}: icgraph sets it to the submission and its review."))
    return issues


def _complete(graph: Graph, practice: URIRef, submission_id: str, lines: int, corrects: URIRef | None = None) -> None:
    """Add what a submission implies: its participations' type and practice, its derivation from the submission,
    and, for a correction, the link both ways between the published practice and its corrected version."""
    if corrects is not None:
        graph.add((practice, PROV.wasRevisionOf, corrects))
        graph.add((corrects, DCTERMS.isReplacedBy, practice))
    for participation in list(graph.objects(practice, ICG.hasParticipation)):
        graph.add((participation, RDF.type, ICG.Participation))
        graph.add((participation, ICG.practice, practice))
    submission = submission_iri(submission_id)
    derivation = URIRef(f"{practice}#submission")
    graph.add((practice, PROV.wasDerivedFrom, submission))
    graph.add((practice, PROV.qualifiedDerivation, derivation))
    graph.add((derivation, RDF.type, PROV.Derivation))
    graph.add((derivation, PROV.entity, submission))
    graph.add((derivation, ICG.startLine, Literal(1, datatype=XSD.integer)))
    graph.add((derivation, ICG.endLine, Literal(max(1, lines), datatype=XSD.integer)))


def turtle(graph: Graph) -> str:
    """The submission as it is stored and shown: Turtle with the project's prefixes."""
    return graph.serialize(format="turtle")
