"""Likely duplicates of a submission among what is published: a reviewer's hints, never a verdict.

Three signs, each shown with what it rests on:

- **title**: a published practice whose English title is like the submission's (rapidfuzz's
  token-set ratio, so word order and an added city name count little);
- **shared actors**: a published practice with the same actors, or most of them (at least half of
  the actors of either practice, and at least two unless both have only one);
- **actor name**: an actor the submission proposes as new (``actor:...`` not in the registry) whose
  name is like that of an actor the registry has (rapidfuzz's WRatio on case-folded names).

A correction is not its own duplicate: the practice it corrects, and other corrections of it, are
left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rapidfuzz import fuzz, process, utils
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, PROV, SKOS

from icgraph.config import Settings
from icgraph.contributions.checking import Registry, registry
from icgraph.namespaces import ACTOR, ICG

#: How alike (0-100) a title, or a proposed actor's name, must be to be shown.
TITLE_SCORE = 70.0
NAME_SCORE = 85.0


@dataclass(frozen=True)
class SharedActors:
    practice: str
    title: str
    shared: tuple[str, ...]  #: the actors both have (IRIs)
    mine: int  #: how many actors the submission has
    theirs: int  #: how many the published practice has


@dataclass(frozen=True)
class ActorLike:
    proposed: str  #: the proposed actor's IRI
    proposed_name: str
    actor: str  #: the registry's actor
    name: str
    score: float


@dataclass
class Duplicates:
    by_title: list[tuple[str, str, float]] = field(default_factory=list)  #: (practice, title, similarity 0-1)
    by_actors: list[SharedActors] = field(default_factory=list)
    actor_names: list[ActorLike] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.by_title or self.by_actors or self.actor_names)


#: The last registry's actors by practice: (registry, index), made once per release.
_index: list[tuple[Registry, dict[str, frozenset[str]]]] = []


def _actors_by_practice(known: Registry) -> dict[str, frozenset[str]]:
    """Published practice -> the registry actors (actor:...) taking part in it."""
    if _index and _index[0][0] is known:
        return _index[0][1]
    found: dict[str, set[str]] = {}
    agent, practice = str(ICG.agent), str(ICG.practice)
    for triples in known.by_subject.values():
        agents = [t.object.value for t in triples if t.predicate.value == agent and t.object.value.startswith(str(ACTOR))]
        if agents:
            for t in triples:
                if t.predicate.value == practice:
                    found.setdefault(t.object.value, set()).update(agents)
    index = {p: frozenset(a) for p, a in found.items()}
    _index[:] = [(known, index)]
    return index


def _related(known: Registry, corrects: str | None) -> set[str]:
    """The practice a correction corrects and the published corrections of it."""
    if not corrects:
        return set()
    revision_of = str(PROV.wasRevisionOf)
    return {corrects} | {s for s, triples in known.by_subject.items()
                         if any(t.predicate.value == revision_of and t.object.value == corrects for t in triples)}


def likely_duplicates(settings: Settings, rdf: str, practice: str, corrects: str | None = None, limit: int = 5) -> Duplicates:
    """What the published graph holds that looks like the submission (stored as ``rdf``, its practice ``practice``)."""
    known = registry(settings)
    graph = Graph().parse(data=rdf, format="turtle") if rdf else Graph()
    me = URIRef(practice)
    skip = _related(known, corrects) | {practice}
    titles = {iri: title for iri, title in known.titles().items() if iri not in skip}
    found = Duplicates()

    title = next((str(t) for t in graph.objects(me, DCTERMS.title) if isinstance(t, Literal)), "")
    if title:
        for other, score, iri in process.extract(title, titles, scorer=fuzz.token_set_ratio, processor=utils.default_process,
                                                 limit=limit, score_cutoff=TITLE_SCORE):
            found.by_title.append((iri, other, round(score / 100, 2)))

    mine = {str(a) for p in graph.objects(me, ICG.hasParticipation) for a in graph.objects(p, ICG.agent)
            if str(a).startswith(str(ACTOR))}
    if mine:
        rows = []
        for other, theirs in _actors_by_practice(known).items():
            if other in skip or other not in titles:
                continue
            shared = mine & theirs
            enough = len(shared) >= 2 or (len(mine) == 1 and len(theirs) == 1)
            if shared and enough and 2 * len(shared) >= min(len(mine), len(theirs)):
                rows.append(SharedActors(other, titles[other], tuple(sorted(shared)), len(mine), len(theirs)))
        rows.sort(key=lambda r: (-len(r.shared), r.theirs, r.title))
        found.by_actors = rows[:limit]

    proposed = {str(s): str(name) for s, name in graph.subject_objects(SKOS.prefLabel)
                if str(s).startswith(str(ACTOR)) and not known.has(str(s))}
    if proposed:
        names = known.labels(str(ACTOR))
        for iri, name in sorted(proposed.items()):
            for other, score, actor in process.extract(name, names, scorer=fuzz.WRatio, processor=utils.default_process,
                                                       limit=3, score_cutoff=NAME_SCORE):
                found.actor_names.append(ActorLike(iri, name, actor, other, round(score / 100, 2)))
    return found
