"""The SHACL gate (shapes/ + icgraph.validate): every shape fires on the data it forbids and
stays quiet on data that follows docs/design.md.

Each case takes tests/fixtures/shapes/valid.ttl (which raises nothing), breaks one rule
with a SPARQL Update, validates it with tests/fixtures/shapes/ontology-stub.ttl standing
in for the ontology, and checks that the expected shape reports the expected focus node
with the expected severity. QUIET cases are near misses that must not fire.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pytest
from rdflib import BNode, Graph, Literal, URIRef
from rdflib import namespace as rdflib_namespace
from rdflib.namespace import OWL, RDF, RDFS

from icgraph.config import Settings
from icgraph.namespaces import ICG, ID, SH, sparql_prefixes
from icgraph.validate import SHAPE_FILES, compact, format_report, validate, validating

FIXTURES = Path(__file__).parent / "fixtures" / "shapes"
SETTINGS = Settings()
ICGSH = "https://w3id.org/icgraph/shapes#"
PREFIXES = sparql_prefixes() + f"PREFIX icgsh: <{ICGSH}>\n"

B = "practice:bilbao-anti-rumours-strategy"  # a complete, multilevel practice
AER = "practice:aer-eu-belong"  # a transnational practice with a participation note
BREF = "<https://w3id.org/icgraph/id/practice/bilbao-anti-rumours-strategy#ref-1>"
BSRC = "<https://w3id.org/icgraph/id/practice/bilbao-anti-rumours-strategy#source>"
BLEAD = "<https://w3id.org/icgraph/id/practice/bilbao-anti-rumours-strategy#p-bilbao-city-council-lead>"
BPARTNER = "<https://w3id.org/icgraph/id/practice/bilbao-anti-rumours-strategy#p-basque-government-partner>"
BGROUP = "<https://w3id.org/icgraph/id/practice/bilbao-anti-rumours-strategy#group-neighbourhood-associations>"
MEMBERSHIP = "<https://w3id.org/icgraph/id/membership/bilbao-city-council-intercultural-cities-programme>"
PACT = "partnership:bilbao-basque-pact"
BFUNDING = "<https://w3id.org/icgraph/id/practice/bilbao-anti-rumours-strategy#funded-1>"
BREL = "<https://w3id.org/icgraph/id/practice/bilbao-anti-rumours-strategy#rel-establishes-bilbao-basque-pact>"
XPROGRAMME = 'programme:x a icg:FundingProgramme ; skos:prefLabel "X programme"@en ; icg:operatedBy actor:council-of-europe'



@dataclass(frozen=True)
class Case:
    behaviour: str  # the test id: what the shape protects
    shape: str  # icgsh:Name
    update: str  # SPARQL Update applied to valid.ttl
    focus: str | None = None  # expected focus node (CURIE or <IRI>); None for "must not fire"
    severity: str = "Violation"


def replace(subject: str, prop: str, new: str) -> str:
    return f"DELETE {{ {subject} {prop} ?old }} INSERT {{ {subject} {prop} {new} }} WHERE {{ {subject} {prop} ?old }}"


def drop(subject: str, prop: str) -> str:
    return f"DELETE WHERE {{ {subject} {prop} ?old }}"


FIRES = [
    # ---- practice
    Case("practice without title is a violation", "PracticeTitle", drop(B, "dct:title"), B),
    Case("practice with two titles is a violation", "PracticeTitle", f'INSERT DATA {{ {B} dct:title "Other"@en }}', B),
    Case("practice without principle is a violation", "PracticePrinciple", drop(B, "icg:principle"), B),
    Case("practice with a principle outside the scheme is a violation", "PracticePrinciple", replace(B, "icg:principle", "area:education"), B),
    Case("practice with neither country nor transnational flag is a violation", "PracticeCountryOrTransnational", drop(AER, "icg:transnational"), AER),
    Case("practice without type is a violation", "PracticeType", drop(B, "icg:practiceType"), B),
    Case("practice type outside the scheme is a violation", "PracticeType", replace(B, "icg:practiceType", "target:migrants"), B),
    Case("area outside the area scheme is a violation", "PracticeAreaOfIntervention", f"INSERT DATA {{ {B} icg:areaOfIntervention target:migrants }}", B),
    Case("target group outside its scheme is a violation", "PracticeTargetGroupScheme", f"INSERT DATA {{ {B} icg:targetGroup area:education }}", B),
    Case("untyped reference is a violation", "PracticeReference", f"INSERT DATA {{ {B} icg:reference <https://w3id.org/icgraph/id/practice/bilbao-anti-rumours-strategy#ref-2> }}", B),
    Case("practice without source document is a violation", "PracticeDerivedFrom", drop(B, "prov:wasDerivedFrom"), B),
    Case("practice without source lines is a violation", "PracticeQualifiedDerivation", drop(B, "prov:qualifiedDerivation"), B),
    Case("practice with neither participants nor note is a violation", "PracticeParticipants", drop(AER, "icg:participationNote"), AER),
    Case("participation link to an untyped node is a violation", "PracticeParticipationClass", f"DELETE DATA {{ {BPARTNER} a icg:Participation }}", B),
    Case(
        "multilevel practice with one level is a violation",
        "MultilevelPracticeLevels",
        f"DELETE WHERE {{ {B} icg:hasParticipation {BPARTNER} . {BPARTNER} ?p ?o }}",
        B,
    ),
    Case(
        "implementation outside the filed country is a violation",
        "ImplementedInFiledCountry",
        f"""INSERT DATA {{ place:fr a icg:Country ; skos:prefLabel "France"@en ; icg:isoCode "FR" .
            place:fr-paris a icg:Municipality ; skos:prefLabel "Paris"@en ; schema:containedInPlace place:fr ; icg:geonamesId "2988507" .
            {B} icg:implementedIn place:fr-paris }}""",
        B,
    ),
    # ---- years and derivations
    Case("start year as a plain string is a violation", "StartYearValue", replace(B, "icg:startYear", '"2022"'), B),
    Case("two end years are a violation", "EndYearValue", f'INSERT DATA {{ {B} icg:endYear "2027"^^xsd:gYear }}', B),
    Case("start year after end year is a violation", "YearOrder", replace(B, "icg:startYear", '"2027"^^xsd:gYear'), B),
    Case("derivation without source document is a violation", "DerivationEntity", drop(BSRC, "prov:entity"), BSRC),
    Case("derivation without start line is a violation", "DerivationStartLine", drop(BSRC, "icg:startLine"), BSRC),
    Case("derivation with line zero is a violation", "DerivationStartLine", replace(BSRC, "icg:startLine", "0"), BSRC),
    Case("derivation without end line is a violation", "DerivationEndLine", drop(BSRC, "icg:endLine"), BSRC),
    Case("derivation ending before it starts is a violation", "DerivationLineOrder", replace(BSRC, "icg:startLine", "1600"), BSRC),
    # ---- actors
    Case("actor without name is a violation", "ActorPrefLabel", drop("actor:bilbao-city-council", "skos:prefLabel"), "actor:bilbao-city-council"),
    Case("actor named only in Spanish is a violation", "ActorPrefLabel", replace("actor:bilbao-city-council", "skos:prefLabel", '"Ayuntamiento de Bilbao"@es'), "actor:bilbao-city-council"),
    Case("actor with two kinds is a violation", "ActorKind", "INSERT DATA { actor:bilbao-city-council a icg:CivilSocietyOrganisation }", "actor:bilbao-city-council"),
    Case("actor without kind is a violation", "ActorKind", 'INSERT DATA { actor:someone a icg:Actor ; skos:prefLabel "Someone"@en }', "actor:someone"),
    Case("actor with only an abstract kind is a violation", "ActorKind", "DELETE DATA { actor:basque-government a icg:RegionalAuthority } ; INSERT DATA { actor:basque-government a icg:PublicAuthority }", "actor:basque-government"),
    Case("actor with a misspelt kind is caught where it takes part", "ParticipationAgent", "DELETE DATA { actor:bilbao-city-council a icg:LocalAuthority } ; INSERT DATA { actor:bilbao-city-council a icg:LocalAuthorty }", BLEAD),
    Case("actor family outside the family scheme is a violation", "ActorFamilyScheme", replace("actor:bilbao-city-council", "icg:actorFamily", "level:local"), "actor:bilbao-city-council"),
    Case("actor with two families is a violation", "ActorFamilyScheme", "INSERT DATA { actor:bilbao-city-council icg:actorFamily <https://w3id.org/icgraph/id/actor-family/regional-government> }", "actor:bilbao-city-council"),
    Case("actor level outside the level scheme is a violation", "ActorGovernanceLevel", replace("actor:bilbao-city-council", "icg:governanceLevel", "role:lead"), "actor:bilbao-city-council"),
    Case("actor without level is a violation", "ActorGovernanceLevel", drop("actor:basque-government", "icg:governanceLevel"), "actor:basque-government"),
    Case("actor parent that is not an organisation is a violation", "ActorParent", "INSERT DATA { actor:bilbao-city-council org:subOrganizationOf place:es }", "actor:bilbao-city-council"),
    Case("actor that is its own parent is a violation", "ActorNotOwnAncestor", "INSERT DATA { actor:council-of-europe org:subOrganizationOf actor:council-of-europe }", "actor:council-of-europe"),
    Case(
        "actor that is its own grandparent is a violation",
        "ActorNotOwnAncestor",
        "INSERT DATA { actor:council-of-europe org:subOrganizationOf actor:intercultural-cities-programme }",
        "actor:intercultural-cities-programme",
    ),
    Case(
        "two actors with one name and level are a violation",
        "ActorUniqueNameAndLevel",
        'INSERT DATA { actor:bilbao-council a icg:LocalAuthority ; skos:prefLabel "Bilbao City Council"@en ; icg:governanceLevel level:local ; icg:country place:es ; icg:sourceLine 1 }',
        "actor:bilbao-council",
    ),
    Case("country value that is not a country is a violation", "CountryValue", replace(B, "icg:country", "place:es-bilbao"), B),
    # ---- actor groups
    Case("actor group without name is a violation", "ActorGroupLabel", drop(BGROUP, "skos:prefLabel"), BGROUP),
    Case("actor group kind that is not an actor class is a violation", "ActorGroupMemberKind", replace(BGROUP, "icg:memberKind", "icg:Practice"), BGROUP),
    Case("actor group without level is a violation", "ActorGroupLevel", drop(BGROUP, "icg:governanceLevel"), BGROUP),
    Case("actor group typed as organisation is a violation", "ActorGroupNotOrganization", f"INSERT DATA {{ {BGROUP} a org:Organization }}", BGROUP),
    # ---- participations
    Case("participation without practice is a violation", "ParticipationPractice", drop(BLEAD, "icg:practice"), BLEAD),
    Case("participation its practice does not list is a violation", "ParticipationListedByPractice", f"DELETE DATA {{ {B} icg:hasParticipation {BLEAD} }}", BLEAD),
    Case("participation listed by another practice is a violation", "ParticipationListedByPractice", f"INSERT DATA {{ {AER} icg:hasParticipation {BLEAD} }}", BLEAD),
    Case("participation agent that is a place is a violation", "ParticipationAgent", replace(BLEAD, "icg:agent", "place:es"), BLEAD),
    Case("participation role outside the role scheme is a violation", "ParticipationRole", replace(BLEAD, "icg:role", "mrole:member"), BLEAD),
    # ---- memberships and partnerships
    Case("membership without member is a violation", "MembershipMember", drop(MEMBERSHIP, "org:member"), MEMBERSHIP),
    Case("membership in a place is a violation", "MembershipOrganization", replace(MEMBERSHIP, "org:organization", "place:es"), MEMBERSHIP),
    Case("membership role outside its scheme is a violation", "MembershipRole", replace(MEMBERSHIP, "org:role", "role:lead"), MEMBERSHIP),
    Case("partnership with one partner is a violation", "PartnershipPartners", f"DELETE DATA {{ {PACT} icg:partner actor:basque-government }}", PACT),
    Case("partnership without kind is a violation", "PartnershipKind", drop(PACT, "icg:partnershipKind"), PACT),
    Case("partnership within a non-practice is a violation", "PartnershipWithinPractice", replace(PACT, "icg:withinPractice", "actor:basque-government"), PACT),
    # ---- places
    Case("lower-case country code is a violation", "CountryIsoCode", replace("place:es", "icg:isoCode", '"es"'), "place:es"),
    Case("country without code is a violation", "CountryIsoCode", drop("place:es", "icg:isoCode"), "place:es"),
    Case("malformed region code is a violation", "RegionIsoCode", replace("place:es-pv", "icg:isoCode", '"ES_PV"'), "place:es-pv"),
    Case("municipality outside any place is a violation", "PlaceContainedIn", drop("place:es-bilbao", "schema:containedInPlace"), "place:es-bilbao"),
    Case("place without name is a violation", "PlacePrefLabel", drop("place:es-pv", "skos:prefLabel"), "place:es-pv"),
    # ---- references
    Case("reference with neither address nor placeholder flag is a violation", "ReferenceLinkOrPlaceholder", drop(BREF, "schema:url"), BREF),
    Case("relative reference address is a violation", "ReferenceUrl", replace(BREF, "schema:url", '"www.bilbao.eus"^^xsd:anyURI'), BREF),
    # ---- concepts and classes
    Case("concept outside any scheme is a violation", "ConceptInScheme", 'INSERT DATA { area:health a skos:Concept ; skos:prefLabel "health"@en }', "area:health"),
    Case(
        "concept without English label is a violation",
        "ConceptPrefLabel",
        'INSERT DATA { area:health a skos:Concept ; skos:inScheme <https://w3id.org/icgraph/id/area> ; skos:prefLabel "salud"@es }',
        "area:health",
    ),
    # ---- warnings
    Case("practice without duration is a warning", "PracticeDuration", drop(AER, "icg:durationAsPrinted"), AER, "Warning"),
    Case("practice without target group is a warning", "PracticeTargetGroup", drop(AER, "icg:targetGroup"), AER, "Warning"),
    Case("link placeholder is a warning", "ReferencePlaceholder", f"INSERT DATA {{ {BREF} icg:linkWithoutAddress true }}", BREF, "Warning"),
    Case("reference without link text is a warning", "ReferenceLabel", drop(BREF, "rdfs:label"), BREF, "Warning"),
    Case("ambiguous reading is a warning", "AmbiguousReading", 'INSERT DATA { actor:basque-government icg:ambiguityNote "Basque Government or Provincial Council of Bizkaia?"@en }', "actor:basque-government", "Warning"),
    Case("actor without source line is a warning", "ActorSourceLine", drop("actor:council-of-europe", "icg:sourceLine"), "actor:council-of-europe", "Warning"),
    Case("actor without family is a violation", "ActorFamily", drop("actor:council-of-europe", "icg:actorFamily"), "actor:council-of-europe"),
    Case("regional actor without country is a warning", "ActorCountry", drop("actor:basque-government", "icg:country"), "actor:basque-government", "Warning"),
    Case("participation without source line is a warning", "ParticipationSourceLine", drop(BLEAD, "icg:sourceLine"), BLEAD, "Warning"),
    Case("partnership without name is a warning", "PartnershipLabel", drop(PACT, "skos:prefLabel"), PACT, "Warning"),
    Case("municipality without GeoNames id is a warning", "MunicipalityGeonames", drop("place:es-bilbao", "icg:geonamesId"), "place:es-bilbao", "Warning"),
    # ---- funding (issue 25): a qualified relation, programmes with their operator
    Case("funding with neither funder nor programme is a violation", "FundingFunderOrProgramme", drop(BFUNDING, "icg:funder"), BFUNDING),
    Case("funding through an actor instead of a programme is a violation", "FundingProgrammeValue", f"INSERT DATA {{ {BFUNDING} a icg:Funding ; icg:funder actor:basque-government ; icg:fundingProgramme actor:council-of-europe }}", BFUNDING),
    Case("funding received by a place is a violation", "FundingAgents", f"INSERT DATA {{ {BFUNDING} a icg:Funding ; icg:funder actor:basque-government ; icg:recipient place:es }}", BFUNDING),
    Case("funding programme without name is a violation", "FundingProgrammeLabel", "INSERT DATA { programme:x a icg:FundingProgramme ; icg:operatedBy actor:council-of-europe }", "programme:x"),
    Case("funding without funder is a warning", "FundingFunder", f"DELETE WHERE {{ {BFUNDING} icg:funder ?f }} ; INSERT DATA {{ {BFUNDING} icg:fundingProgramme programme:x . {XPROGRAMME} }}", BFUNDING, "Warning"),
    Case("funding recipient not taking part is a violation", "FundingRecipientTakesPart", replace(BFUNDING, "icg:recipient", "actor:council-of-europe"), BFUNDING),
    Case("a practice establishing a place is a violation", "StructureValue", replace(B, "icg:establishes", "place:es"), B),
    Case("an actor carried out by a partnership is a violation", "StructureOfPractice", "INSERT DATA { actor:bilbao-city-council icg:carriedOutBy partnership:bilbao-basque-pact }", "actor:bilbao-city-council"),
    Case("building on a place is a violation", "BuildsOnValue", replace(B, "icg:buildsOn", "place:es"), B),
    Case("support to a place is a violation", "SupportsValue", replace("actor:council-of-europe", "icg:supports", "place:es"), "actor:council-of-europe"),
    Case("support from a place is a violation", "SupporterIsActor", f"INSERT DATA {{ place:es icg:supports {B} }}", "place:es"),
    Case("a partnership as dissemination channel is a violation", "DisseminationChannelValue", replace(B, "icg:disseminationChannel", PACT), B),
    Case("a relation without its cited statement is a violation", "StatedRelationCited", f"INSERT DATA {{ {B} icg:inspiredBy actor:intercultural-cities-programme }}", B),
    Case("a statement stated in an actor is a violation", "StatementStatedIn", replace(BREL, "icg:statedIn", "actor:bilbao-city-council"), BREL),
    Case("a statement without line is a violation", "StatementSourceLine", drop(BREL, "icg:sourceLine"), BREL),
    Case("funding programme without operator is a warning", "FundingProgrammeOperator", 'INSERT DATA { programme:x a icg:FundingProgramme ; skos:prefLabel "X programme"@en }', "programme:x", "Warning"),
    # ---- fidelity (issue 21): what the text states anywhere reaches the graph
    Case(
        "practice led by someone its participants do not include is a warning",
        "PracticeLeadStated",
        f'INSERT DATA {{ {AER} icg:process "The project is led by the Assembly of European Regions."@en }}',
        AER,
        "Warning",
    ),
    Case(
        "practice whose network is chaired by someone unrecorded is a warning",
        "PracticeLeadStated",
        f'INSERT DATA {{ {AER} icg:impact "The Network is currently being chaired by the Government of Catalonia."@en }}',
        AER,
        "Warning",
    ),
    Case(
        "start year in the text and none in the graph is a warning",
        "PracticeYearInText",
        f'INSERT DATA {{ {AER} icg:process "The project was launched in July 2019."@en }}',
        AER,
        "Warning",
    ),
    Case(
        "year in the text that is not the practice's start or end year is a warning",
        "PracticeYearInText",
        f'INSERT DATA {{ {B} icg:impact "The network has been running since 2013."@en }}',
        B,
        "Warning",
    ),
    Case(
        "a note that only repeats the year does not stand for a date",
        "PracticeYearInText",
        f'INSERT DATA {{ {B} icg:impact "The network has been running since 2013."@en ; skos:editorialNote "Started 2013 (line 1555)."@en }}',
        B,
        "Warning",
    ),
    Case(
        "practice implemented by an organisation it does not record as lead is a warning",
        "PracticeLeadStated",
        f'INSERT DATA {{ {AER} icg:purpose "Inclusive Public Spaces is a project implemented by the City of Reykjavik."@en }}',
        AER,
        "Warning",
    ),
    Case(
        "municipality typed as a regional body is a warning",
        "RegionalAuthorityOfMunicipality",
        "INSERT DATA { actor:basque-government dct:spatial place:es-bilbao }",
        "actor:basque-government",
        "Warning",
    ),
    # ---- infos
    Case("practice type not stated is an info", "PracticeTypeNotStated", replace(AER, "icg:practiceType", "ptype:not-stated"), AER, "Info"),
    Case("practice without area is an info", "PracticeNoArea", drop(AER, "icg:areaOfIntervention"), AER, "Info"),
    Case(
        "actor nothing refers to is an info",
        "ActorUnreferenced",
        'INSERT DATA { actor:lonely a icg:CivilSocietyOrganisation ; skos:prefLabel "Lonely NGO"@en ; icg:governanceLevel level:local ; icg:country place:es ; icg:sourceLine 9 }',
        "actor:lonely",
        "Info",
    ),
]

QUIET = [
    Case("transnational practice needs no country", "PracticeCountryOrTransnational", "INSERT DATA { }"),
    Case("equal start and end years are fine", "YearOrder", replace(B, "icg:startYear", '"2026"^^xsd:gYear')),
    Case("equal start and end lines are fine", "DerivationLineOrder", replace(BSRC, "icg:startLine", "1570")),
    Case(
        "implementation abroad explained by an editorial note is fine",
        "ImplementedInFiledCountry",
        f"""INSERT DATA {{ place:fr a icg:Country ; skos:prefLabel "France"@en ; icg:isoCode "FR" .
            place:fr-paris a icg:Municipality ; skos:prefLabel "Paris"@en ; schema:containedInPlace place:fr ; icg:geonamesId "2988507" .
            {B} icg:implementedIn place:fr-paris ; skos:editorialNote "Bilbao runs the Paris pilot."@en }}""",
    ),
    Case("transnational practice may be implemented anywhere", "ImplementedInFiledCountry", f"INSERT DATA {{ {AER} icg:implementedIn place:es-bilbao }}"),
    Case("implementation in the country itself is fine", "ImplementedInFiledCountry", f"INSERT DATA {{ {B} icg:implementedIn place:es }}"),
    Case(
        "inferred superclasses do not count as extra kinds",
        "ActorKind",
        "INSERT DATA { actor:bilbao-city-council a icg:PublicAuthority, icg:Actor, org:Organization }",
    ),
    Case(
        "a working group has its kind besides icg:WorkingGroup",
        "ActorKind",
        "INSERT DATA { actor:intercultural-cities-programme a icg:WorkingGroup }",
    ),
    Case(
        "a partnership is no actor although the ontology makes it an organisation",
        "ActorGovernanceLevel",
        f"INSERT DATA {{ {PACT} a org:Organization }}",
    ),
    Case(
        "an actor group the text puts at two levels may have both",
        "ActorGroupLevel",
        f"INSERT DATA {{ {BGROUP} icg:governanceLevel level:regional }}",
    ),
    Case(
        "actor groups may share a name and level",
        "ActorUniqueNameAndLevel",
        'INSERT DATA { practice:aer-eu-belong\\#group-neighbourhood-associations a icg:ActorGroup ; skos:prefLabel "neighbourhood associations"@en ; icg:memberKind icg:CivilSocietyOrganisation ; icg:governanceLevel level:local }',
    ),
    Case(
        "one name at two levels is fine",
        "ActorUniqueNameAndLevel",
        'INSERT DATA { actor:bilbao-national a icg:NationalAuthority ; skos:prefLabel "Bilbao City Council"@en ; icg:governanceLevel level:national ; icg:country place:es ; icg:sourceLine 1 }',
    ),
    Case("international actor needs no country", "ActorCountry", "INSERT DATA { }"),
    Case("a link placeholder instead of an address is no violation", "ReferenceLinkOrPlaceholder", f"DELETE WHERE {{ {BREF} schema:url ?u }} ; INSERT DATA {{ {BREF} icg:linkWithoutAddress true }}"),
    Case("a parent is not a cycle", "ActorNotOwnAncestor", "INSERT DATA { }"),
    Case(
        "a lead note answers a lead-like verb",
        "PracticeLeadStated",
        f'INSERT DATA {{ {AER} icg:process "The project is led by a team of experts."@en ; icg:leadNote "The text names no organisation that leads it."@en }}',
    ),
    Case(
        "a lead-like verb with a leading participant is fine",
        "PracticeLeadStated",
        f'INSERT DATA {{ {B} icg:process "The strategy is coordinated by the City Council."@en }}',
    ),
    Case("a year the practice records is fine", "PracticeYearInText", f'INSERT DATA {{ {B} icg:process "The strategy started in 2022."@en }}'),
    Case(
        "a year kept as a date statement is fine",
        "PracticeYearInText",
        f"""INSERT DATA {{ {AER} icg:process "The network was launched in 2019."@en ; icg:dateStatement practice:aer-eu-belong\\#start-2019 .
            practice:aer-eu-belong\\#start-2019 a icg:DateStatement ; icg:startYear "2019"^^xsd:gYear ; icg:sourceLine 2314 }}""",
    ),
    Case(
        "a year a note of the practice explains is fine",
        "PracticeYearInText",
        f'INSERT DATA {{ {B} icg:impact "An allowance has been paid since 2006."@en ; skos:editorialNote "since 2006 dates the allowance, not the strategy"@en }}',
    ),
    Case(
        "funding through a programme needs no named funder",
        "FundingFunderOrProgramme",
        f"DELETE WHERE {{ {BFUNDING} icg:funder ?f }} ; INSERT DATA {{ {BFUNDING} icg:fundingProgramme programme:x . {XPROGRAMME} }}",
    ),
    Case("a recipient that takes part as a partner is fine", "FundingRecipientTakesPart", replace(BFUNDING, "icg:recipient", "actor:basque-government")),
    Case("a practice may build on a funding programme", "BuildsOnValue", f"INSERT DATA {{ {B} icg:buildsOn programme:x . {XPROGRAMME} }}"),
    Case("support may go to an actor", "SupportsValue", "INSERT DATA { actor:council-of-europe icg:supports actor:bilbao-city-council }"),
    Case("a network is a dissemination channel", "DisseminationChannelValue", f"INSERT DATA {{ {B} icg:disseminationChannel actor:intercultural-cities-programme }}"),
    Case("a regional authority of a region is fine", "RegionalAuthorityOfMunicipality", "INSERT DATA { actor:basque-government dct:spatial place:es-pv }"),
]


# --------------------------------------------------------------------------- helpers


@lru_cache(maxsize=None)
def _stub() -> Graph:
    return Graph().parse(FIXTURES / "ontology-stub.ttl")


def _valid() -> Graph:
    return Graph().parse(FIXTURES / "valid.ttl")


def _expand(curie: str) -> URIRef:
    if curie.startswith("<"):
        return URIRef(curie[1:-1])
    graph = Graph()
    for line in PREFIXES.splitlines():
        _, prefix, iri = line.split(" ", 2)
        graph.bind(prefix.rstrip(":"), iri.strip("<>"), override=True)
    return graph.namespace_manager.expand_curie(curie)


def _results_of(update: str):
    graph = _valid()
    graph.update(PREFIXES + update)
    return validate(graph, SETTINGS, ontology=_stub())


@lru_cache(maxsize=None)
def _valid_result():
    return validate(_valid(), SETTINGS, ontology=_stub())


@lru_cache(maxsize=None)
def _shapes() -> Graph:
    graph = Graph()
    for name in SHAPE_FILES:
        graph.parse(SETTINGS.shapes_dir / name)
    return graph


def _reporting_shapes() -> set[URIRef]:
    """Shapes with a target: the ones that can put a result in the report."""
    shapes = _shapes()
    targets = (SH.targetClass, SH.targetNode, SH.targetSubjectsOf, SH.targetObjectsOf, SH.target)
    return {s for t in targets for s in shapes.subjects(t, None)}


# --------------------------------------------------------------------------- behaviour


def test_valid_fixture_raises_nothing_at_any_severity():
    result = _valid_result()
    assert result.issues == [], format_report(result)
    assert result.conforms


@pytest.mark.parametrize("case", FIRES, ids=[c.behaviour for c in FIRES])
def test_shape_fires_on_broken_data(case: Case):
    result = _results_of(case.update)
    shape = compact(URIRef(ICGSH + case.shape))
    hits = [i for i in result.issues if i.shape == shape]
    assert hits, f"{case.shape} did not fire.\n" + format_report(result)
    focus = compact(_expand(case.focus))
    assert focus in {h.focus_node for h in hits}, format_report(result)
    assert {h.severity for h in hits} == {case.severity}
    assert result.conforms == (case.severity != "Violation" and not result.violations)


@pytest.mark.parametrize("case", QUIET, ids=[c.behaviour for c in QUIET])
def test_shape_stays_quiet_on_near_misses(case: Case):
    result = _results_of(case.update)
    shape = compact(URIRef(ICGSH + case.shape))
    assert [i for i in result.issues if i.shape == shape] == [], format_report(result)


@pytest.mark.parametrize("shape", sorted(_reporting_shapes()), ids=lambda s: str(s).split("#")[-1])
def test_shape_does_not_fire_on_valid_data(shape: URIRef):
    assert [i for i in _valid_result().issues if i.shape == compact(shape)] == []


def test_every_reporting_shape_has_a_firing_case():
    covered = {URIRef(ICGSH + c.shape) for c in FIRES}
    assert sorted(_reporting_shapes() - covered) == []
    assert sorted(covered - _reporting_shapes()) == [], "a case names a shape that does not exist"


# --------------------------------------------------------------------------- style


def test_every_shape_has_a_label_and_an_english_message():
    shapes = _shapes()
    named = {
        s
        for kind in (SH.NodeShape, SH.PropertyShape)
        for s in shapes.subjects(RDF.type, kind)
    } | _reporting_shapes()
    constraints = set(shapes.objects(None, SH.sparql))
    problems = []
    for shape in sorted(named | constraints, key=str):
        messages = [m for m in shapes.objects(shape, SH.message) if isinstance(m, Literal) and m.language == "en"]
        if len(messages) != 1:
            problems.append(f"{shape}: {len(messages)} English sh:message")
        if shape in named and not any(isinstance(l, Literal) and l.language == "en" for l in shapes.objects(shape, RDFS.label)):
            problems.append(f"{shape}: no English rdfs:label")
    for shape in _reporting_shapes():
        if isinstance(shape, BNode):
            problems.append(f"a reporting shape is a blank node: {list(shapes.predicate_objects(shape))[:3]}")
    assert problems == []


def test_messages_start_with_an_imperative_verb():
    # "Give ...", "Make ...", not "Practice has no ..." (STYLE.md: say how to fix the data).
    verbs = {
        "Give", "Make", "File", "Use", "Type", "Point", "Name", "List", "Implement", "Break", "Merge",
        "Attach", "Do", "Say", "Put", "Record", "Find", "Check", "Cite", "Let", "Note", "Link",
    }
    shapes = _shapes()
    bad = [str(m) for m in shapes.objects(None, SH.message) if str(m).split()[0] not in verbs]
    assert bad == []


def test_each_file_holds_shapes_of_its_own_severity():
    expected = {"violations.ttl": SH.Violation, "warnings.ttl": SH.Warning, "infos.ttl": SH.Info}
    for name, severity in expected.items():
        graph = Graph().parse(SETTINGS.shapes_dir / name)
        targets = (SH.targetClass, SH.targetSubjectsOf, SH.targetObjectsOf, SH.target)
        targeted = {s for t in targets for s in graph.subjects(t, None)}
        assert targeted, name
        for shape in targeted:
            assert graph.value(shape, SH.severity) == severity, f"{name}: {shape}"


# --------------------------------------------------------------------------- vocabulary


#: Standard vocabularies, as rdflib's closed namespaces (a misspelt term is not "in" them).
STANDARD = [getattr(rdflib_namespace, n) for n in ("RDF", "RDFS", "OWL", "XSD", "SKOS", "DCTERMS", "PROV", "ORG", "SDO", "FOAF", "DCAT")]


def _terms_used_by_shapes() -> set[URIRef]:
    shapes = _shapes()
    terms: set[URIRef] = set()
    for prop in (SH.targetClass, SH["class"], SH.targetSubjectsOf, SH.targetObjectsOf, SH.equals, SH.lessThanOrEquals):
        terms |= {o for o in shapes.objects(None, prop) if isinstance(o, URIRef)}
    for path in shapes.objects(None, SH.path):
        if isinstance(path, URIRef):
            terms.add(path)
        else:
            for p in (SH.inversePath, SH.oneOrMorePath, SH.zeroOrMorePath):
                terms |= {o for o in shapes.objects(path, p) if isinstance(o, URIRef)}
    # Concepts and schemes the shapes name (sh:in, sh:hasValue).
    for holder in (SH.hasValue,):
        terms |= {o for o in shapes.objects(None, holder) if isinstance(o, URIRef)}
    for lst in shapes.objects(None, SH["in"]):
        terms |= {o for o in shapes.items(lst) if isinstance(o, URIRef)}
    return terms


def test_every_term_the_shapes_use_is_declared():
    ontology_file = SETTINGS.ontology_dir / "icgraph.ttl"
    # Fail, not skip: the shapes are meaningless without the ontology they target.
    assert ontology_file.is_file(), f"{ontology_file} does not exist yet"
    ontology = Graph().parse(ontology_file)
    vocabularies = Graph()
    for path in sorted((SETTINGS.ontology_dir / "vocabularies").glob("*.ttl")):
        vocabularies.parse(path)
    undeclared = []
    for term in sorted(_terms_used_by_shapes()):
        if term.startswith(str(ICG)):
            ok = (term, RDF.type, None) in ontology
        elif term.startswith(str(ID)):
            ok = (term, RDF.type, None) in vocabularies
        else:
            ok = any(term.startswith(str(ns)) and term in ns for ns in STANDARD)
        if not ok:
            undeclared.append(compact(term))
    assert undeclared == []


def test_ontology_makes_every_actor_kind_a_disjoint_actor_class():
    # The actor shapes target icg:Actor and read the kinds from owl:AllDisjointClasses;
    # they reach icg:LocalAuthority & co. only through ontology/icgraph.ttl.
    ontology_file = SETTINGS.ontology_dir / "icgraph.ttl"
    assert ontology_file.is_file(), f"{ontology_file} does not exist yet"
    ontology = Graph().parse(ontology_file)
    kinds = [
        "NationalAuthority", "RegionalAuthority", "LocalAuthority", "CivilSocietyOrganisation", "Network",
        "InternationalOrganisation", "AcademicInstitution", "PrivateCompany", "PublicServiceProvider", "MediaOrganisation",
    ]
    missing = [k for k in kinds if ICG.Actor not in set(ontology.transitive_objects(ICG[k], RDFS.subClassOf))]
    assert missing == []
    disjoint = {
        m for d in ontology.subjects(RDF.type, OWL.AllDisjointClasses) for m in ontology.items(ontology.value(d, OWL.members))
    }
    assert [k for k in kinds if ICG[k] not in disjoint] == []


# --------------------------------------------------------------------------- report


def test_report_formats_carry_label_line_and_fix():
    result = _results_of(drop(B, "icg:principle") + " ; " + drop("actor:council-of-europe", "icg:sourceLine"))
    assert not result.conforms
    assert result.counts == {"Violation": 1, "Warning": 1, "Info": 0}
    text = format_report(result, "text")
    assert text.index("VIOLATIONS") < text.index("WARNINGS")
    assert "line 1535" in text and '"Anti-rumours strategy"' in text
    assert "Give the practice exactly one principle" in text
    issues = json.loads(format_report(result, "json"))
    principle = next(i for i in issues if i["shape"] == "icgsh:PracticePrinciple")
    assert principle["source_line"] == 1535
    assert principle["focus_label"] == "Anti-rumours strategy"
    assert principle["path"] == "icg:principle"
    report = Graph().parse(data=format_report(result, "ttl"), format="turtle")
    assert (None, RDF.type, SH.ValidationReport) in report
    assert len(list(report.objects(None, SH.result))) == 2


def test_hash_iri_results_borrow_their_owners_line():
    result = _results_of(drop(BREF, "schema:url"))
    hit = next(i for i in result.issues if i.shape == "icgsh:ReferenceLinkOrPlaceholder")
    assert hit.source_line == 1535
    assert hit.focus_label == "Bilbao anti-rumours network"


def test_dataset_named_graphs_are_validated_together():
    from rdflib import Dataset

    from icgraph.namespaces import COMPENDIUM_GRAPH, CURATION_GRAPH

    dataset = Dataset()
    valid = _valid()
    compendium = dataset.graph(COMPENDIUM_GRAPH)
    curation = dataset.graph(CURATION_GRAPH)
    for s, p, o in valid:
        (compendium if "practice/" in str(s) and "#p-" not in str(s) else curation).add((s, p, o))
    result = validate(dataset, SETTINGS, ontology=_stub())
    assert result.issues == [], format_report(result)


def test_a_shape_pyshacl_cannot_run_is_an_error_that_says_so(tmp_path):
    """SHACL forbids VALUES in a SPARQL constraint; pySHACL then returns no report, which must not pass as one."""
    broken = tmp_path / "shapes"
    broken.mkdir()
    for name in SHAPE_FILES:
        (broken / name).write_text((SETTINGS.shapes_dir / name).read_text(encoding="utf-8"), encoding="utf-8")
    warnings = broken / "warnings.ttl"
    text = warnings.read_text(encoding="utf-8")
    fixed = "FILTER NOT EXISTS { $this icg:hasParticipation/icg:role ?role . FILTER(?role IN (role:lead, role:initiator, role:coordinator, role:chair)) }"
    assert fixed in text
    warnings.write_text(text.replace(fixed, "FILTER NOT EXISTS { $this icg:hasParticipation/icg:role ?role . VALUES ?role { role:lead } }"), encoding="utf-8")
    graph = _valid()
    graph.update(PREFIXES + f'INSERT DATA {{ {AER} icg:process "The project is led by the Assembly of European Regions."@en }}')
    settings = Settings(project_dir=tmp_path)
    with pytest.raises(ValueError, match="cannot run"):
        validate(graph, settings, ontology=_stub())


# --------------------------------------------------------------------------- worker processes


def test_worker_processes_report_exactly_what_one_process_reports():
    """`processes` only shares the shapes out among forked workers: the same issues, the same report graph."""
    from collections import Counter

    from rdflib.compare import isomorphic

    graph = _valid()
    for case in FIRES:
        graph.update(PREFIXES + case.update)
    one = validate(graph, SETTINGS, ontology=_stub())
    assert len({i.shape for i in one.violations}) > 20
    with validating(graph, SETTINGS, ontology=_stub(), background=True) as in_a_worker:
        beside = in_a_worker()
    for shared in (validate(graph, SETTINGS, ontology=_stub(), processes=2),
                   validate(graph, SETTINGS, ontology=_stub(), processes=3), beside):
        assert Counter(shared.issues) == Counter(one.issues)
        assert shared.counts == one.counts and shared.conforms == one.conforms
        assert isomorphic(shared.report_graph, one.report_graph)
        assert shared.cpu_seconds > 0


def test_each_worker_runs_its_share_of_the_targeted_shapes_once():
    from icgraph.validate import grouped_tasks, load_shapes, shape_tasks

    tasks = shape_tasks(load_shapes(SETTINGS))
    helpers = tasks[0][1:]
    for workers in (1, 2, 3, len(tasks) + 5):
        runs = grouped_tasks(tasks, workers)
        assert len(runs) == min(workers, len(tasks))
        targeted = [shape for run in runs for shape in run[: len(run) - len(helpers)]]
        assert sorted(targeted) == sorted(task[0] for task in tasks), "each targeted shape in exactly one run"
        assert all(run[len(run) - len(helpers):] == helpers for run in runs), "every run sees the shapes others refer to"


def test_shapes_are_shared_out_only_when_the_runs_add_up_to_one():
    from icgraph.validate import load_shapes, shape_tasks

    tasks = shape_tasks(load_shapes(SETTINGS))
    targeted = [task[0] for task in tasks]
    assert f"{ICGSH}ActorKind" in targeted and f"{ICGSH}DisjointActorKind" not in targeted
    assert all(f"{ICGSH}DisjointActorKind" in task for task in tasks), "every run sees the shapes others refer to"

    shapes = Graph()
    shapes.parse(
        data=f"""@prefix sh: <http://www.w3.org/ns/shacl#> . @prefix icgsh: <{ICGSH}> .
        icgsh:A a sh:NodeShape ; sh:targetClass icgsh:C ; sh:node icgsh:B .
        icgsh:B a sh:NodeShape ; sh:targetClass icgsh:D .""",
        format="turtle",
    )
    assert shape_tasks(shapes) is None, "a targeted shape another one refers to would run twice or not at all"


# --------------------------------------------------------------------------- speed


def synthetic_graph(copies: int) -> Graph:
    """`copies` renamed copies of valid.ttl (about 110 triples each), sharing places and concepts."""
    valid = _valid()
    renamed = tuple(str(ID) + kind for kind in ("practice/", "actor/", "partnership/", "membership/"))
    graph = Graph()
    for n in range(copies):
        def rename(term):
            if isinstance(term, URIRef) and str(term).startswith(renamed):
                return URIRef(f"{term}-{n}")
            return term

        for s, p, o in valid:
            if isinstance(o, Literal) and o.language == "en" and n and str(s).startswith(renamed):
                o = Literal(f"{o} {n}", lang="en")  # distinct names: no duplicate actors
            graph.add((rename(s), p, rename(o)))
    return graph


@pytest.mark.slow
def test_a_graph_the_size_of_the_full_build_validates_without_false_alarms():
    """No shape over-fires on valid data at full scale (the time it takes is a benchmark, bench/, not a test)."""
    graph = synthetic_graph(280)  # about 30,000 triples, like the full build
    assert len(graph) > 25_000
    result = validate(graph, SETTINGS, ontology=_stub())
    assert result.issues == [], format_report(result)[:2000]
    assert result.triples >= len(graph)
