"""infer(): what the build writes to graph:inferred, checked on a small hand-made graph
(tests/fixtures/ontology/infer-data.ttl) and timed on a graph of realistic size."""

from __future__ import annotations

import time
from pathlib import Path

import owlrl
import pytest
from rdflib import Dataset, Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, FOAF, ORG, PROV, RDF, RDFS, SKOS, XSD

from icgraph.config import PROJECT_DIR
from icgraph.infer import infer
from icgraph.namespaces import ACTOR, CV, ICG, LEVEL, PARTNERSHIP, PRACTICE, ROLE, SCHEMA

FIXTURE = Path(__file__).parent / "fixtures" / "ontology" / "infer-data.ttl"
ALPHA, BETA = PRACTICE.alpha, PRACTICE.beta
TOWN, OTHER_TOWN, MINISTRY, REGION = ACTOR["town-council"], ACTOR["other-town"], ACTOR.ministry, ACTOR.region
NGOS = URIRef(str(ALPHA) + "#group-ngos")


@pytest.fixture(scope="module")
def data() -> Graph:
    return Graph().parse(FIXTURE)


@pytest.fixture(scope="module")
def inferred(data) -> Graph:
    return infer(data)


def _schema() -> Graph:
    graph = Graph().parse(PROJECT_DIR / "ontology" / "icgraph.ttl")
    for path in sorted((PROJECT_DIR / "ontology" / "vocabularies").glob("*.ttl")):
        graph.parse(path)
    return graph


# --- rules: levels, multilevel practices, cooperation --------------------------------


def test_practice_with_participants_at_two_levels_is_multilevel(inferred):
    assert (ALPHA, RDF.type, ICG.MultilevelPractice) in inferred
    assert (BETA, RDF.type, ICG.MultilevelPractice) not in inferred


def test_levels_spanned_and_counted(inferred):
    assert set(inferred.objects(ALPHA, ICG.spansLevel)) == {LEVEL.local, LEVEL.national}
    assert set(inferred.objects(BETA, ICG.spansLevel)) == {LEVEL.local}
    assert inferred.value(ALPHA, ICG.levelCount) == Literal(2, datatype=XSD.integer)
    assert inferred.value(BETA, ICG.levelCount) == Literal(1, datatype=XSD.integer)


def _edges(graph: Graph, via) -> set[tuple]:
    return {
        (
            graph.value(edge, ICG.fromAgent),
            graph.value(edge, ICG.toAgent),
            graph.value(edge, ICG.fromLevel),
            graph.value(edge, ICG.toLevel),
            graph.value(edge, ICG.crossesLevels).toPython(),
        )
        for edge in graph.subjects(ICG.viaPractice, via) or ()
    } | {
        (
            graph.value(edge, ICG.fromAgent),
            graph.value(edge, ICG.toAgent),
            graph.value(edge, ICG.fromLevel),
            graph.value(edge, ICG.toLevel),
            graph.value(edge, ICG.crossesLevels).toPython(),
        )
        for edge in graph.subjects(ICG.viaPartnership, via)
    }


def test_cooperation_edges_of_a_practice_record_both_levels_from_local_upwards(inferred):
    assert _edges(inferred, ALPHA) == {
        (TOWN, MINISTRY, LEVEL.local, LEVEL.national, True),
        (NGOS, MINISTRY, LEVEL.local, LEVEL.national, True),
        (TOWN, NGOS, LEVEL.local, LEVEL.local, False),
    }
    assert _edges(inferred, BETA) == {(OTHER_TOWN, TOWN, LEVEL.local, LEVEL.local, False)}


def test_cooperation_edges_hang_off_their_practice_and_are_typed(inferred):
    for edge in inferred.subjects(ICG.viaPractice, ALPHA):
        assert str(edge).startswith(str(ALPHA) + "#coop-")
        assert (edge, RDF.type, ICG.CooperationEdge) in inferred


def test_partners_of_a_partnership_cooperate(inferred):
    pact = PARTNERSHIP.pact
    assert _edges(inferred, pact) == {(TOWN, REGION, LEVEL.local, LEVEL.regional, True)}
    assert (TOWN, ICG.cooperatesWith, REGION) in inferred
    assert (REGION, ICG.cooperatesWith, TOWN) in inferred


def test_cooperates_with_is_symmetric_and_links_named_actors_only(inferred):
    assert set(inferred.objects(TOWN, ICG.cooperatesWith)) == {MINISTRY, OTHER_TOWN, REGION}
    assert set(inferred.objects(MINISTRY, ICG.cooperatesWith)) == {TOWN}
    assert not set(inferred.subjects(ICG.cooperatesWith, NGOS)) | set(inferred.objects(NGOS, ICG.cooperatesWith))


# --- closure under the ontology ------------------------------------------------------


def test_type_closure_follows_the_class_hierarchy(inferred):
    for cls in (ICG.PublicAuthority, ICG.Actor, ORG.Organization, CV.PublicOrganisation, FOAF.Agent):
        assert (TOWN, RDF.type, cls) in inferred, cls
    assert (ACTOR["cities-network"], RDF.type, ORG.OrganizationalCollaboration) in inferred
    assert (ALPHA, RDF.type, PROV.Entity) in inferred
    assert (URIRef(str(ALPHA) + "#p-ministry-funder"), RDF.type, CV.Participation) in inferred
    assert (URIRef("https://w3id.org/icgraph/id/place/xx-town"), RDF.type, SCHEMA.Place) in inferred


def test_an_actor_group_is_never_an_organisation(inferred):
    assert (NGOS, RDF.type, ORG.Organization) not in inferred
    assert (NGOS, RDF.type, ICG.Actor) not in inferred


def test_pref_labels_are_also_rdfs_labels(inferred):
    assert inferred.value(TOWN, RDFS.label) == Literal("Town Council", lang="en")
    assert inferred.value(ROLE.lead, RDFS.label) == Literal("lead", lang="en")  # vocabularies too


def test_inverse_properties_are_filled_in(data, inferred):
    # beta's participations name their practice (icg:practice) but beta does not list them.
    assert not set(data.objects(BETA, ICG.hasParticipation))
    assert len(set(inferred.objects(BETA, ICG.hasParticipation))) == 2


def test_nothing_asserted_is_returned(data, inferred):
    schema = _schema()
    repeated = [t for t in inferred if t in data or t in schema]
    assert not repeated, repeated[:5]


def test_a_dataset_is_read_across_its_named_graphs(data, inferred):
    dataset = Dataset()
    for i, triple in enumerate(data):
        dataset.graph(URIRef(f"https://example.org/graph/{i % 3}")).add(triple)
    assert set(infer(dataset)) == set(inferred)


def _ntriples(graph: Graph) -> list[str]:
    return sorted(graph.serialize(format="nt").splitlines())


def test_the_schema_cache_never_changes_the_result(data, inferred, tmp_path):
    """infer() with build/cache (written, then read back by a new process) returns byte for byte what it returns without."""
    from icgraph.infer import _load_schema

    expected = _ntriples(inferred)
    cache = tmp_path / "schema.json"
    for step in ("written", "read"):
        _load_schema.cache_clear()  # as in a new build process
        assert _ntriples(infer(data, cache_dir=tmp_path)) == expected, step
        if step == "written":
            written = cache.stat().st_mtime_ns
    assert cache.stat().st_mtime_ns == written, "the second run read the cache rather than computing it again"


def test_the_schema_cache_follows_the_ontology(data, tmp_path):
    """A changed rule file is a new cache key: the cached schema of the old rules is not reused."""
    import json
    import shutil

    from icgraph.infer import _load_schema

    ontology = tmp_path / "ontology"
    shutil.copytree(PROJECT_DIR / "ontology", ontology)
    cache = tmp_path / "cache"
    before = infer(data, ontology_dir=ontology, cache_dir=cache)
    key = json.loads((cache / "schema.json").read_text())["key"]
    assert (ALPHA, RDF.type, ICG.MultilevelPractice) in before

    (ontology / "rules" / "30-multilevel-practice.rq").write_text("CONSTRUCT { ?s ?p ?o } WHERE { FILTER(false) }\n")
    _load_schema.cache_clear()
    after = infer(data, ontology_dir=ontology, cache_dir=cache)
    assert json.loads((cache / "schema.json").read_text())["key"] != key
    assert (ALPHA, RDF.type, ICG.MultilevelPractice) not in after


def test_type_closure_agrees_with_owlrl(data, inferred):
    """Every type infer() adds is one OWL-RL entails, and it misses none on named classes."""
    rule_output = Graph()
    for s, p, o in inferred:
        if p in (ICG.spansLevel, ICG.levelCount, ICG.cooperatesWith) or str(s).find("#coop-") > 0 or o == ICG.MultilevelPractice:
            rule_output.add((s, p, o))
    closed = _schema() + data + rule_output
    owlrl.DeductiveClosure(owlrl.OWLRL_Semantics).expand(closed)

    ours = {(s, o) for s, o in inferred.subject_objects(RDF.type)}
    entailed = {(s, o) for s, o in closed.subject_objects(RDF.type)}
    assert ours <= entailed, sorted(ours - entailed)[:5]

    subjects = set(data.subjects()) | set(rule_output.subjects())
    useful = {
        (s, o)
        for s, o in entailed
        if s in subjects and isinstance(o, URIRef) and not str(o).startswith(("http://www.w3.org/2002/07/owl#", "http://www.w3.org/2000/01/rdf-schema#"))
    }
    asserted = set(data.subject_objects(RDF.type))
    assert useful - asserted <= ours, sorted(useful - asserted - ours)[:5]


# --- speed -----------------------------------------------------------------------------


def realistic_graph(practices: int = 150) -> Graph:
    """A graph the size of a full build (about 30 000 triples), in the design's shape:
    practices with their texts, references and 2 to 6 participants, actors at every level."""
    graph = Graph().parse(FIXTURE)
    levels = [LEVEL.local, LEVEL.regional, LEVEL.national, LEVEL.european, LEVEL.international]
    kinds = [ICG.LocalAuthority, ICG.RegionalAuthority, ICG.NationalAuthority, ICG.Network, ICG.InternationalOrganisation]
    for a in range(400):
        actor = ACTOR[f"actor-{a}"]
        graph.add((actor, RDF.type, kinds[a % 5]))
        graph.add((actor, SKOS.prefLabel, Literal(f"Actor {a}", lang="en")))
        graph.add((actor, SKOS.altLabel, Literal(f"A{a}", lang="en")))
        graph.add((actor, ICG.governanceLevel, levels[a % 5]))
        graph.add((actor, ICG.country, URIRef(f"https://w3id.org/icgraph/id/place/c{a % 30}")))
        graph.add((actor, ICG.sourceLine, Literal(a + 1)))
        graph.add((actor, ICG.sourceLine, Literal(a + 2)))
    text = "A long paragraph of the compendium describing the practice. " * 8
    for p in range(practices):
        practice = PRACTICE[f"practice-{p}"]
        graph.add((practice, RDF.type, ICG.Practice))
        graph.add((practice, DCTERMS.title, Literal(f"Practice {p}", lang="en")))
        for prop in (ICG.purpose, ICG.aim, ICG.rationale, ICG.process, ICG.impact, ICG.furtherInformation, ICG.keyReferenceText):
            graph.add((practice, prop, Literal(f"{prop} {p}: {text}", lang="en")))
        for n in range(12):
            graph.add((practice, ICG.areaAsPrinted, Literal(f"area {p}-{n}")))
            graph.add((practice, ICG.sourceLine, Literal(p * 20 + n)))
        for r in range(12):
            ref = URIRef(f"{practice}#ref-{r}")
            graph.add((practice, ICG.reference, ref))
            graph.add((ref, RDF.type, ICG.Reference))
            graph.add((ref, RDFS.label, Literal(f"link {r}")))
            graph.add((ref, SCHEMA.url, Literal(f"https://example.org/{p}/{r}", datatype=XSD.anyURI)))
        for n in range(2 + p % 5):
            agent = ACTOR[f"actor-{(p * 7 + n * 13) % 400}"]
            participation = URIRef(f"{practice}#p-{n}")
            graph.add((practice, ICG.hasParticipation, participation))
            graph.add((participation, RDF.type, ICG.Participation))
            graph.add((participation, ICG.practice, practice))
            graph.add((participation, ICG.agent, agent))
            graph.add((participation, ICG.role, ROLE.partner))
            graph.add((participation, ICG.sourceLine, Literal(p * 10 + n)))
            graph.add((participation, PROV.wasDerivedFrom, URIRef("https://w3id.org/icgraph/id/source/cdadi-2024-39")))
    return graph


def test_infer_is_fast_on_a_realistic_graph():
    graph = realistic_graph(300)
    assert len(graph) > 30_000
    infer(Graph().parse(FIXTURE))  # warm the schema cache, as a second build in one process would
    # CPU time, not wall-clock: the machine may be busy with other test runs.
    started = time.process_time()
    result = infer(graph)
    elapsed = time.process_time() - started
    print(f"infer: {len(graph)} triples -> {len(result)} new in {elapsed:.2f} s CPU")
    assert len(result) > 10_000
    assert elapsed < 5.0, f"infer took {elapsed:.2f} s CPU on {len(graph)} triples (target about 1.5 s)"
