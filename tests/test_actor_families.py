"""Who did what (issue 25, part a): every actor belongs to one family of institutions, a concept of
ontology/vocabularies/actor-families.ttl, chosen by the rule of data/curation/README.md."""

from __future__ import annotations

import pytest
from rdflib import Graph, URIRef
from rdflib.namespace import SKOS

from icgraph.config import Settings
from icgraph.mapping.curation import read_curation
from icgraph.namespaces import FAMILY, sparql_prefixes

SETTINGS = Settings()
SCHEME = URIRef(str(FAMILY).rstrip("/"))


def _families(store) -> dict[str, str]:
    rows = store.query(sparql_prefixes() + "SELECT ?a ?f WHERE { ?a a icg:Actor ; icg:actorFamily/skos:notation ?f }")
    return {row["a"].value.rsplit("/", 1)[1]: row["f"].value for row in rows}


def test_the_scheme_has_the_families_the_issue_names():
    scheme = Graph().parse(SETTINGS.ontology_dir / "vocabularies" / "actor-families.ttl")
    notations = {str(scheme.value(c, SKOS.notation)) for c in scheme.subjects(SKOS.inScheme, SCHEME)}
    assert {"un-system", "eu-institution", "council-of-europe", "national-government", "association-of-authorities", "project-consortium", "faith-organisation"} <= notations
    assert all(scheme.value(c, SKOS.definition) is not None for c in scheme.subjects(SKOS.inScheme, SCHEME))


def test_every_actor_has_exactly_one_family(store):
    rows = store.query(sparql_prefixes() + """
        SELECT ?a (COUNT(DISTINCT ?f) AS ?n) WHERE { ?a a icg:Actor . OPTIONAL { ?a icg:actorFamily ?f } } GROUP BY ?a""")
    counts = {row["a"].value: int(row["n"].value) for row in rows}
    assert len(counts) == 323
    assert {a: n for a, n in counts.items() if n != 1} == {}


@pytest.mark.parametrize(
    "family, actors",
    [
        ("un-system", ["unhcr", "unicef", "international-organization-for-migration", "iom-estonia"]),
        ("eu-institution", ["european-union", "european-commission", "fra", "dg-migration-and-home-affairs", "eu-delegation-to-turkiye"]),
        ("council-of-europe", ["council-of-europe", "cdadi", "adi-int", "intercultural-cities-programme", "gt-adi-int"]),
        ("association-of-authorities", ["eurocities", "assembly-of-european-regions", "reci", "rpci", "citta-del-dialogo", "syvicol"]),
        ("project-consortium", ["eu-belong", "itaca-project", "net-idea-project", "divercities-project"]),
        ("parliament", ["is-althingi", "sami-parliament-of-norway", "gb-all-party-parliamentary-group-on-faith-and-society"]),
        ("trade-union", ["ugt", "ugt-sp"]),
    ],
)
def test_bodies_beyond_their_kind_have_their_family(store, family, actors):
    families = _families(store)
    assert {a: families.get(a) for a in actors} == {a: family for a in actors}


def test_a_family_never_contradicts_the_kind():
    """Ministries are national governments, city councils local ones, schools public services: one rule everywhere."""
    by_kind = {
        "LocalAuthority": {"family:local-government"},
        "RegionalAuthority": {"family:regional-government"},
        "NationalAuthority": {"family:national-government", "family:parliament"},
        "AcademicInstitution": {"family:academia"},
        "PublicServiceProvider": {"family:public-service"},
        "PrivateCompany": {"family:business"},
        "MediaOrganisation": {"family:media"},
        "CivilSocietyOrganisation": {"family:civil-society", "family:trade-union", "family:faith-organisation"},
    }
    actors = [a for _, a in read_curation(SETTINGS.curation_dir).entries["actors"]]
    assert len([a for a in actors if a["kind"] in by_kind]) > 250
    wrong = {a["id"]: (a["kind"], a.get("family")) for a in actors if a["kind"] in by_kind and a.get("family") not in by_kind[a["kind"]]}
    assert wrong == {}
