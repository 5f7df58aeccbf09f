"""The gate of an accept validates only the focus nodes a change can affect, and reports what the full gate would.

Each case is a contribution on the session's 1x release: the incremental gate
(`icgraph.contributions.gate`) and the full pySHACL gate on the whole new graph, as a build runs
it, must give the same issues (with labels and source lines), the same counts and verdict, and
the same sh:ValidationReport results. Valid contributions (new actors, published ones, several
levels, a correction) and invalid ones the full gate rejects; and a change that takes triples
away. Every shape of shapes/ is either analysed or falls back to all its targets.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter

import pyoxigraph as ox
import pytest
from rdflib import Graph, URIRef

from icgraph.config import Settings
from icgraph.contributions import checking, publication, submissions
from icgraph.contributions.accounts import User
from icgraph.contributions.gate import analyse, incremental_gate, previous_report, sparql_reads, targeted_shapes
from icgraph.namespaces import SH
from icgraph.release import current_release
from icgraph.validate import _path_text, compact, format_report, load_shapes, validate

from contribution_fixtures import TURTLE, contribution_site

PREFIXES = b"""@prefix icg: <https://w3id.org/icgraph/def#> .
@prefix dct: <http://purl.org/dc/terms/> .
@prefix skos: <http://www.w3.org/2004/02/skos/core#> .
@prefix org: <http://www.w3.org/ns/org#> .
@prefix prov: <http://www.w3.org/ns/prov#> .
@prefix principle: <https://w3id.org/icgraph/id/principle/> .
@prefix ptype: <https://w3id.org/icgraph/id/practice-type/> .
@prefix area: <https://w3id.org/icgraph/id/area/> .
@prefix target: <https://w3id.org/icgraph/id/target-group/> .
@prefix place: <https://w3id.org/icgraph/id/place/> .
@prefix actor: <https://w3id.org/icgraph/id/actor/> .
@prefix role: <https://w3id.org/icgraph/id/role/> .
@prefix level: <https://w3id.org/icgraph/id/level/> .
@prefix family: <https://w3id.org/icgraph/id/actor-family/> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
"""
#: The fixture's practice without its participants, to which each case adds its own.
PRACTICE = b"""
[] a icg:Practice ;
    dct:title "Neighbourhood language cafes in Paris"@en ;
    icg:purpose "Bring newcomers and long-time residents together to practise French."@en ;
    icg:principle principle:interaction ;
    icg:practiceType ptype:project ;
    icg:areaOfIntervention area:education ;
    icg:targetGroup target:migrants ;
    icg:country place:fr ;
    icg:implementedIn place:fr-paris ;
    icg:startYear "2023"^^xsd:gYear ;
"""
BILBAO = "https://w3id.org/icgraph/id/practice/bilbao-intersectional-board-on-female-genital-mutilation-prevention"

#: name -> (the submitted Turtle, the violations' shapes the full gate finds).
CASES = {
    "new practice with a published actor": (TURTLE, set()),
    # New actors at the national and regional level (one the other's child), and an actor the previous
    # release reports as referenced by nothing (its Info goes away): a multilevel practice.
    "new actors at several levels and an unreferenced one": (PREFIXES + PRACTICE + b"""
    icg:hasParticipation [ icg:agent actor:gate-ministry ; icg:role role:lead ] ,
        [ icg:agent actor:gate-agency ; icg:role role:implementer ] ,
        [ icg:agent actor:bbc ; icg:role role:partner ] .
    actor:gate-ministry a icg:NationalAuthority ; skos:prefLabel "Gate test ministry of languages"@en ;
        icg:governanceLevel level:national ; icg:actorFamily family:national-government ; icg:country place:fr .
    actor:gate-agency a icg:RegionalAuthority ; skos:prefLabel "Gate test regional language agency"@en ;
        icg:governanceLevel level:regional ; icg:actorFamily family:regional-government ; icg:country place:fr ;
        org:subOrganizationOf actor:gate-ministry .
    """, set()),
    "a correction of a published practice": (PREFIXES + PRACTICE.replace(b"[] a icg:Practice ;", f"[] a icg:Practice ; prov:wasRevisionOf <{BILBAO}> ;".encode()) + b"""
    icg:hasParticipation [ icg:agent actor:municipality-paris ; icg:role role:lead ] .
    """, set()),
    # What the form lets through but the whole graph refutes: a new actor with the name and level of a
    # published one, an actor of two disjoint kinds, a parent that is a place.
    "a twin, two kinds and a place for a parent": (PREFIXES + PRACTICE + b"""
    icg:hasParticipation [ icg:agent actor:gate-twin ; icg:role role:lead ] , [ icg:agent actor:gate-two-kinds ; icg:role role:partner ] .
    actor:gate-twin a icg:LocalAuthority ; skos:prefLabel "City of Paris"@en ; icg:governanceLevel level:local ;
        icg:actorFamily family:local-government ; icg:country place:fr .
    actor:gate-two-kinds a icg:LocalAuthority , icg:CivilSocietyOrganisation ; skos:prefLabel "Gate test two kinds"@en ;
        icg:governanceLevel level:local ; icg:actorFamily family:local-government ; icg:country place:fr ;
        org:subOrganizationOf place:fr-paris .
    """, {"icgsh:ActorUniqueNameAndLevel", "icgsh:ActorKind", "icgsh:ActorParent"}),
    # No principle, an area for a target group, a place outside the practice's country, two new actors each
    # the other's parent, and funding for an organisation that does not take part.
    "no principle, a foreign place, a parent cycle, funding elsewhere": (PREFIXES + PRACTICE.replace(b"icg:principle principle:interaction ;", b"").replace(
        b"icg:targetGroup target:migrants ;", b"icg:targetGroup area:education ;").replace(
        b"icg:implementedIn place:fr-paris ;", b"icg:implementedIn place:fr-paris , place:es-aranjuez ;") + b"""
    icg:qualifiedFunding [ a icg:Funding ; icg:funder actor:eea-grants ; icg:recipient actor:save-the-children ] ;
    icg:hasParticipation [ icg:agent actor:gate-one ; icg:role role:lead ] , [ icg:agent actor:gate-other ; icg:role role:partner ] .
    actor:gate-one a icg:CivilSocietyOrganisation ; skos:prefLabel "Gate test one"@en ; icg:governanceLevel level:local ;
        icg:actorFamily family:civil-society ; icg:country place:fr ; org:subOrganizationOf actor:gate-other .
    actor:gate-other a icg:CivilSocietyOrganisation ; skos:prefLabel "Gate test other"@en ; icg:governanceLevel level:local ;
        icg:actorFamily family:civil-society ; icg:country place:fr ; org:subOrganizationOf actor:gate-one .
    """, {"icgsh:PracticePrinciple", "icgsh:PracticeTargetGroupScheme", "icgsh:ImplementedInFiledCountry", "icgsh:ActorNotOwnAncestor", "icgsh:FundingRecipientTakesPart"}),
}


@pytest.fixture(scope="module")
def site(built, tmp_path_factory):
    return contribution_site(built, tmp_path_factory.mktemp("gate"))


def _change(settings: Settings, body: bytes, number: int) -> publication.Change:
    """The change accepting ``body`` would make, whatever checking it says (the gate must judge it on its own)."""
    check = checking.check(settings, checking.parse(body, "text/turtle"), f"g{number}")
    submission = type("Submission", (), dict(
        id=f"g{number}", rdf=checking.turtle(check.graph), practice=str(check.practice), owner="carla", title=check.title,
        created="2026-12-05T00:00:00+00:00"))
    graph = publication.contribution_triples(submission, User("rui", "reviewer"), "2026-12-05T00:00:00+00:00")
    return publication.planned_change(settings, current_release(settings.store, settings.build_dir), graph)


def _full(settings: Settings, added: list[ox.Quad], removed: list[ox.Quad]):
    """The full gate on the whole new graph, as a build runs it."""
    previous = current_release(settings.store, settings.build_dir)
    gone = set(removed)
    quads = [q for q in publication._store_quads(previous) + added if q not in gone]
    return validate(publication._shape_data(quads), settings, inplace=True)


def _results(report: Graph) -> Counter:
    """A report's results as (focus, path, value, source shape, severity, messages)."""
    return Counter(
        (compact(report.value(r, SH.focusNode)), _path_text(report, report.value(r, SH.resultPath)), report.value(r, SH.value),
         compact(report.value(r, SH.sourceShape)), report.value(r, SH.resultSeverity),
         frozenset(str(m) for m in report.objects(r, SH.resultMessage)))  # a SPARQL constraint's result has two
        for r in report.objects(None, SH.result)
    )


def _assert_same(incremental, full) -> None:
    assert Counter(repr(i.as_dict()) for i in incremental.issues) == Counter(repr(i.as_dict()) for i in full.issues)
    assert [i.as_dict() for i in incremental.issues] == [i.as_dict() for i in full.issues]  # in report order
    assert (incremental.conforms, incremental.counts, incremental.triples) == (full.conforms, full.counts, full.triples)
    # The report as the release keeps it (report/shacl.ttl), read back.
    written = Graph().parse(data=format_report(incremental, "ttl"), format="turtle")
    assert _results(written) == _results(full.report_graph) == _results(incremental.report_graph)
    assert [c.toPython() for c in written.objects(None, SH.conforms)] == [full.conforms]


@pytest.mark.parametrize("name", list(CASES))
def test_the_incremental_gate_reports_what_the_full_gate_reports(site, name):
    settings = site.settings
    body, violating = CASES[name]
    change = _change(settings, body, list(CASES).index(name))
    previous = current_release(settings.store, settings.build_dir)
    gate = incremental_gate(previous.store, previous_report(previous.path), change.added, change.removed, settings)
    full = _full(settings, change.added, change.removed)
    _assert_same(gate.result, full)
    assert {i.shape for i in full.violations} == violating
    assert gate.fallback == [] and gate.gained >= len(change.new_contributions)
    # It validated the contribution's neighbourhood, not the graph: a few dozen focus nodes at most.
    assert 0 < sum(len(nodes) for nodes in gate.validated.values()) < 200


def test_a_published_actor_a_contribution_refers_to_loses_its_unreferenced_info(site):
    settings = site.settings
    change = _change(settings, CASES["new actors at several levels and an unreferenced one"][0], 1)
    previous = current_release(settings.store, settings.build_dir)
    gate = incremental_gate(previous.store, previous_report(previous.path), change.added, change.removed, settings)
    after = {(i.shape, i.focus_node) for i in gate.result.issues}
    before = {(i["shape"], i["focus_node"]) for i in json.loads((previous.path / "report" / "shacl.json").read_text())["issues"]}
    assert ("icgsh:ActorUnreferenced", "actor:bbc") in before and ("icgsh:ActorUnreferenced", "actor:bbc") not in after
    unreferenced = URIRef("https://w3id.org/icgraph/shapes#ActorUnreferenced")
    bbc = URIRef("https://w3id.org/icgraph/id/actor/bbc")
    assert bbc in gate.affected[unreferenced] and bbc not in gate.validated.get(unreferenced, ())  # no longer a target


def test_a_change_that_takes_triples_away_is_gated_as_the_full_gate_would(site):
    """Quads taken out of the previous store (an agent, a title, an inferred type): the same report as the full gate's."""
    settings = site.settings
    previous = current_release(settings.store, settings.build_dir)
    store = ox.Store.read_only(str(previous.store))
    paris = ox.NamedNode("https://w3id.org/icgraph/id/actor/municipality-paris")
    agent, title = ox.NamedNode("https://w3id.org/icgraph/def#agent"), ox.NamedNode("http://purl.org/dc/terms/title")
    removed = [next(q for q in store.quads_for_pattern(None, agent, paris, None) if q.graph_name != ox.DefaultGraph())]
    removed += [q for q in store.quads_for_pattern(ox.NamedNode(BILBAO), title, None, None) if q.graph_name != ox.DefaultGraph()]
    inferred = ox.NamedNode("https://w3id.org/icgraph/graph/inferred")
    removed += list(store.quads_for_pattern(None, ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type"),
                                            ox.NamedNode("https://w3id.org/icgraph/def#MultilevelPractice"), inferred))[:1]
    del store
    gate = incremental_gate(previous.store, previous_report(previous.path), [], removed, settings)
    full = _full(settings, [], removed)
    _assert_same(gate.result, full)
    assert gate.lost == len(removed) and not full.conforms


def test_every_targeted_shape_is_analysed_or_falls_back():
    shapes = load_shapes()
    analysis = analyse(shapes)
    assert set(analysis.reads) | set(analysis.fallback) == targeted_shapes(shapes)
    # Today every shape is analysed: a shape that falls back shows up here, to be looked at (its accepts
    # validate all its targets) and listed.
    assert analysis.fallback == {}
    for shape, reads in analysis.reads.items():
        assert reads, f"{shape} reads nothing: then no change could alter its results, which is never so"


def test_a_shape_with_a_construct_the_analysis_does_not_know_validates_all_its_targets(site, tmp_path):
    """A shape with an unknown parameter falls back: the gate validates all its targets, and still equals the full gate."""
    project = Settings().project_dir
    (tmp_path / "ontology").symlink_to(project / "ontology")
    shapes_dir = tmp_path / "shapes"
    shutil.copytree(project / "shapes", shapes_dir)
    text = (shapes_dir / "warnings.ttl").read_text(encoding="utf-8")
    marked = text.replace("icgsh:PracticeDuration\n    a sh:PropertyShape ;", "icgsh:PracticeDuration\n    a sh:PropertyShape ;\n    icgsh:reviewedBy \"nobody\" ;")
    assert marked != text
    (shapes_dir / "warnings.ttl").write_text(marked, encoding="utf-8")
    settings = Settings(project_dir=tmp_path, store=site.settings.store, build_dir=site.settings.build_dir, state_dir=site.settings.state_dir)
    duration = URIRef("https://w3id.org/icgraph/shapes#PracticeDuration")
    assert "reviewedBy" in analyse(load_shapes(settings)).fallback[duration]
    change = _change(site.settings, TURTLE, 9)
    previous = current_release(settings.store, settings.build_dir)
    gate = incremental_gate(previous.store, previous_report(previous.path), change.added, change.removed, settings)
    assert gate.fallback == [duration] and duration not in gate.validated
    _assert_same(gate.result, _full(settings, change.added, change.removed))


def test_sparql_patterns_are_read_from_this_along_variables():
    from rdflib.plugins.sparql import prepareQuery

    joined = prepareQuery("SELECT $this WHERE { $this <urn:p> ?x . ?y <urn:q> ?x . ?y <urn:r> ?z }")
    def shown(path):
        return tuple((tuple(sorted(options, key=str)), repeats) for options, repeats in path)

    p, q, r = (URIRef(f"urn:{n}") for n in "pqr")
    step = lambda predicate, backwards=False: (((predicate, backwards),), False)  # noqa: E731
    assert {shown(path) for path in sparql_reads(joined)} == {
        (step(p),), (step(p), step(q, True)), (step(p), step(q, True), step(r)),
    }
    loose = prepareQuery("SELECT $this WHERE { $this <urn:p> ?x . ?y <urn:q> <urn:c> }")
    with pytest.raises(Exception, match="not joined to \\$this"):
        sparql_reads(loose)


def test_an_accept_the_gate_refuses_publishes_nothing_and_says_why(built, tmp_path):
    """A new actor named and levelled like a published one passes the check with its neighbourhood, not the gate."""
    site = contribution_site(built, tmp_path)
    body = PREFIXES + PRACTICE + b"""
    icg:hasParticipation [ icg:agent actor:gate-twin ; icg:role role:lead ] .
    actor:gate-twin a icg:LocalAuthority ; skos:prefLabel "City of Paris"@en ; icg:governanceLevel level:local ;
        icg:actorFamily family:local-government ; icg:country place:fr .
    """
    settings = site.settings
    carla, rui = User("carla", "contributor"), User("rui", "reviewer")
    submission_id = submissions.new_id()
    check = checking.check(settings, checking.parse(body, "text/turtle"), submission_id)
    assert check.conforms, check.issues
    submissions.create(settings.state_dir, carla, submission_id, check)
    before = current_release(settings.store, settings.build_dir)
    with pytest.raises(publication.PublicationError) as refused:
        publication.accept(settings, submission_id, rui)
    # Both actors of the same name and level are named: the published one and the new one.
    assert "the SHACL gate found 2 violation(s)" in str(refused.value) and "actor:municipality-paris" in str(refused.value)
    assert "nothing was published" in str(refused.value)
    assert current_release(settings.store, settings.build_dir).id == before.id
    assert submissions.get(settings.state_dir, submission_id).state == "submitted"
    assert submissions.history(settings.state_dir, submission_id)[-1].action == "accept failed"
    assert not [p for p in before.path.parent.iterdir() if p.name != before.id and not p.name.startswith(".")]
