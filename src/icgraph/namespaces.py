"""Every namespace icgraph uses, in one place. Modules import from here; no IRI literals elsewhere."""

from __future__ import annotations

from rdflib import Namespace, URIRef
from rdflib.namespace import DefinedNamespace
from rdflib.namespace import DCAT, DCTERMS, FOAF, OWL, PROV, RDF, RDFS, SDO, SKOS, VOID, XSD, ORG

ROOT = "https://w3id.org/icgraph/"


class ICG(DefinedNamespace):
    """The icgraph ontology (ontology/icgraph.ttl): every class and property, closed so a misspelt term is an error.

    tests/test_ontology.py keeps this list equal to the terms the ontology declares.
    """

    _NS = Namespace(ROOT + "def#")
    _fail = True

    # Classes
    AcademicInstitution: URIRef  # A university, college or research institute.
    Actor: URIRef  # A real-world organisation named by the sources as taking part in a practice, a partnership or a network.
    ActorGroup: URIRef  # A generic mention of a kind of organisation in the text of one practice, such as "local authorities" or ...
    AgendaItem: URIRef  # A numbered item of the agenda of a meeting.
    CivilSocietyOrganisation: URIRef  # A non-governmental, non-profit organisation: an association, foundation, charity, community or religious ...
    CooperationEdge: URIRef  # The cooperation of two agents (actors or actor groups) in one practice or partnership, with the governance ...
    Country: URIRef  # A sovereign state, identified by its ISO 3166-1 alpha-2 code.
    DateStatement: URIRef  # A start year, end year or ongoing status of a practice as one or more lines of the source state it ...
    Decision: URIRef  # A numbered entry of the list of decisions of a meeting.
    Funding: URIRef  # The funding of a practice as the text states it: who funds it, through which programme, for whom and for ...
    FundingProgramme: URIRef  # A funding programme or instrument through which an institution funds practices, such as Erasmus+, ...
    InternationalOrganisation: URIRef  # An intergovernmental or supranational organisation, or one of its bodies, such as the Council of Europe, ...
    LocalAuthority: URIRef  # A public authority of a municipality, city, town or borough, or one of its departments.
    MediaOrganisation: URIRef  # A broadcaster, newspaper, news agency or other organisation that publishes news or media content.
    Meeting: URIRef  # A meeting of a working group, with its agenda, decisions and participants.
    MultilevelPractice: URIRef  # A practice whose participants work at two or more different governance levels.
    Municipality: URIRef  # A city, town, borough or other local administrative unit.
    NationalAuthority: URIRef  # A public authority of a state acting at national level: a government, ministry, national agency or ...
    Network: URIRef  # A network, programme or consortium whose members are other organisations, such as the Intercultural Cities ...
    Participation: URIRef  # The taking part of one actor or actor group in one practice, in one role (lead, funder, partner, ...), ...
    Partnership: URIRef  # A standing arrangement between named organisations, such as a pact, agreement, board, consortium or ...
    Place: URIRef  # A country, region or municipality named by the sources.
    Practice: URIRef  # A good practice in intercultural integration or multilevel governance as described in the Compendium: a ...
    PrivateCompany: URIRef  # A for-profit business.
    PublicAuthority: URIRef  # A public authority that governs a territory: the common superclass of national, regional and local ...
    PublicServiceProvider: URIRef  # An organisation that delivers a public service to people, such as a school, hospital, employment service, ...
    QuantitativeOutcome: URIRef  # A figure the text reports as a result of a practice (for example "clients from 29 different countries"): ...
    Reference: URIRef  # A link printed with a practice: its link text (rdfs:label) and, where the document gives one, its web ...
    Region: URIRef  # A territorial subdivision of a country above the municipalities (region, province, canton, county, ...
    RegionalAuthority: URIRef  # A public authority of a region, province, canton, county or autonomous community.
    RoadmapItem: URIRef  # A task of a working group's roadmap, with the actions planned for its coming meetings.
    WorkingGroup: URIRef  # A working group or committee of experts set up within an organisation, such as the Working Group on ...

    # Object properties
    actorFamily: URIRef  # The family of institutions an actor belongs to (UN system, EU institutions, Council of Europe bodies, ...
    agendaItem: URIRef  # An item of the agenda of the meeting.
    agent: URIRef  # The actor or actor group that takes part.
    areaOfIntervention: URIRef  # A policy area the practice addresses, a concept of the area-of-intervention scheme.
    cooperatesWith: URIRef  # Two named organisations take part in the same practice or are partners in the same partnership.
    country: URIRef  # The country a practice is listed under in the Compendium, or the country an organisation belongs to.
    dateStatement: URIRef  # A start year, end year or ongoing status that the text of the practice states, with its lines.
    decision: URIRef  # A decision taken at the meeting.
    fromAgent: URIRef  # The agent at the more local end of a cooperation edge.
    fromLevel: URIRef  # The governance level of the from agent of a cooperation edge.
    funder: URIRef  # The organisation that provided an amount of funding.
    funding: URIRef  # An amount of money that the text says was spent on or granted to the practice, given as a ...
    fundingProgramme: URIRef  # The programme or instrument through which the funding is given.
    governanceLevel: URIRef  # The level of governance an actor or actor group works at, a concept of the level scheme (local, regional, ...
    hasMeeting: URIRef  # A meeting held by the organisation.
    hasParticipation: URIRef  # A participation of an actor or actor group in the practice.
    implementedIn: URIRef  # A city, region or country where the practice is carried out.
    memberKind: URIRef  # The class of actor (for example icg:LocalAuthority) that the organisations of an actor group belong to.
    operatedBy: URIRef  # The institution whose programme the funding programme is, as the text states it.
    outcome: URIRef  # A quantitative result reported for the practice.
    partner: URIRef  # An organisation that is party to the partnership.
    partnershipKind: URIRef  # The kind of partnership, a concept of the partnership-kind scheme.
    plannedFor: URIRef  # A meeting at which the actions of a roadmap item are planned to be taken up.
    practice: URIRef  # The practice a participation belongs to.
    practiceType: URIRef  # The kind of practice (strategy, project, service, ...) as stated in the Type field of the Compendium, a ...
    principle: URIRef  # The principle of intercultural integration under which the Compendium lists the practice (one of the ...
    qualifiedFunding: URIRef  # A funding of the practice, with its funder, programme, recipient, purpose and source lines.
    recipient: URIRef  # The organisation the text says receives the funding (for example the lead applicant of a grant).
    reference: URIRef  # A link printed with the practice, in the order of the document (practice:SLUG#ref-1, #ref-2, ...).
    represents: URIRef  # The member state, region or city on whose behalf the member of a membership sits in the body.
    roadmapItem: URIRef  # A task of the roadmap agreed by a working group or at a meeting.
    role: URIRef  # The role the agent plays in the practice, a concept of the participation-role scheme.
    spansLevel: URIRef  # A governance level at which at least one participant (actor or actor group) of the practice works.
    targetGroup: URIRef  # A group of people the practice is meant to reach or benefit, a concept of the target-group scheme.
    toAgent: URIRef  # The agent at the wider end of a cooperation edge.
    toLevel: URIRef  # The governance level of the to agent of a cooperation edge.
    viaPartnership: URIRef  # The partnership to which the two agents of a cooperation edge are both party.
    viaPractice: URIRef  # The practice in which the two agents of a cooperation edge both take part.
    withinPractice: URIRef  # The practice that set up or describes the partnership.
    establishes: URIRef  # A partnership, network, board, council, committee or unit that the text says the practice set up.
    carriedOutBy: URIRef  # The partnership, consortium, network, board or committee whose work the practice is.
    buildsOn: URIRef  # A practice, programme or body whose work the text says the practice builds on or follows.
    inspiredBy: URIRef  # A practice, programme or body that the text says inspired the practice.
    supports: URIRef  # Support (technical, financial or in kind) that the text says an organisation gives to an organisation or practice.
    disseminationChannel: URIRef  # A network or organisation the text names as a route for disseminating the practice's results.
    statedIn: URIRef  # The practice whose text states the relation that an rdf:Statement restates.

    # Datatype properties
    aim: URIRef  # The Aim section of a practice: the objective it pursues.
    ambiguityNote: URIRef  # A curator's note that the reading of the source is uncertain, and why.
    areaAsPrinted: URIRef  # One item of the Area(s) of intervention field of a practice exactly as printed in the Compendium.
    asPrinted: URIRef  # The words of the source from which a curated value (an amount, a figure) was read, exactly as printed.
    attendance: URIRef  # Whether a member attended the meeting, as printed in the list of participants: "confirmed" or "apologised".
    computedFrom: URIRef  # The words of the source from which a year was computed rather than read, with the computation.
    crossesLevels: URIRef  # True when the two agents of a cooperation edge work at different governance levels (vertical cooperation), ...
    durationAsPrinted: URIRef  # The Duration field of a practice exactly as printed in the Compendium.
    endLine: URIRef  # The last line (1-based) of the source text from which an entity was derived.
    endYear: URIRef  # The year in which a practice, membership or partnership ended or is planned to end.
    furtherInformation: URIRef  # The Further information section of a practice, as text (its links are given by icg:reference).
    geonamesId: URIRef  # The GeoNames feature identifier of a place; owl:sameAs links to the same feature's IRI.
    fundingPurpose: URIRef  # What the text says the funding is for.
    leadingAuthorityAsPrinted: URIRef  # The "Leading authority" line of a practice exactly as printed in the Compendium.
    implementingPartnersAsPrinted: URIRef  # The "Implementing partners" line of a practice exactly as printed in the Compendium.
    headingAsPrinted: URIRef  # The heading line of the practice exactly as printed in the body of the Compendium, prefix included.
    headingPrefix: URIRef  # The upper-case prefix printed before the title of a practice, usually the city, region or organisation ...
    impact: URIRef  # The Impact section of a practice: the results and effects it reports.
    isoCode: URIRef  # The ISO 3166-1 alpha-2 code of a country ("ES") or the ISO 3166-2 code of a subdivision ("ES-CT").
    keyReferenceText: URIRef  # The Key reference text section of a practice: the law, strategy or document it is based on.
    leadNote: URIRef  # A curator's note, given when the text of a practice names no organisation that leads, initiates, ...
    levelCount: URIRef  # The number of distinct governance levels the participants of the practice work at.
    linkWithoutAddress: URIRef  # True when the source prints the link text with a placeholder (#) instead of a web address.
    number: URIRef  # The number printed for an item in its list: a meeting's ordinal (1 for the 1st meeting), an agenda item's ...
    ongoing: URIRef  # True when the Compendium describes the practice as ongoing or permanent, with no end date.
    page: URIRef  # The page of the printed source document on which the derived entity starts.
    participationNote: URIRef  # A curator's note on who takes part in a practice, given when the text names no organisation at all.
    position: URIRef  # The job title and office of a member, as printed in the list of participants.
    process: URIRef  # The Process section of a practice: how it was designed and implemented, and by whom.
    purpose: URIRef  # The Purpose section of a practice: what the practice sets out to do.
    rank: URIRef  # The position of a concept in the natural order of its scheme; for governance levels, 1 is local and 5 ...
    rationale: URIRef  # The Rationale section of a practice: why it was put in place.
    sourceLine: URIRef  # A line (1-based) of the source text that states a curated fact; repeated when several lines do.
    startLine: URIRef  # The first line (1-based) of the source text from which an entity was derived.
    startYear: URIRef  # The year in which a practice, membership or partnership started.
    transnational: URIRef  # True when the practice is listed under a transnational organisation rather than under a country (for ...
    typeAsPrinted: URIRef  # The Type field of a practice exactly as printed in the Compendium.


#: The ontology itself (owl:Ontology of ontology/icgraph.ttl); its terms are ICG.
ICG_ONTOLOGY = URIRef(ROOT + "def")
ID = Namespace(ROOT + "id/")
GRAPH = Namespace(ROOT + "graph/")

PRACTICE = Namespace(ID + "practice/")
ACTOR = Namespace(ID + "actor/")
PLACE = Namespace(ID + "place/")
PARTNERSHIP = Namespace(ID + "partnership/")
SOURCE = Namespace(ID + "source/")

LEVEL = Namespace(ID + "level/")
ROLE = Namespace(ID + "role/")
MROLE = Namespace(ID + "membership-role/")
PRINCIPLE = Namespace(ID + "principle/")
PTYPE = Namespace(ID + "practice-type/")
AREA = Namespace(ID + "area/")
TARGET = Namespace(ID + "target-group/")
PKIND = Namespace(ID + "partnership-kind/")
PROGRAMME = Namespace(ID + "programme/")
FAMILY = Namespace(ID + "actor-family/")

#: icgraph's SPARQL extension functions (icgf:match, icgf:score: icgraph.sparql.functions, docs/search.md).
#: Not in PREFIXES (the JSON-LD context's): a query declares it, ``PREFIX icgf: <https://w3id.org/icgraph/def/function#>``.
FUNCTION = Namespace(ROOT + "def/function#")

CV = Namespace("http://data.europa.eu/m8g/")
LOCN = Namespace("http://www.w3.org/ns/locn#")
VANN = Namespace("http://purl.org/vocab/vann/")
SD = Namespace("http://www.w3.org/ns/sparql-service-description#")
SH = Namespace("http://www.w3.org/ns/shacl#")
SCHEMA = SDO  # https://schema.org/

# The named graphs of a build (docs/design.md, "Named graphs").
ONTOLOGY_GRAPH = GRAPH.ontology
VOCABULARIES_GRAPH = GRAPH.vocabularies
COMPENDIUM_GRAPH = GRAPH.compendium
MEETING_REPORT_GRAPH = GRAPH["meeting-report"]
CURATION_GRAPH = GRAPH.curation
PROVENANCE_GRAPH = GRAPH.provenance
INFERRED_GRAPH = GRAPH.inferred
#: Accepted contributions with their provenance (icgraph.contributions.publication); absent until one is accepted.
CONTRIBUTIONS_GRAPH = GRAPH.contributions

COMPENDIUM = SOURCE["cdadi-2024-39"]
MEETING_REPORT = SOURCE["gt-adi-int-2020-4"]

# Prefixes bound in every serialisation and offered to SPARQL users.
PREFIXES: dict[str, str] = {
    "icg": str(ICG),
    "id": str(ID),
    "graph": str(GRAPH),
    "practice": str(PRACTICE),
    "actor": str(ACTOR),
    "place": str(PLACE),
    "partnership": str(PARTNERSHIP),
    "source": str(SOURCE),
    "level": str(LEVEL),
    "role": str(ROLE),
    "mrole": str(MROLE),
    "principle": str(PRINCIPLE),
    "ptype": str(PTYPE),
    "area": str(AREA),
    "target": str(TARGET),
    "pkind": str(PKIND),
    "programme": str(PROGRAMME),
    "family": str(FAMILY),
    "org": str(ORG),
    "skos": str(SKOS),
    "prov": str(PROV),
    "dct": str(DCTERMS),
    "schema": str(SCHEMA),
    "cv": str(CV),
    "locn": str(LOCN),
    "foaf": str(FOAF),
    "void": str(VOID),
    "dcat": str(DCAT),
    "owl": str(OWL),
    "rdf": str(RDF),
    "rdfs": str(RDFS),
    "xsd": str(XSD),
    "vann": str(VANN),
    "sh": str(SH),
}


def sparql_prefixes() -> str:
    """The PREFIXES as a SPARQL prologue."""
    return "".join(f"PREFIX {p}: <{iri}>\n" for p, iri in PREFIXES.items())


_BY_LENGTH = sorted(PREFIXES.items(), key=lambda item: len(item[1]), reverse=True)


def compact(iri) -> str:
    """An IRI (a string or an RDF term with ``.value``) as a prefixed name, ``actor:x``; ``<iri>`` when no prefix fits.

    The longest namespace wins (``actor:x`` rather than ``id:actor/x``). The one helper for
    compacting; `expand` is its inverse.
    """
    iri = getattr(iri, "value", iri)
    for prefix, namespace in _BY_LENGTH:
        if iri.startswith(namespace) and len(iri) > len(namespace):
            return f"{prefix}:{iri[len(namespace):]}"
    return f"<{iri}>"


def expand(curie: str) -> str:
    """The IRI of a prefixed name (``place:es``) or of ``<iri>``; anything else is returned as it is."""
    if curie.startswith("<") and curie.endswith(">"):
        return curie[1:-1]
    prefix, sep, local = curie.partition(":")
    if sep and prefix in PREFIXES and not local.startswith("//"):
        return PREFIXES[prefix] + local
    return curie


def local_name(iri, namespace) -> str | None:
    """The part of ``iri`` after ``namespace`` (``es`` for place:es in PLACE), or None when it is not in it."""
    iri, namespace = getattr(iri, "value", iri), str(namespace)
    return iri[len(namespace):] if iri.startswith(namespace) and len(iri) > len(namespace) else None
