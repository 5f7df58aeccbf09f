"""Faithful to the last date and actor (issue 21): what a practice's text states anywhere reaches the graph.

One group of tests per class of the issue, each on real practices of CDADI(2024)39, checked
against the source line it cites: dates stated outside the Duration line, leads, named bodies,
one rule per actor kind, and cited lines that name their actor. The curation keys behind them
(`start:`, `end:`, `ongoing:`, `leadNote:`) are tested on small fixtures at the end.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from icgraph.config import Settings
from icgraph.mapping.curation import CurationError, cited_lines_without_name, map_curation, read_curation
from icgraph.namespaces import ICG, PRACTICE, sparql_prefixes

SETTINGS = Settings()
LINES = (SETTINGS.sources_dir / "cdadi-2024-39-compendium.txt").read_text(encoding="utf-8").splitlines()
REPORT_LINES = (SETTINGS.sources_dir / "gt-adi-int-2020-4-meeting-report.txt").read_text(encoding="utf-8").splitlines()
SOURCES = {"cdadi-2024-39": LINES, "gt-adi-int-2020-4": REPORT_LINES}


def _select(store, query):
    return list(store.query(sparql_prefixes() + query))


def _values(store, query, *names):
    return {tuple(row[n].value if row[n] is not None else None for n in names) for row in _select(store, query)}


def _line(number: int) -> str:
    return LINES[number - 1]


# --------------------------------------------------------------------------- dates in the body


@pytest.mark.parametrize(
    "practice, year, line",
    [
        ("bilbao-anti-rumours-strategy", "2013", 1555),  # "The project started in 2013"
        ("foro-para-la-integracion-social-de-los-inmigrantes", "1995", 2644),  # "Originally established in 1995"
        ("conditional-cash-transfer-for-education-ccte-iv-project", "2017", 2051),  # "started in May 2017"
        ("reggio-emilia-local-action-plan-against-racial-discrimination", "2023", 696),  # "Adopted ... in January 2023"
        ("bilbao-local-award-for-migrant-women", "2019", 1637),  # "running since 2019"
    ],
)
def test_a_start_year_stated_in_the_body_reaches_the_graph_with_its_line(store, practice, year, line):
    assert year in _line(line)
    rows = _values(store, f"""
        SELECT ?start ?line WHERE {{
          practice:{practice} icg:startYear ?start ; icg:dateStatement ?d .
          ?d icg:startYear ?start ; icg:sourceLine ?line }}""", "start", "line")
    assert (year, str(line)) in rows


@pytest.mark.parametrize(
    "practice, year, line, length",
    [
        ("diversamente-youth-against-discrimination-multistakeholder", "2024", 1451, "24 months"),
        ("divercities", "2024", 2476, "20 months"),
        ("fuenlabrada-multi-stakeholder-labs-for-migrants-and-stakeholders", "2024", 2711, "36 months"),
    ],
)
def test_an_end_year_computed_from_a_stated_length_is_marked_computed(store, practice, year, line, length):
    assert length in _line(line)
    rows = _values(store, f"""
        SELECT ?end ?line ?computed WHERE {{
          practice:{practice} icg:endYear ?end ; icg:dateStatement ?d .
          ?d icg:endYear ?end ; icg:sourceLine ?line ; icg:computedFrom ?computed }}""", "end", "line", "computed")
    assert len(rows) == 1
    end, cited, computed = rows.pop()
    assert (end, cited) == (year, str(line)) and length in computed


def test_an_end_year_stated_in_the_body_reaches_the_graph(store):
    # "until recently (April 2024)" (447) and "the project will be ending in May 2025" (2252)
    for practice, year, line in [("inclusion-and-empowerment-of-roma", "2024", 447), ("eu-belong-an-intercultural-approach-to-migrant-integration", "2025", 2252)]:
        assert year in _line(line)
        assert _values(store, f"SELECT ?end WHERE {{ practice:{practice} icg:endYear ?end }}", "end") == {(year,)}


@pytest.mark.parametrize(
    "practice, settled, unsettled",
    [
        ("intercultural-regions-network", None, {("2019", "2314"), ("2018", "2324")}),  # launched 2019 / established 2018
        ("strasbourg-espace-egalite", "2019", {("2016", "347")}),  # permanent space 2019 / pilot since 2016
        ("lublin-baobab-community-centre-for-migrants-and-refugees", "2023", {("2022", "1993")}),  # opened 2023 / work began 2022
    ],
)
def test_contradicting_lines_keep_every_reading_visible_and_pick_none_silently(store, practice, settled, unsettled):
    starts = _values(store, f"SELECT ?start WHERE {{ practice:{practice} icg:startYear ?start }}", "start")
    assert starts == ({(settled,)} if settled else set())
    readings = _values(store, f"""
        SELECT ?start ?line WHERE {{
          practice:{practice} icg:dateStatement ?d . ?d icg:startYear ?start ; icg:sourceLine ?line ; icg:ambiguityNote ?why }}""", "start", "line")
    assert readings == unsettled
    for year, line in unsettled:
        assert year in _line(int(line))


def test_every_date_statement_cites_a_line_that_gives_its_year(store):
    rows = _select(store, """
        SELECT ?d ?year (GROUP_CONCAT(STR(?line)) AS ?lines) WHERE {
          ?p icg:dateStatement ?d . ?d icg:startYear|icg:endYear ?year ; icg:sourceLine ?line .
          FILTER NOT EXISTS { ?d icg:computedFrom ?c } FILTER(STRSTARTS(STR(?p), STR(practice:)))
        } GROUP BY ?d ?year""")
    assert len(rows) >= 15
    wrong = [row["d"].value for row in rows if not any(row["year"].value in _line(int(n)) for n in row["lines"].value.split())]
    assert wrong == []


def test_no_date_is_asserted_by_both_the_parser_and_the_curation(store):
    """The union of the graphs would return such a year twice (a restated Duration year doubles rows)."""
    doubled = _select(store, """
        SELECT ?p ?prop WHERE {
          VALUES ?prop { icg:startYear icg:endYear icg:ongoing }
          GRAPH graph:compendium { ?p ?prop ?v } GRAPH graph:curation { ?p ?prop ?v } }""")
    assert doubled == []


# --------------------------------------------------------------------------- who leads


@pytest.mark.parametrize(
    "practice, actor, role, line, words",
    [
        ("intercultural-regions-network", "regional-government-catalonia", "chair", 2316, "chaired by the Government of Catalonia"),
        ("lublin-lublin-civic-committee-to-aid-ukraine-lubelski", "municipality-lublin", "coordinator", 2553, "managed by representatives"),
        ("vila-verde-ciga-giro-project", "portuguese-red-cross-braga-delegation", "coordinator", 812, "managed by the Community Center"),
        ("reykjavik-inclusive-public-spaces", "municipality-reykjavik-department-of-culture-and-sport", "lead", 2446, "implemented by the City of Reykjavik"),
        ("net-idea-network-of-european-towns-for-interculturalism", "icei", "lead", 593, "implemented in cooperation with the following partners"),
        ("mentoring-service-for-roma-people-in-valga-municipality", "ee-integration-foundation", "initiator", 268, "by the Integration Foundation"),
    ],
)
def test_a_lead_coordinator_or_chair_the_text_names_has_that_role(store, practice, actor, role, line, words):
    assert words in _line(line)
    lines = _values(store, f"""
        SELECT ?line WHERE {{ practice:{practice} icg:hasParticipation ?p .
          ?p icg:agent actor:{actor} ; icg:role role:{role} ; icg:sourceLine ?line }}""", "line")
    assert (str(line),) in lines


def test_every_practice_has_a_lead_or_says_the_text_names_none(store):
    silent = _select(store, """
        SELECT ?practice WHERE {
          ?practice a icg:Practice .
          FILTER NOT EXISTS { ?practice icg:hasParticipation/icg:role ?role . FILTER(?role IN (role:lead, role:initiator, role:coordinator, role:chair)) }
          FILTER NOT EXISTS { ?practice icg:leadNote ?note } }""")
    assert [row["practice"].value for row in silent] == []


@pytest.mark.parametrize(
    "practice",
    ["settle-in-estonia-client-portal-as-an-instrument", "protect-partnerships-responding-to-online-threats-and-empowering", "bradford-citizen-coin"],
)
def test_a_practice_whose_text_names_no_lead_says_so_and_invents_none(store, practice):
    rows = _select(store, f"""
        SELECT ?note ?role WHERE {{ practice:{practice} icg:leadNote ?note .
          OPTIONAL {{ practice:{practice} icg:hasParticipation/icg:role ?role . FILTER(?role IN (role:lead, role:initiator, role:coordinator, role:chair)) }} }}""")
    assert rows and all(row["role"] is None for row in rows)


# --------------------------------------------------------------------------- named bodies


def test_the_city_of_a_study_visit_takes_part(store):
    assert "study visit to Dublin" in _line(508)
    assert _values(store, """
        SELECT ?line WHERE { practice:itaca-italian-cities-against-discrimination icg:hasParticipation ?p .
          ?p icg:agent actor:municipality-dublin ; icg:role role:host ; icg:sourceLine ?line }""", "line") == {("508",)}


def test_the_national_delegation_of_the_on_site_visits_takes_part_as_an_uncertain_reading(store):
    assert "a delegation from Cuba" in _line(1612)
    rows = _select(store, """
        SELECT ?name ?level ?why WHERE { practice:bilbao-diversitours-real-and-virtual-tours icg:hasParticipation ?p .
          ?p icg:agent ?group ; icg:sourceLine 1612 ; icg:ambiguityNote ?why .
          ?group a icg:ActorGroup ; skos:prefLabel ?name ; icg:governanceLevel ?level . FILTER(CONTAINS(STR(?name), "Cuba")) }""")
    assert len(rows) == 1 and rows[0]["level"].value.endswith("/national")


def test_every_body_line_1612_names_takes_part_in_diversitours(store):
    """The on-site visits' list: RECI, European Youth Parliament, European Heritage Days, Cuba, Mondragon, Deusto, Harrobia."""
    named = _values(store, """
        SELECT ?agent WHERE { practice:bilbao-diversitours-real-and-virtual-tours icg:hasParticipation ?p .
          ?p icg:agent ?agent ; icg:sourceLine 1612 }""", "agent")
    assert len(named) == 7


# --------------------------------------------------------------------------- one rule per actor kind


def test_schools_are_public_service_providers_everywhere():
    curation = read_curation(SETTINGS.curation_dir)
    school = re.compile(r"^(?:\d+ )?(?:schools?|primary|public schools|local schools|.*(?:vocational training|high school|educational centres))\b", re.I)
    # a group that mixes schools with organisations or companies is not a group of schools
    mixed = re.compile(r"compan|communities|organi[sz]ations", re.I)
    kinds = {a["name"]: a["kind"] for _, a in curation.entries["actors"] if school.search(a["name"])}
    for _, practice in curation.entries["practices"]:
        for p in practice.get("participants") or []:
            if "group" in p and school.search(p["group"]["name"]) and not mixed.search(p["group"]["name"]):
                kinds[p["group"]["name"]] = p["group"]["kind"]
    assert len(kinds) >= 10
    assert {name: kind for name, kind in kinds.items() if kind != "PublicServiceProvider"} == {}


def test_universities_and_faculties_are_academic_institutions():
    curation = read_curation(SETTINGS.curation_dir)
    academic = [a for _, a in curation.entries["actors"] if re.search(r"\b(University|Faculty)\b", a["name"]) and "Hospital" not in a["name"] and "Folks" not in a["name"]]
    assert len(academic) >= 8
    assert [a["id"] for a in academic if a["kind"] != "AcademicInstitution"] == []


def test_an_authority_takes_the_kind_and_level_of_the_territory_it_governs():
    curation = read_curation(SETTINGS.curation_dir)
    places = {p["id"]: p for _, p in curation.entries["places"]}
    expected = {"Municipality": ("LocalAuthority", "level:local"), "Region": ("RegionalAuthority", "level:regional")}
    authorities = [a for _, a in curation.entries["actors"] if a["kind"] in ("LocalAuthority", "RegionalAuthority") and a.get("place") in places]
    assert len(authorities) >= 50
    wrong = [a["id"] for a in authorities if expected.get(places[a["place"]].get("kind"), (a["kind"], a["level"])) != (a["kind"], a["level"])]
    assert wrong == []


def test_the_eu_belong_city_is_a_local_authority_and_mexico_city_a_region(store):
    rows = _values(store, """
        SELECT ?kind ?level WHERE { actor:municipality-poznan a ?kind ; icg:governanceLevel ?level .
          FILTER(?kind IN (icg:LocalAuthority, icg:RegionalAuthority)) }""", "kind", "level")
    assert rows == {(str(ICG.LocalAuthority), "https://w3id.org/icgraph/id/level/local")}
    kinds = _values(store, "SELECT ?k WHERE { place:mx-mexico-city a ?k FILTER(?k IN (icg:Region, icg:Municipality)) }", "k")
    assert kinds == {(str(ICG.Region),)}


def test_every_national_practice_has_a_place_where_it_is_implemented(store):
    nowhere = _select(store, """
        SELECT ?practice WHERE { ?practice a icg:Practice ; icg:country ?c . FILTER NOT EXISTS { ?practice icg:implementedIn ?place } }""")
    assert [row["practice"].value for row in nowhere] == []


# --------------------------------------------------------------------------- cited lines name the actor


def test_every_cited_passage_of_the_real_data_names_its_actor():
    assert cited_lines_without_name(read_curation(SETTINGS.curation_dir), SOURCES) == []


def test_the_working_group_chair_cites_only_lines_about_her():
    curation = read_curation(SETTINGS.curation_dir)
    chair = next(m for _, m in curation.entries["memberships"] if m["member"] == "actor:person-ivana-dalessandro" and m["role"] == "mrole:chair")
    assert 133 not in chair["lines"]  # "Decided to hold elections for Chair and Vice Chair": not about her
    assert "assumed the role of Chair" in REPORT_LINES[15 - 1]


def _curation_folder(tmp_path: Path, document: dict) -> Path:
    folder = tmp_path / "curation"
    folder.mkdir()
    (folder / "xx.yaml").write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    return folder


def test_a_cited_line_that_does_not_name_the_actor_is_reported(tmp_path):
    folder = _curation_folder(tmp_path, {"actors": [
        # line 893 names "**Bradford** Hate Crime Alliance" (emphasis marks do not hide it); line 892 names no actor
        {"id": "actor:bhca", "kind": "CivilSocietyOrganisation", "name": "Bradford Hate Crime Alliance", "level": "level:local", "lines": [893]},
        {"id": "actor:salamanca", "kind": "AcademicInstitution", "name": "University of Salamanca", "level": "level:national", "lines": [946]},
        {"id": "actor:fuenlabrada", "kind": "LocalAuthority", "name": "Fuenlabrada City Council", "level": "level:local", "lines": [1760]},
    ]})
    problems = cited_lines_without_name(read_curation(folder), SOURCES)
    assert len(problems) == 1 and "actor:salamanca" in problems[0] and "946" in problems[0] and "alias" in problems[0]


# --------------------------------------------------------------------------- the curation keys


def _map(tmp_path, practice_entry):
    folder = _curation_folder(tmp_path, {"practices": [{"practice": "practice:p", "participationNote": "none", **practice_entry}]})
    return map_curation(folder, known_practices={"practice:p"})


def test_date_keys_become_statements_with_lines_and_settle_the_practice_year(tmp_path):
    graph = _map(tmp_path, {
        "start": [{"year": 2019, "lines": [10]}, {"year": 2018, "lines": [20], "ambiguity": "line 20 says 2018"}],
        "end": {"year": 2024, "lines": [11], "computedFrom": "November 2022, for 24 months"},
        "ongoing": {"value": True, "lines": [12]},
    })
    practice = PRACTICE.p
    assert {str(y) for y in graph.objects(practice, ICG.startYear)} == {"2019"}  # the ambiguous 2018 sets nothing
    assert {str(y) for y in graph.objects(practice, ICG.endYear)} == {"2024"}
    assert [bool(o.toPython()) for o in graph.objects(practice, ICG.ongoing)] == [True]
    statements = set(graph.objects(practice, ICG.dateStatement))
    assert statements == {PRACTICE["p#start-2019"], PRACTICE["p#start-2018"], PRACTICE["p#end-2024"], PRACTICE["p#ongoing"]}
    assert [int(n) for n in graph.objects(PRACTICE["p#start-2018"], ICG.sourceLine)] == [20]
    assert str(graph.value(PRACTICE["p#end-2024"], ICG.computedFrom)) == "November 2022, for 24 months"


@pytest.mark.parametrize(
    "entry, fix",
    [
        ({"start": {"year": 2019}}, "add `lines: [N]`"),
        ({"start": {"year": "around 2019", "lines": [3]}}, "write four digits"),
        ({"end": {"lines": [3]}}, "needs `year:`"),
        ({"start": [{"year": 2019, "lines": [3]}, {"year": 2018, "lines": [4]}]}, "mark the other(s) with `ambiguity:`"),
        ({"start": {"year": 2019, "lines": [3], "month": "May"}}, "unknown key"),
    ],
)
def test_a_date_key_without_its_line_or_with_two_settled_readings_is_refused_with_the_fix(tmp_path, entry, fix):
    with pytest.raises(CurationError) as error:
        _map(tmp_path, entry)
    assert fix in str(error.value)


def test_a_lead_note_reaches_the_practice(tmp_path):
    graph = _map(tmp_path, {"leadNote": "The text names no lead."})
    assert [str(n) for n in graph.objects(PRACTICE.p, ICG.leadNote)] == ["The text names no lead."]


# --------------------------------------------------------------------------- the review report


def test_the_curation_report_shows_dates_with_their_lines_and_whether_computed(built):
    from icgraph.review import curation_report

    report = curation_report(built)
    divercities = report.split("`practice:divercities`", 1)[1].split("### ", 1)[0]
    assert "end 2024 (2476: Duration: November 2022, for 20 months) — computed from" in divercities
    network = report.split("`practice:intercultural-regions-network`", 1)[1].split("### ", 1)[0]
    assert network.count("NOT SETTLED") == 2 and "Dates: none" in network
    assert "_No lead named: The text names no organisation that runs or owns the Settle in Estonia portal" in report
    assert "None: every actor's cited passages name it." in report
