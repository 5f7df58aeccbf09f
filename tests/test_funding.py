"""Who funds what for whom (issue 25, part b): funding as a qualified relation, funding programmes as entities.

Each programme the compendium names (Erasmus+, Rights, Equality and Citizenship, CERV, AMIF, FRIT,
EEA Grants) is an icg:FundingProgramme with the institution whose programme the text says it is and
the lines that name it; each practice funded through one links funder, programme, recipient and
purpose in an icg:Funding, checked here against the source lines.
"""

from __future__ import annotations


import pytest
import yaml

from icgraph.config import Settings
from icgraph.mapping.curation import CurationError, map_curation
from icgraph.namespaces import sparql_prefixes

SETTINGS = Settings()
LINES = (SETTINGS.sources_dir / "cdadi-2024-39-compendium.txt").read_text(encoding="utf-8").splitlines()


def _values(store, query, *names):
    rows = store.query(sparql_prefixes() + query)
    return {tuple(row[n].value if row[n] is not None else None for n in names) for row in rows}


@pytest.mark.parametrize(
    "programme, operators, line, words",
    [
        ("erasmus-plus", {"european-union"}, 365, "ERASMUS+ EU Programme"),
        ("rights-equality-and-citizenship", {"european-commission"}, 506, "European Commission through the “Rights, Equality and Citizenship” Programme"),
        ("amif", {"european-union"}, 1535, "European Union's Asylum, Migration and Integration Fund (AMIF)"),
        ("frit", {"european-union"}, 1130, "European Union (EU) under the Facility for Refugees in Türkiye (FRIT)"),
        ("cerv", {"european-union"}, 1437, "EU CERV PROGRAM"),
        ("eea-grants-2014-2021", {"government-no", "government-is", "government-li"}, 449, "donor countries (Norway, Iceland, Liechtenstein)"),
    ],
)
def test_a_funding_programme_has_the_operator_and_the_line_the_text_gives(store, programme, operators, line, words):
    assert words in LINES[line - 1]
    rows = _values(store, f"""
        SELECT ?operator ?line WHERE {{ programme:{programme} a icg:FundingProgramme ; skos:prefLabel ?name ;
          icg:operatedBy ?operator ; icg:sourceLine ?line }}""", "operator", "line")
    assert {o.rsplit("/", 1)[1] for o, _ in rows} == operators
    assert str(line) in {n for _, n in rows}


@pytest.mark.parametrize(
    "practice, funder, programme, recipient, line",
    [
        ("social-safety-net-to-refugees-in-turkiye-ssn", "european-union", "frit", "tr-ministry-of-family-and-social-services", 1130),
        ("inclusion-and-empowerment-of-roma", "eea-grants", "eea-grants-2014-2021", "government-gr", 449),
        ("itaca-italian-cities-against-discrimination", "european-commission", "rights-equality-and-citizenship", None, 506),
        ("patras-241fe-241-female-entrepreneurship", "european-union", "erasmus-plus", None, 365),
        ("gestion-y-atencion-a-la-diversidad-en-la", "european-union", "amif", None, 1535),
    ],
)
def test_a_practice_funded_through_a_programme_names_funder_programme_recipient_and_purpose(store, practice, funder, programme, recipient, line):
    rows = _values(store, f"""
        SELECT ?funder ?programme ?recipient ?purpose ?line WHERE {{
          practice:{practice} icg:qualifiedFunding ?f .
          ?f a icg:Funding ; icg:funder ?funder ; icg:fundingProgramme ?programme ; icg:fundingPurpose ?purpose ; icg:sourceLine ?line .
          OPTIONAL {{ ?f icg:recipient ?recipient }} }}""", "funder", "programme", "recipient", "purpose", "line")
    assert rows
    got = {(f.rsplit("/", 1)[1], p.rsplit("/", 1)[1], r.rsplit("/", 1)[1] if r else None, n) for f, p, r, _, n in rows}
    assert (funder, programme, recipient, str(line)) in got


def test_a_submission_for_funding_is_kept_as_an_uncertain_reading(store):
    """PROTECT "was submitted for funding under the EU CERV PROGRAM" (1437): not said to be granted."""
    assert "submitted for funding" in LINES[1437 - 1]
    rows = _values(store, """
        SELECT ?why WHERE { practice:protect-partnerships-responding-to-online-threats-and-empowering icg:qualifiedFunding ?f .
          ?f icg:fundingProgramme programme:cerv ; icg:ambiguityNote ?why }""", "why")
    assert len(rows) == 1


def test_every_funding_programme_is_used_and_every_funding_cites_a_line(store):
    unused = _values(store, "SELECT ?p WHERE { ?p a icg:FundingProgramme FILTER NOT EXISTS { ?f icg:fundingProgramme ?p } }", "p")
    unlined = _values(store, "SELECT ?f WHERE { ?f a icg:Funding FILTER NOT EXISTS { ?f icg:sourceLine ?n } }", "f")
    assert unused == set() and unlined == set()
    assert len(_values(store, "SELECT ?p WHERE { ?p a icg:FundingProgramme }", "p")) == 6


def _folder(tmp_path, document):
    folder = tmp_path / "curation"
    folder.mkdir()
    (folder / "xx.yaml").write_text(yaml.safe_dump(document), encoding="utf-8")
    return folder


@pytest.mark.parametrize(
    "funded, fix",
    [
        ({"purpose": "a project", "lines": [3]}, "needs `funder:` or `programme:`"),
        ({"programme": "programme:erasmus", "lines": [3]}, "which no curation file defines"),
        ({"programme": "programme:x", "lines": [3], "amount": 5}, "unknown key"),
        ({"programme": "programme:x"}, "and `lines:`"),
    ],
)
def test_a_funded_through_entry_without_funder_line_or_defined_programme_is_refused(tmp_path, funded, fix):
    folder = _folder(tmp_path, {
        "programmes": [{"id": "programme:x", "name": "X programme", "lines": [2]}],
        "practices": [{"practice": "practice:p", "participationNote": "none", "fundedThrough": [funded]}],
    })
    with pytest.raises(CurationError) as error:
        map_curation(folder, known_practices={"practice:p"})
    assert fix in str(error.value)
