"""The RDF of both source documents follows docs/design.md."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from rdflib import Literal, URIRef
from rdflib.namespace import FOAF, ORG, PROV, RDF, RDFS, SKOS, XSD, DCTERMS

from icgraph.ingest.compendium import parse_compendium
from icgraph.ingest.meeting_report import parse_meeting_report
from icgraph.mapping.sources import UNMAPPED_AREAS, UNMAPPED_TYPES, map_compendium, map_meeting_report, unmapped_values
from icgraph.namespaces import ACTOR, AREA, COMPENDIUM, ICG, MEETING_REPORT, MROLE, PLACE, PRACTICE, PRINCIPLE, PTYPE, SCHEMA

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ROOT / "data" / "sources"


@pytest.fixture(scope="module")
def records():
    return parse_compendium(SOURCES / "cdadi-2024-39-compendium.txt").records


@pytest.fixture(scope="module")
def compendium(records):
    return map_compendium(records)


@pytest.fixture(scope="module")
def meeting():
    return map_meeting_report(parse_meeting_report(SOURCES / "gt-adi-int-2020-4-meeting-report.txt"))


def test_every_printed_type_and_area_maps_to_a_concept(records):
    assert unmapped_values(records) == []
    assert UNMAPPED_AREAS == {} and UNMAPPED_TYPES == {}


def test_83_practices_each_with_one_title(compendium):
    practices = set(compendium.subjects(RDF.type, ICG.Practice))
    assert len(practices) == 83
    for p in practices:
        titles = list(compendium.objects(p, DCTERMS.title))
        assert len(titles) == 1 and titles[0].language == "en"


def test_practice_shape(compendium):
    p = PRACTICE["paris-improving-access-to-the-law"]
    g = compendium
    assert g.value(p, DCTERMS.title) == Literal("Improving access to the law", lang="en")
    assert g.value(p, ICG.headingAsPrinted) == Literal("PARIS: Improving access to the law")
    assert g.value(p, ICG.headingPrefix) == Literal("PARIS")
    assert g.value(p, ICG.principle) == PRINCIPLE.equality
    assert g.value(p, ICG.country) == PLACE.fr
    assert set(g.objects(p, ICG.practiceType)) == {PTYPE.policy}
    assert g.value(p, ICG.typeAsPrinted) == Literal("strategy / policy")
    assert set(g.objects(p, ICG.areaOfIntervention)) == {AREA["equal-rights-and-opportunities"]}
    assert g.value(p, ICG.startYear) == Literal("2022", datatype=XSD.gYear)
    assert g.value(p, ICG.endYear) == Literal("2026", datatype=XSD.gYear)
    assert g.value(p, ICG.aim).language == "en"
    assert g.value(p, PROV.wasDerivedFrom) == COMPENDIUM
    d = g.value(p, PROV.qualifiedDerivation)
    assert d == URIRef(str(p) + "#source")
    assert g.value(d, RDF.type) == PROV.Derivation and g.value(d, PROV.entity) == COMPENDIUM
    assert (g.value(d, ICG.startLine).toPython(), g.value(d, ICG.endLine).toPython(), g.value(d, ICG.page).toPython()) == (310, 335, 12)
    assert g.value(d, RDFS.label) == Literal("CDADI(2024)39, p. 12, lines 310-335")


def test_luxembourg_derivation_label_and_note(compendium):
    p = PRACTICE["gemengepakt-vum-interkulturellen-zesummeliewen-municipal-pact-for-intercultural"]
    d = compendium.value(p, PROV.qualifiedDerivation)
    assert str(compendium.value(d, RDFS.label)) == "CDADI(2024)39, p. 113, lines 2869-2941"
    assert compendium.value(p, SKOS.editorialNote) == Literal("This updates Luxembourg's previous entry on its \"Pakt\"", lang="en")


def test_transnational_and_not_stated(compendium):
    aer = PRACTICE["intercultural-regions-network"]
    assert compendium.value(aer, ICG.transnational) == Literal(True)
    assert compendium.value(aer, ICG.country) is None
    canada = PRACTICE["insights-from-the-canadian-approach-to-immigrant-integration"]
    assert set(compendium.objects(canada, ICG.practiceType)) == {PTYPE["not-stated"]}
    assert compendium.value(canada, ICG.country) == PLACE.ca
    assert compendium.value(canada, ICG.principle) == PRINCIPLE.canada


def test_several_types_for_one_printed_value(compendium):
    p = PRACTICE["bilbao-anti-rumours-strategy"]
    assert set(compendium.objects(p, ICG.practiceType)) == {PTYPE.policy, PTYPE.project}


def test_references(compendium):
    refs = set(compendium.subjects(RDF.type, ICG.Reference))
    assert refs
    for ref in refs:
        urls = list(compendium.objects(ref, SCHEMA.url))
        placeholder = compendium.value(ref, ICG.linkWithoutAddress)
        assert (len(urls) == 1) != (placeholder == Literal(True)), ref
        for url in urls:
            assert url.datatype == XSD.anyURI and re.fullmatch(r"https?://\S+", str(url))
        assert compendium.value(ref, RDFS.label) is not None
    first = URIRef(str(PRACTICE["settle-in-estonia-client-portal-as-an-instrument"]) + "#ref-1")
    assert str(compendium.value(first, SCHEMA.url)) == "https://www.riigiteataja.ee/akt/129072016004?leiaKehtiv"


def test_no_comment_text_in_the_graph(compendium):
    assert not any("Commented [" in str(o) for o in compendium.objects())


def test_ongoing_and_years_typed(compendium):
    p = PRACTICE["establishment-of-tallinn-migration-centre-tmc"]
    assert compendium.value(p, ICG.ongoing) == Literal(True)
    assert compendium.value(p, ICG.durationAsPrinted) == Literal("2022-ongoing")


def test_meeting_report_graph(meeting):
    wg = ACTOR["gt-adi-int"]
    assert (wg, RDF.type, ICG.WorkingGroup) in meeting
    assert meeting.value(wg, ORG.subOrganizationOf) == ACTOR.cdadi
    meetings = list(meeting.objects(wg, ICG.hasMeeting))
    first = next(m for m in meetings if meeting.value(m, ICG.number).toPython() == 1)
    assert meeting.value(first, SCHEMA.startDate) == Literal("2020-09-29", datatype=XSD.date)
    assert len(list(meeting.objects(first, ICG.agendaItem))) == 8
    assert len(list(meeting.objects(first, ICG.decision))) == 5
    items = list(meeting.objects(first, ICG.roadmapItem))
    assert len(items) == 5 and all(meeting.value(i, ICG.plannedFor) in meetings for i in items)


def test_participants_as_memberships(meeting):
    memberships = list(meeting.subjects(RDF.type, ORG.Membership))
    assert len(memberships) == 43
    roles = {}
    for m in memberships:
        assert meeting.value(m, ORG.organization) == ACTOR["gt-adi-int"]
        person = meeting.value(m, ORG.member)
        assert (person, RDF.type, FOAF.Person) in meeting and meeting.value(person, FOAF.name)
        assert str(person).startswith(str(ACTOR) + "person-")
        assert meeting.value(m, ICG.sourceLine) is not None and meeting.value(m, PROV.wasDerivedFrom) == MEETING_REPORT
        roles[meeting.value(m, ORG.role)] = roles.get(meeting.value(m, ORG.role), 0) + 1
    assert roles == {MROLE.member: 25, MROLE.observer: 2, MROLE.participant: 2, MROLE.expert: 7, MROLE.secretariat: 7}
    laredo = next(m for m in memberships if meeting.value(meeting.value(m, ORG.member), FOAF.name) == Literal("Claudia Emmanuel LAREDO"))
    assert meeting.value(laredo, ICG.represents) == PLACE["es-bilbao"]
    assert meeting.value(laredo, ICG.attendance) == Literal("confirmed")
    assert meeting.value(laredo, ICG.position) == Literal("Official", lang="en")


def test_every_meeting_report_node_is_traced(meeting):
    for s in set(meeting.subjects(RDF.type, None)):
        assert meeting.value(s, ICG.sourceLine) is not None, s
        assert meeting.value(s, PROV.wasDerivedFrom) == MEETING_REPORT, s


def test_no_email_telephone_or_street_address_in_the_rdf(meeting):
    text = meeting.serialize(format="nt")
    assert "@coe.int" not in text and not re.search(r"[\w.]+@[\w-]+\.\w", text)
    assert "mailto:" not in text and "tel:" not in text
    assert not re.search(r"\+33|\(0\)3 90", text)
    assert "Congreso de la Unión No. 66" not in text and "C. P. 15960" not in text
