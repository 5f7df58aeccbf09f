"""The compendium parser against CDADI(2024)39: the table of contents is the checklist."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from icgraph.ingest import SourceError
from icgraph.ingest.compendium import (
    KNOWN_SPELLING_DIFFERENCES,
    continues_after_page_break,
    parse_compendium,
    parse_duration,
    split_areas,
)

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "data" / "sources" / "cdadi-2024-39-compendium.txt"
INDEX = ROOT / "docs" / "practice-index.tsv"


@pytest.fixture(scope="module")
def parsed():
    return parse_compendium(SOURCE)


@pytest.fixture(scope="module")
def index():
    with INDEX.open(encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def test_parses_without_problems(parsed):
    assert [str(p) for p in parsed.problems] == []


def test_one_record_per_table_of_contents_entry(parsed, index):
    assert len(parsed.records) == 83
    assert [r.slug for r in parsed.records] == [row["slug"] for row in index]


def test_principle_country_and_prefix_follow_the_index(parsed, index):
    for record, row in zip(parsed.records, index):
        assert (record.principle, record.country_heading or "", record.prefix or "") == (
            row["principle"], row["country_heading"], row["prefix"]
        ), record.slug


def test_body_headings_match_toc_except_the_named_spelling_differences(parsed):
    toc = {e.line: e.text for e in parsed.toc}
    differing = {(toc[r.toc_line], r.heading) for r in parsed.records if toc[r.toc_line] != r.heading}
    assert differing == {(d.toc, d.body) for d in KNOWN_SPELLING_DIFFERENCES}
    assert sum(1 for r in parsed.records if r.spelling_difference) == len(KNOWN_SPELLING_DIFFERENCES) == 9


def test_titles_have_no_markup_and_no_prefix(parsed):
    for r in parsed.records:
        assert "<" not in r.title and "*" not in r.title and not r.title.endswith(".."), r.title
    assert parsed.by_slug("settle-in-estonia-client-portal-as-an-instrument").title.startswith(
        "The Settle in Estonia client portal"
    )


def test_practice_without_duration_line(parsed):
    r = parsed.by_slug("settle-in-estonia-client-portal-as-an-instrument")
    assert (r.start_line, r.end_line, r.page) == (181, 218, 8)
    assert r.country == "EE" and r.principle == "equality"
    assert r.type_as_printed == "public policy tool"
    assert r.areas_as_printed == ("Welcoming policies", "education")
    assert r.duration_as_printed is None and r.start_year is None and r.ongoing is None
    assert r.purpose.startswith("The purpose of the Settle in Estonia portal")
    assert r.rationale.startswith("The Settle in Estonia portal provides")
    assert r.label_of("rationale") == "Stimulus/Rationale"
    assert r.impact.endswith("participation in Estonia.")
    assert [ref.url for ref in r.references] == [
        "https://www.riigiteataja.ee/akt/129072016004?leiaKehtiv",
        "https://www.settleinestonia.ee/",
    ]


def test_duration_elaboration_period(parsed):
    r = parsed.by_slug("catalonia-inter-administrative-agreement-for-the-financing")
    assert r.label_of("duration") == "Duration/Elaboration Period"
    assert r.duration_as_printed == "2022-2026 (January to December of each year)"
    assert (r.start_year, r.end_year, r.ongoing) == (2022, 2026, None)
    assert r.areas_as_printed == ("human rights and anti-discrimination", "inclusion", "welcoming policies")
    assert r.label_of("impact") == "Impact/Outcomes"
    assert r.further_information.startswith("The budget for the action plan is €11,290,311.38.")
    bill = parsed.by_slug("catalonia-bill-against-racism-in-all-its-forms")
    assert bill.label_of("duration") == "Elaboration period" and (bill.start_year, bill.end_year) == (2021, 2022)


def test_organisation_prefix(parsed):
    r = parsed.by_slug("net-idea-network-of-european-towns-for-interculturalism")
    assert r.prefix == "ICEI – ISTITUTO DI COOPERAZIONE ECONOMICA INTERNAZIONALE"
    assert r.title == "NET-IDEA: Network of European Towns for Interculturalism, Diversity, Equality and Anti-discrimination"
    assert r.heading.endswith("Equality and Anti-Discrimination")
    assert r.country == "IT" and r.type_as_printed == "project"
    assert r.duration_as_printed == "May 2022 – April 2024 (24 months)" and (r.start_year, r.end_year) == (2022, 2024)
    assert r.further_information.startswith("this project is implemented in cooperation with the following partners:")


def test_place_prefix(parsed):
    r = parsed.by_slug("paris-improving-access-to-the-law")
    assert (r.prefix, r.title, r.country) == ("PARIS", "Improving access to the law", "FR")
    assert r.duration_as_printed == "Roadmap for access to the law (2022-2026)"
    assert (r.start_year, r.end_year) == (2022, 2026)
    assert r.aim.startswith("The aim of the roadmap for access to the law")
    assert r.areas_as_printed == ("equal rights and opportunities",)
    neuchatel = parsed.by_slug("canton-of-neuchatel-implementation-of-the-roadmap")
    assert neuchatel.prefix == "CANTON OF NEUCHÂTEL" and neuchatel.country == "CH"


def test_canada_chapter(parsed):
    r = parsed.by_slug("insights-from-the-canadian-approach-to-immigrant-integration")
    assert (r.principle, r.country_heading, r.country, r.transnational) == ("canada", "CANADA", "CA", False)
    assert r.type_as_printed is None and r.areas_as_printed == () and r.labels == ()
    assert r.description.startswith("Within Canada's managed migration model")
    assert "$1.097 billion CAD" in r.description
    assert (r.start_line, r.page) == (3164, 125)


def test_assembly_of_european_regions_entries_are_transnational(parsed):
    aer = [r for r in parsed.records if r.country_heading == "ASSEMBLY OF EUROPEAN REGIONS"]
    assert [r.slug for r in aer] == [
        "eu-belong-an-intercultural-approach-to-migrant-integration",
        "intercultural-regions-network",
    ]
    assert all(r.transnational and r.country is None and r.principle == "interaction" for r in aer)
    assert aer[0].key_reference_text.startswith("- EU-Belong website: https://eu-belong.aer.eu/")


def test_country_codes(parsed):
    codes = {r.country_heading: r.country for r in parsed.records}
    assert codes["TÜRKİYE"] == "TR" and codes["UNITED KINGDOM"] == "GB" and codes["NORTH MACEDONIA"] == "MK"
    assert all(r.country or r.transnational for r in parsed.records)


def test_stimulus_rationale_and_process_is_the_rationale(parsed):
    r = parsed.by_slug("establishment-of-tallinn-migration-centre-tmc")
    assert r.label_of("rationale") == "Stimulus/Rationale and Process"
    assert r.rationale.startswith("The Tallinn Migration Centre (TMC) was initiated")
    assert (r.duration_as_printed, r.start_year, r.ongoing) == ("2022-ongoing", 2022, True)
    assert r.areas_as_printed == ("Health, social care and family support", "access to job market", "safe housing", "anti-rumours")


def test_rationale_label_alone(parsed):
    r = parsed.by_slug("advisory-board-for-ethnic-relations-etno")
    assert r.label_of("rationale") == "Rationale" and r.rationale.startswith("The rationale behind ETNO")


def test_field_coverage(parsed):
    def count(attr):
        return sum(1 for r in parsed.records if getattr(r, attr))
    assert count("type_as_printed") == 82
    assert count("areas_as_printed") == 82
    assert count("purpose") == 80
    assert count("process") == 81


def test_urls_extracted(parsed):
    refs = [ref for r in parsed.records for ref in r.references]
    assert all(ref.url is None or ref.url.startswith(("http://", "https://")) and " " not in ref.url for ref in refs)
    r = parsed.by_slug("gestion-y-atencion-a-la-diversidad-en-la")
    assert r.references[0].url == "https://www.yosoyserviciospublicos.es/"
    assert "space" in r.references[0].note
    nantes = parsed.by_slug("nantes-the-metropolitan-citizenship-pact")
    assert nantes.references[0].label == "Le pacte de citoyenneté métropolitain | metropole.nantes.fr"
    assert nantes.references[0].url == "https://www.metropole.nantes.fr/"
    ccte = parsed.by_slug("conditional-cash-transfer-for-education-ccte-iv-project")
    assert ccte.references[0].label == "Web sites for stakeholders"
    assert ccte.references[-1].url == "https://platform.kizilaykart.org/en/Doc/brosur/CCTE_Poster.pdf"
    bare = parsed.by_slug("establishment-of-tallinn-migration-centre-tmc").references
    assert [(ref.label, ref.url) for ref in bare] == [
        ("Facebook page of the Tallinn Migration Centre", "https://www.facebook.com/TallinnMigrationCentre/?locale=en_EN")
    ]


def test_placeholder_links_are_references_without_address(parsed):
    r = parsed.by_slug("integration-area-programme")
    placeholders = [ref.label for ref in r.references if ref.without_address]
    assert placeholders[:2] == ["Integrated Communities Strategy green paper", "Integration Area Programme"]
    assert "Waltham Forest" in placeholders
    etno = parsed.by_slug("advisory-board-for-ethnic-relations-etno")
    assert [ref.label for ref in etno.references] == [
        "Government Decree on the Advisory Board for Ethnic Relations (available in Finnish)",
        "Advisory Board for Ethnic Relations",
    ]
    assert {x.text for x in etno.removed if x.kind == "link"} == {"[Link to an external website](#)", "[Opens in a new tab](#)"}


def test_no_word_processor_comment_reaches_a_text(parsed):
    for r in parsed.records:
        for attr in ("description", "purpose", "aim", "rationale", "process", "impact", "further_information", "key_reference_text"):
            assert "Commented [" not in (getattr(r, attr) or ""), (r.slug, attr)


def test_meaningful_comments_become_editorial_notes(parsed):
    notes = {(r.slug, n.comment_id) for r in parsed.records for n in r.editorial_notes}
    assert notes == {
        ("parliamentary-resolution-on-matters-of-immigrants", "BF2"),
        ("gemengepakt-vum-interkulturellen-zesummeliewen-municipal-pact-for-intercultural", "BF4"),
    }
    dropped = {x.text.split("]")[0] for r in parsed.records for x in r.removed if x.kind == "comment" and x.reason.startswith("dropped")}
    assert dropped == {"Commented [KM1", "Commented [RM3R2"}


def test_footnote_about_another_project_is_left_out(parsed):
    r = parsed.by_slug("diversamente-youth-against-discrimination-multistakeholder")
    assert "Project implemented in November 2021" not in r.rationale
    assert "Youth Spaces Free of Rumours," in r.rationale  # the marker ⁵ is gone, the sentence stays
    assert [x.line for x in r.removed if x.kind == "footnote"] == [1461]


def test_footnote_addresses_become_references(parsed):
    r = parsed.by_slug("bradford-how-bradford-womens-community-group-became-part")
    assert "https://thefsa.org.uk/news/bangla-bantams-drive-creates-football-facilities-for-all-fans/" in {ref.url for ref in r.references}
    assert "See:" not in r.impact


def test_page_break_repair(parsed):
    r = parsed.by_slug("bilbao-anti-rumours-strategy")
    assert "included in the third Bilbao Intercultural City Plan" in r.impact
    assert (1565, 1567) in r.page_break_joins
    bradford = parsed.by_slug("bradford-how-bradford-womens-community-group-became-part")
    assert "such as the University of Bradford City, links to Lancashire Cricket" in bradford.impact
    valga = parsed.by_slug("mentoring-service-for-roma-people-in-valga-municipality")
    assert "the educational pathways of Roma youth" in valga.rationale
    assert sum(len(r.page_break_joins) for r in parsed.records) == 30


def test_page_break_rule():
    assert continues_after_page_break("it is important to support more effectively the educational", "pathways of Roma youth")
    assert not continues_after_page_break("The project follows 5 main steps:", "- Creation of a Community")
    assert not continues_after_page_break("Diversity Lab", "An intercultural society needs to enhance")
    assert not continues_after_page_break("It ends here.", "next sentence")


def test_durations():
    assert parse_duration("2022-ongoing") == (2022, None, True)
    assert parse_duration("Since 2019 (ongoing)") == (2019, None, True)
    assert parse_duration("2022") == (2022, 2022, None)
    assert parse_duration("36 months, start date: 1 January 2022") == (2022, None, None)
    assert parse_duration("30 months (2 years and a half): From September 2019 to March 2022.") == (2019, 2022, None)
    assert parse_duration("1 September 2020 – 30 June 2023 - Project funded by ERASMUS+ EU Programme") == (2020, 2023, None)
    assert parse_duration("indefinite") == (None, None, None)


def test_area_splitting():
    assert split_areas("public services / Roma and Travellers") == ("public services", "Roma and Travellers")
    assert split_areas("Anti-discrimination / anti-racism ; Intercultural education") == ("Anti-discrimination / anti-racism", "Intercultural education")


def _mangle(tmp_path: Path, old: str, new: str) -> Path:
    text = SOURCE.read_text(encoding="utf-8")
    assert text.count(old) >= 1
    copy = tmp_path / "compendium.txt"
    copy.write_text(text.replace(old, new, 1) if old.startswith("|") else _replace_body(text, old, new), encoding="utf-8")
    return copy


def _replace_body(text: str, old: str, new: str) -> str:
    lines = text.split("\n")
    i = max(n for n, line in enumerate(lines) if line.strip() == old)  # the body heading, not the TOC row
    lines[i] = new
    return "\n".join(lines)


def test_mangled_heading_is_reported_with_its_lines(tmp_path):
    copy = _mangle(tmp_path, "BILBAO: Local award for migrant women", "BILBAO: Local prize for migrant women")
    result = parse_compendium(copy)
    messages = [str(p) for p in result.problems]
    assert "line 1625: heading 'BILBAO: Local prize for migrant women' is not in the table of contents; fix the heading or the table of contents" in messages
    assert any(m.startswith("line 86: table-of-contents entry 'BILBAO: Local award for migrant women' (page 65) has no heading in the body") for m in messages)
    assert len(result.records) == 82


def test_removed_practice_is_reported(tmp_path):
    lines = SOURCE.read_text(encoding="utf-8").split("\n")
    del lines[1891:1909]  # "Tallinn Network of Stakeholders", lines 1892-1909
    copy = tmp_path / "compendium.txt"
    copy.write_text("\n".join(lines), encoding="utf-8")
    result = parse_compendium(copy)
    assert [str(p).split(";")[0] for p in result.problems] == [
        "line 99: table-of-contents entry 'Tallinn Network of Stakeholders' (page 75) has no heading in the body"
    ]


def test_strict_mode_raises_with_every_problem(tmp_path):
    copy = _mangle(tmp_path, "BILBAO: Local award for migrant women", "BILBAO: Local prize for migrant women")
    with pytest.raises(SourceError) as error:
        parse_compendium(copy, strict=True)
    assert len(error.value.problems) == 2
    assert "line 1625" in str(error.value) and "line 86" in str(error.value)
    parse_compendium(SOURCE, strict=True)  # the real document passes
