"""Every namespace icgraph uses, in one place. Modules import from here; no IRI literals elsewhere."""

from __future__ import annotations

from rdflib import Namespace
from rdflib.namespace import DCAT, DCTERMS, FOAF, OWL, PROV, RDF, RDFS, SDO, SKOS, VOID, XSD, ORG

ROOT = "https://w3id.org/icgraph/"

ICG = Namespace(ROOT + "def#")
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
