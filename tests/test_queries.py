"""The competency-query library (queries/*.rq) answers what the sources say.

Every query runs on the real build (fixture ``store``). The expected answers are derived here,
independently of the queries: from the table of contents of the Compendium, the meeting report,
docs/practice-index.tsv and the curation YAML, never from a query's own output. A change in
data, mapping, ontology or rules that changes an answer fails the test of that query.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter, defaultdict
from functools import cache
from itertools import combinations
from pathlib import Path

import pyoxigraph as ox
import pytest
import yaml
from click.testing import CliRunner

from icgraph.config import PROJECT_DIR
from icgraph.ingest.compendium import PRINCIPLE_HEADINGS
from icgraph.queries import QueryParameterError, load_library, parse_query_file, to_term

QUERIES = PROJECT_DIR / "queries"
CURATION = PROJECT_DIR / "data" / "curation"
COMPENDIUM = PROJECT_DIR / "data" / "sources" / "cdadi-2024-39-compendium.txt"
MEETING_REPORT = PROJECT_DIR / "data" / "sources" / "gt-adi-int-2020-4-meeting-report.txt"
PRACTICE_INDEX = PROJECT_DIR / "docs" / "practice-index.tsv"

ID = "https://w3id.org/icgraph/id/"
PREFIXES = {
    "actor": ID + "actor/",
    "practice": ID + "practice/",
    "place": ID + "place/",
    "partnership": ID + "partnership/",
    "level": ID + "level/",
    "role": ID + "role/",
    "mrole": ID + "membership-role/",
    "target": ID + "target-group/",
    "pkind": ID + "partnership-kind/",
    "programme": ID + "programme/",
}
LEVEL_RANK = {"local": 1, "regional": 2, "national": 3, "european": 4, "international": 5}
LIBRARY = load_library(QUERIES)
TESTED: set[str] = set()


# ---------------------------------------------------------------------------
# Running a query
# ---------------------------------------------------------------------------


def _value(term):
    if term is None:
        return None
    if isinstance(term, ox.Literal):
        datatype = term.datatype.value.rsplit("#", 1)[-1]
        if datatype in ("integer", "int", "long"):
            return int(term.value)
        if datatype == "decimal":
            return float(term.value)
        if datatype == "boolean":
            return term.value == "true"
        return term.value
    return term.value


def run(store: ox.Store, name: str, **params) -> list[dict]:
    """Rows of a SELECT query of the library, as dicts of plain Python values."""
    TESTED.add(name)
    query = LIBRARY[name]
    results = store.query(query.text, substitutions=query.bindings(params) or None)
    names = [v.value for v in results.variables]
    return [{n: _value(solution[n]) for n in names} for solution in results]


def iri(curie: str) -> str:
    prefix, _, local = curie.partition(":")
    return PREFIXES[prefix] + local


def slug(iri_value: str) -> str:
    return iri_value.rsplit("/", 1)[-1]


# ---------------------------------------------------------------------------
# What the sources say (read independently of the queries)
# ---------------------------------------------------------------------------


@cache
def curation() -> dict[str, list]:
    """Every section of every curation file, concatenated."""
    sections: dict[str, list] = defaultdict(list)
    for path in sorted(CURATION.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for key, items in data.items():
            sections[key].extend(items or [])
    return sections


@cache
def actors() -> dict[str, dict]:
    return {a["id"]: a for a in curation()["actors"]}


def kind_label(kind: str) -> str:
    """``LocalAuthority`` -> ``Local authority`` (the rdfs:label convention of the ontology)."""
    words = re.findall(r"[A-Z][a-z]*", kind)
    return " ".join([words[0]] + [w.lower() for w in words[1:]])


@cache
def participations() -> list[dict]:
    """One dict per YAML participant and level: practice, agent key, name, kind, level, role."""
    out = []
    for entry in curation()["practices"]:
        practice = iri(entry["practice"])
        for p in entry.get("participants") or []:
            if "actor" in p:
                actor = actors()[p["actor"]]
                agent, name, kind, level = iri(p["actor"]), actor["name"], actor["kind"], actor.get("level")
            else:
                group = p["group"]
                agent, name, kind, level = f"group:{practice}:{group['name']}", group["name"], group["kind"], group.get("level")
            # a generic group the text puts at several levels ("decision-makers at national and local level")
            # is one participation per level, as the practice-actors view lists it
            for one_level in level if isinstance(level, list) else [level]:
                out.append({
                    "practice": practice, "agent": agent, "name": name, "kind": kind,
                    "level": one_level.partition(":")[2] if one_level else None, "role": p["role"].partition(":")[2],
                    "named": "actor" in p,
                })
    return out


@cache
def levels_per_practice() -> dict[str, set[str]]:
    levels = defaultdict(set)
    for p in participations():
        if p["level"]:
            levels[p["practice"]].add(p["level"])
    return levels


@cache
def practice_index() -> list[dict]:
    lines = PRACTICE_INDEX.read_text(encoding="utf-8").splitlines()
    header = lines[0].split("\t")
    return [dict(zip(header, line.split("\t"))) for line in lines[1:] if line.strip()]


@cache
def toc_counts() -> Counter:
    """Practices per principle, read from the table of contents of CDADI(2024)39."""
    headings = {heading: notation for heading, notation in PRINCIPLE_HEADINGS.items() if notation}
    text = COMPENDIUM.read_text(encoding="utf-8")
    toc = text[text.index("TABLE OF CONTENTS"): text.index("\nINTRODUCTION\n")]
    counts: Counter = Counter()
    principle = None
    for line in toc.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 2 or not cells[1].isdigit():
            continue
        entry = re.sub(r"<[^>]+>", "", cells[0]).rstrip(". ").strip()
        if entry in headings:
            principle = headings[entry]
        elif entry == "INTRODUCTION" or entry == entry.upper():
            continue  # a country or organisation heading
        elif principle:
            counts[principle] += 1
    return counts


def fold(text: str) -> str:
    """Upper case without accents: 'Türkiye' and 'TÜRKİYE' both give 'TURKIYE'."""
    decomposed = unicodedata.normalize("NFKD", text.upper())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


# ---------------------------------------------------------------------------
# The library as a whole
# ---------------------------------------------------------------------------


def test_library_has_at_least_25_queries():
    assert len(LIBRARY) >= 25, sorted(LIBRARY)


@pytest.mark.parametrize("name", sorted(LIBRARY))
def test_every_query_has_summary_description_and_tags(name):
    query = LIBRARY[name]
    assert query.summary, f"{name}.rq has no '#+ summary:'"
    assert query.description, f"{name}.rq has no '#+ description:'"
    assert query.tags and all(isinstance(t, str) and t for t in query.tags), f"{name}.rq has no '#+ tags:'"


@pytest.mark.parametrize("name", sorted(LIBRARY))
def test_every_parameter_has_a_type_and_optional_ones_a_default_or_none(name):
    for parameter in LIBRARY[name].parameters:
        assert parameter.type in ("iri", "string", "integer", "decimal", "boolean", "date", "year", "en")
        if parameter.default is not None:
            to_term(parameter.default, parameter.type, parameter.name)  # the default is of its own type


@pytest.mark.parametrize("name", sorted(LIBRARY))
def test_every_query_runs_with_its_defaults(store, name):
    query = LIBRARY[name]
    results = store.query(query.text, substitutions=query.bindings({}) or None)
    assert len(list(results)) > 0, f"{name} returns nothing on the built graph"


def test_queries_use_named_graphs_only_for_asserted_versus_derived():
    for name, query in LIBRARY.items():
        if re.search(r"\bGRAPH\b", "\n".join(l for l in query.text.splitlines() if not l.startswith("#"))):
            assert {"inference", "provenance"} & set(query.tags), f"{name} uses GRAPH without being about asserted vs derived"


# ---------------------------------------------------------------------------
# The two canonical views
# ---------------------------------------------------------------------------


def test_practices_columns_are_exactly_the_canonical_ones(store):
    results = store.query(LIBRARY["practices"].text)
    assert [v.value for v in results.variables] == [
        "practice", "title", "principle", "country", "countryCode", "place", "type", "start", "end", "ongoing"
    ]


def test_practice_actors_columns_are_exactly_the_canonical_ones(store):
    results = store.query(LIBRARY["practice-actors"].text)
    assert [v.value for v in results.variables] == ["practice", "title", "actor", "actorName", "kind", "level", "role"]


def test_practices_one_row_per_practice_of_the_table_of_contents(store):
    rows = run(store, "practices")
    assert sorted(slug(r["practice"]) for r in rows) == sorted(p["slug"] for p in practice_index())
    assert Counter(r["principle"] for r in rows) == Counter({
        "Ensuring equality": toc_counts()["equality"],
        "Valuing diversity": toc_counts()["diversity"],
        "Fostering meaningful intercultural interaction": toc_counts()["interaction"],
        "Promoting active citizenship and participation": toc_counts()["participation"],
        "Multilevel governance": toc_counts()["multilevel-governance"],
        "Interculturalism beyond Europe: information and practices from Canada": toc_counts()["canada"],
    })
    by_slug = {slug(r["practice"]): r for r in rows}
    for entry in practice_index():
        row = by_slug[entry["slug"]]
        if entry["country_heading"] == "ASSEMBLY OF EUROPEAN REGIONS":
            assert row["country"] is None and row["countryCode"] is None
        else:
            assert fold(row["country"]) == fold(entry["country_heading"])
            assert re.fullmatch(r"[A-Z]{2}", row["countryCode"])
        assert isinstance(row["title"], str) and isinstance(row["principle"], str)
    # places are the curated places of implementation, joined
    eu_belong = by_slug["eu-belong-an-intercultural-approach-to-migrant-integration"]
    assert len(eu_belong["place"].split(" | ")) == 10
    assert by_slug["insights-from-the-canadian-approach-to-immigrant-integration"]["type"] == "type not stated"


def test_practice_actors_one_row_per_curated_participation(store):
    rows = run(store, "practice-actors")
    expected = participations()
    assert len(rows) == len(expected)
    named = {(p["practice"], p["agent"], p["role"]) for p in expected if p["named"]}
    assert {(r["practice"], r["actor"], r["role"]) for r in rows if "/actor/" in r["actor"]} == named
    by_key = {(r["practice"], r["actor"], r["role"]): r for r in rows}
    for p in expected:
        if p["named"]:
            row = by_key[(p["practice"], p["agent"], p["role"])]
            assert row["level"] == p["level"], p
            assert row["kind"] == kind_label(p["kind"]), p
            assert row["actorName"] == p["name"], p
    groups = Counter((p["practice"], p["name"], kind_label(p["kind"]), p["level"], p["role"]) for p in expected if not p["named"])
    assert Counter((r["practice"], r["actorName"], r["kind"], r["level"], r["role"]) for r in rows if "/actor/" not in r["actor"]) == groups


# ---------------------------------------------------------------------------
# Practices per principle, country, level, type, area, target group
# ---------------------------------------------------------------------------


def test_practices_per_principle_match_the_table_of_contents(store):
    rows = run(store, "practices-per-principle")
    assert {r["notation"]: r["practices"] for r in rows} == dict(toc_counts())
    assert sum(r["practices"] for r in rows) == 83
    multilevel = {p for p, levels in levels_per_practice().items() if len(levels) >= 2}
    principle_of = {iri("practice:" + p["slug"]): p["principle"] for p in practice_index()}
    assert {r["notation"]: r["multilevelPractices"] for r in rows} == {
        n: sum(1 for p in multilevel if principle_of[p] == n) for n in toc_counts()
    }


def test_practices_by_principle_lists_the_multilevel_governance_section(store):
    rows = run(store, "practices-by-principle", principle="principle:multilevel-governance")
    expected = {p["slug"] for p in practice_index() if p["principle"] == "multilevel-governance"}
    assert {slug(r["practice"]) for r in rows} == expected and len(expected) == toc_counts()["multilevel-governance"]
    for r in rows:
        assert r["levelCount"] == len(levels_per_practice()[r["practice"]])


def test_practices_per_country_match_the_country_headings(store):
    rows = run(store, "practices-per-country")
    expected = Counter(
        "(TRANSNATIONAL)" if p["country_heading"] == "ASSEMBLY OF EUROPEAN REGIONS" else fold(p["country_heading"])
        for p in practice_index()
    )
    assert {fold(r["country"]): r["practices"] for r in rows} == dict(expected)


def test_practices_by_country_spain(store):
    rows = run(store, "practices-by-country", country="place:es")
    assert {slug(r["practice"]) for r in rows} == {p["slug"] for p in practice_index() if p["country_heading"] == "SPAIN"}
    assert len(rows) == 17


def test_practices_per_level_match_the_curated_levels(store):
    rows = {r["notation"]: r for r in run(store, "practices-per-level")}
    assert list(rows) == sorted(LEVEL_RANK, key=LEVEL_RANK.get)
    for level in LEVEL_RANK:
        at_level = [p for p in participations() if p["level"] == level]
        assert rows[level]["practices"] == len({p["practice"] for p in at_level}), level
        assert rows[level]["participations"] == len(at_level), level
        assert rows[level]["practicesLedFromLevel"] == len({p["practice"] for p in at_level if p["role"] == "lead"}), level


def test_practices_per_type_only_the_canadian_entry_prints_no_type(store):
    rows = {r["notation"]: r["practices"] for r in run(store, "practices-per-type")}
    printed_types = sum(1 for line in COMPENDIUM.read_text(encoding="utf-8").splitlines() if line.startswith("Type:"))
    assert printed_types == 82
    assert rows["not-stated"] == 83 - printed_types
    assert sum(rows.values()) >= 83  # every practice has at least one type
    assert rows["policy"] >= 1 and rows["project"] >= 1


def test_practices_per_area_cover_every_practice_that_prints_an_area(store):
    rows = run(store, "practices-per-area")
    counts = {r["notation"]: r["practices"] for r in rows}
    text = COMPENDIUM.read_text(encoding="utf-8").splitlines()
    area_lines = [l for l in text if re.match(r"Areas? ", l) or l.startswith("Area(s)")]
    assert sum(counts.values()) >= len(area_lines) - 3  # a practice may print several area lines
    human_rights = sum(1 for l in area_lines if "anti-discrimination" in l.lower())
    assert counts["human-rights-and-anti-discrimination"] >= human_rights - 2
    assert all(0 < c <= 83 for c in counts.values())
    assert all(r["multilevelPractices"] <= r["practices"] for r in rows)


def test_practices_per_target_group_match_the_curation(store):
    expected: Counter = Counter()
    for entry in curation()["practices"]:
        for target in set(entry.get("targetGroups") or []):
            expected[target.partition(":")[2]] += 1
    assert {r["notation"]: r["practices"] for r in run(store, "practices-per-target-group")} == dict(expected)


# ---------------------------------------------------------------------------
# Timelines
# ---------------------------------------------------------------------------


def test_practices_started_in_2022(store):
    rows = run(store, "practices-started-in-year", year="2022")
    slugs = {slug(r["practice"]) for r in rows}
    # the printed durations say so: "2022-2026 (January to December of each year)", "36 months, start date: 1 January 2022"
    assert any(s.startswith("catalonia-inter-administrative-agreement") for s in slugs)
    assert any(s.startswith("fuenlabrada-multi-stakeholder-labs") for s in slugs)
    assert not any(s.startswith("local-community-learning-against-racism") for s in slugs)  # 2019-2022
    for r in rows:
        assert "2022" in r["durationAsPrinted"], r
        assert r["start"] == "2022"
    assert len(rows) == sum(1 for r in run(store, "practices") if r["start"] == "2022")


def test_practices_active_in_2020(store):
    rows = run(store, "practices-active-in-year", year="2020")
    for r in rows:
        assert int(r["start"]) <= 2020 and (r["end"] is None or int(r["end"]) >= 2020), r
    titles = {r["title"] for r in rows}
    assert "The Advisory Board for Ethnic Relations (ETNO)" in titles  # 2020-2024
    assert any(t.startswith("Local Community Learning Against Racism") for t in titles)  # 2019-2022
    assert not any(t.startswith("Inter-administrative agreement") for t in titles)  # 2022-2026
    every = run(store, "practices")
    expected = {
        r["practice"] for r in every
        if r["start"] and int(r["start"]) <= 2020 and (r["end"] is None or int(r["end"]) >= 2020)
    }
    assert {r["practice"] for r in rows} == expected


def test_practices_per_start_year_add_up(store):
    rows = run(store, "practices-per-start-year")
    starts = Counter(r["start"] for r in run(store, "practices") if r["start"])
    assert {r["start"]: r["practices"] for r in rows} == dict(starts)
    by_year = {r["start"]: r["practices"] for r in rows}
    assert by_year["2022"] == len(run(store, "practices-started-in-year", year="2022"))


# ---------------------------------------------------------------------------
# Levels spanned and cooperation between levels
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("minimum", [2, 3, 4])
def test_practices_spanning_levels(store, minimum):
    rows = run(store, "practices-spanning-levels", minLevels=str(minimum))
    expected = {p: levels for p, levels in levels_per_practice().items() if len(levels) >= minimum}
    assert {r["practice"] for r in rows} == set(expected)
    for r in rows:
        assert set(r["levels"].split(" | ")) == expected[r["practice"]]
        assert r["levelCount"] == len(expected[r["practice"]])


def test_level_span_distribution(store):
    expected = Counter(len(levels_per_practice().get(iri("practice:" + p["slug"]), ())) for p in practice_index())
    assert {r["levelCount"]: r["practices"] for r in run(store, "level-span-distribution")} == dict(expected)


def _ordered(a: str, b: str) -> tuple[str, str]:
    return (a, b) if LEVEL_RANK[a] <= LEVEL_RANK[b] else (b, a)


def test_level_pair_cooperation(store):
    practices: dict[tuple, set] = defaultdict(set)
    agents = defaultdict(dict)
    for p in participations():
        if p["level"]:
            agents[p["practice"]][p["agent"]] = p["level"]
    for practice, levels in agents.items():
        for (_, a), (_, b) in combinations(sorted(levels.items()), 2):
            practices[_ordered(a, b)].add(practice)
    partnerships: dict[tuple, set] = defaultdict(set)
    for entry in curation()["partnerships"]:
        partner_levels = {a: actors()[a]["level"].partition(":")[2] for a in set(entry["partners"])}
        for (_, a), (_, b) in combinations(sorted(partner_levels.items()), 2):
            partnerships[_ordered(a, b)].add(entry["id"])
    rows = run(store, "level-pair-cooperation")
    assert {(r["fromLevel"], r["toLevel"]): r["practices"] for r in rows if r["practices"]} == {k: len(v) for k, v in practices.items()}
    assert {(r["fromLevel"], r["toLevel"]): r["partnerships"] for r in rows if r["partnerships"]} == {k: len(v) for k, v in partnerships.items()}
    for r in rows:
        assert r["crossesLevels"] == (r["fromLevel"] != r["toLevel"])
    top = max(rows, key=lambda r: r["practices"])
    assert (top["fromLevel"], top["toLevel"]) == max(practices, key=lambda k: len(practices[k]))


def test_cooperation_edges_between_named_actors_of_different_levels(store):
    weights: Counter = Counter()
    for practice in {p["practice"] for p in participations()}:
        named = {(p["agent"], p["level"]) for p in participations() if p["practice"] == practice and p["named"] and p["level"]}
        for (a, la), (b, lb) in combinations(sorted(named), 2):
            if a != b and la != lb:
                source, target = (a, b) if LEVEL_RANK[la] < LEVEL_RANK[lb] else (b, a)
                weights[(source, target)] += 1
    rows = run(store, "cooperation-edges")
    assert {(r["source"], r["target"]): r["sharedPractices"] for r in rows} == dict(weights)
    for r in rows:
        assert LEVEL_RANK[r["sourceLevel"]] < LEVEL_RANK[r["targetLevel"]]


def test_multilevel_practices_derived_agree_with_the_asserted_participations(store):
    rows = run(store, "multilevel-practices-derived")
    assert {r["practice"] for r in rows} == {p for p, levels in levels_per_practice().items() if len(levels) >= 2}
    assert all(r["levelsAgree"] for r in rows)


# ---------------------------------------------------------------------------
# Who leads and who funds
# ---------------------------------------------------------------------------


def _funders_of(practice: str) -> set[str]:
    funders = {p["agent"] for p in participations() if p["practice"] == practice and p["role"] == "funder" and p["named"]}
    for entry in curation()["practices"]:
        if iri(entry["practice"]) == practice:
            for f in entry.get("funding") or []:
                named = f.get("funder") or []
                funders |= {iri(a) for a in ([named] if isinstance(named, str) else named)}
    return funders


def test_national_bodies_funding_local_delivery(store):
    delivery_roles = {"lead", "implementer", "coordinator", "partner", "host"}
    expected = set()
    for practice in {p["practice"] for p in participations()}:
        local = [p for p in participations() if p["practice"] == practice and p["level"] == "local" and p["role"] in delivery_roles]
        if not local:
            continue
        for funder in _funders_of(practice):
            if actors()[_curie(funder)].get("level") == "level:national":
                expected.add((practice, funder))
    rows = run(store, "national-funding-local-delivery")
    assert {(r["practice"], r["funder"]) for r in rows} == expected
    assert expected


def _curie(value: str) -> str:
    for prefix, namespace in PREFIXES.items():
        if value.startswith(namespace):
            return f"{prefix}:{value[len(namespace):]}"
    return value


def test_regional_governments_leading_practices(store):
    expected = {(p["practice"], p["agent"]) for p in participations() if p["role"] == "lead" and p["kind"] == "RegionalAuthority" and p["named"]}
    assert {(r["practice"], r["leader"]) for r in run(store, "regional-led-practices")} == expected
    assert expected


def test_practices_led_by_networks(store):
    expected = {(p["practice"], p["name"]) for p in participations() if p["role"] == "lead" and p["kind"] == "Network"}
    rows = run(store, "network-led-practices")
    assert {(r["practice"], r["networkName"]) for r in rows} == expected
    # "Led by the Assembly of European Regions, EU-Belong brings together 10 Regions" (line 2228)
    assert (iri("practice:eu-belong-an-intercultural-approach-to-migrant-integration"), "Assembly of European Regions") in expected


def test_european_and_international_funding_or_participation(store):
    expected: dict[tuple, bool] = {}
    for p in participations():
        if p["level"] in ("european", "international"):
            key = (p["practice"], p["name"])
            funds = p["role"] == "funder" or p["agent"] in _funders_of(p["practice"])
            expected[key] = expected.get(key, False) or funds
    rows = run(store, "european-international-involvement")
    assert {(r["practice"], r["actorName"]): r["funds"] for r in rows} == expected


# ---------------------------------------------------------------------------
# Networks
# ---------------------------------------------------------------------------


def _practices_of(agent: str) -> set[str]:
    return {p["practice"] for p in participations() if p["agent"] == agent}


def test_network_members_and_their_practices(store):
    networks = {a for a, actor in actors().items() if actor["kind"] == "Network"}
    expected = {
        (iri(m["organization"]), iri(m["member"]), m["role"].partition(":")[2])
        for m in curation()["memberships"] if m["organization"] in networks
    }
    rows = run(store, "network-members")
    assert {(r["network"], r["member"], r["role"]) for r in rows} == expected
    for r in rows:
        assert r["practices"] == len(_practices_of(r["member"])), r
    one = run(store, "network-members", network="actor:intercultural-regions-network")
    assert {r["network"] for r in one} == {iri("actor:intercultural-regions-network")}
    # "chaired by the Government of Catalonia, and ... composed of the following regional authorities:
    # Värmland, Västra Götaland, Västerbotten, Emilia Romagna, Innlandet, Murcia, Navarra, Valencia, Arad,
    # and the Basque Country" (line 2316): the chair and 10 members, 11 bodies in all
    assert len({r["member"] for r in one}) == 11
    assert {r["member"] for r in one if r["role"] == "chair"} == {iri("actor:regional-government-catalonia")}


def test_regions_in_both_eu_belong_and_the_intercultural_regions_network(store):
    members = defaultdict(set)
    for m in curation()["memberships"]:
        members[m["organization"]].add(m["member"])
    both = members["actor:eu-belong"] & members["actor:intercultural-regions-network"]
    both = {a for a in both if actors()[a]["kind"] == "RegionalAuthority"}
    assert both == {
        "actor:regional-government-catalonia", "actor:regional-government-navarre",
        "actor:regional-government-emilia-romagna", "actor:regional-government-arad",
    }
    lines = COMPENDIUM.read_text(encoding="utf-8").splitlines()
    for printed in ("Catalonia", "Navarra", "Emilia Romagna", "Arad"):  # the text behind the curation
        assert printed in lines[2228 - 1] and printed in lines[2316 - 1] + lines[2314 - 1]
    rows = run(store, "regions-in-eu-belong-and-irn")
    assert {_curie(r["actor"]) for r in rows} == both
    assert {r["regionName"] for r in rows} == {"Catalonia", "Navarre", "Emilia-Romagna", "Arad County"}


def test_practices_linked_to_icc_or_a_national_icc_network(store):
    icc = {"actor:intercultural-cities-programme", "actor:reci", "actor:citta-del-dialogo", "actor:rpci"}
    participants = {(p["practice"], p["agent"]) for p in participations() if _curie(p["agent"]) in icc}
    partnerships = {
        (iri(e["practice"]), iri(a)) for e in curation()["partnerships"] if e.get("practice") for a in set(e["partners"]) & icc
    }
    members = defaultdict(set)
    for m in curation()["memberships"]:
        if m["organization"] in icc:
            members[iri(m["organization"])].add(iri(m["member"]))
    via_members = {(p["practice"], network) for network, ms in members.items() for p in participations() if p["agent"] in ms}
    rows = run(store, "icc-linked-practices")
    assert {(r["practice"], r["network"]) for r in rows if r["link"] == "participant"} == participants
    assert {(r["practice"], r["network"]) for r in rows if r["link"] == "partnership"} == partnerships
    assert {(r["practice"], r["network"]) for r in rows if r["link"] == "member-participates"} == via_members
    assert participants


# ---------------------------------------------------------------------------
# Actors and partnerships
# ---------------------------------------------------------------------------


def test_actor_profile_of_bilbao_city_council(store):
    bilbao = iri("actor:municipality-bilbao")
    rows = run(store, "actor-profile", actor="actor:municipality-bilbao")
    mine = {(p["practice"], p["role"]) for p in participations() if p["agent"] == bilbao}
    assert {(r["practice"], r["role"]) for r in rows} == mine and mine
    for practice, _ in mine:
        partners = {p["name"] for p in participations() if p["practice"] == practice and p["agent"] != bilbao}
        assert {r["partnerName"] for r in rows if r["practice"] == practice} - {None} == partners
    for r in rows:
        if r["partnerLevel"]:
            assert r["crossesLevels"] == (r["partnerLevel"] != "local")
    assert run(store, "actor-profile", actor="actor:no-such-actor") == []


def test_partnerships_and_the_levels_they_join(store):
    rows = {_curie(r["partnership"]): r for r in run(store, "partnerships")}
    entries = {e["id"]: e for e in curation()["partnerships"]}
    assert set(rows) == set(entries)
    for pid, entry in entries.items():
        partner_levels = {actors()[a]["level"].partition(":")[2] for a in entry["partners"]}
        assert rows[pid]["partnerCount"] == len(set(entry["partners"])), pid
        assert set(rows[pid]["levels"].split(" | ")) == partner_levels, pid
        assert rows[pid]["multilevel"] == (len(partner_levels) > 1), pid
        assert rows[pid]["kind"] == entry["kind"].partition(":")[2]


# ---------------------------------------------------------------------------
# The working group (meeting report GT-ADI-INT(2020)4)
# ---------------------------------------------------------------------------


def _wg_memberships() -> list[dict]:
    return [m for m in curation()["memberships"] if m["organization"] == "actor:gt-adi-int" and not m["member"].startswith("actor:person-")]


def test_working_group_member_bodies(store):
    expected = {(iri(m["member"]), m["role"].partition(":")[2]) for m in _wg_memberships()}
    rows = run(store, "working-group-members")
    assert {(r["member"], r["role"]) for r in rows} == expected
    members = run(store, "working-group-members", role="mrole:member")
    assert {r["role"] for r in members} == {"member"}
    assert len(members) == sum(1 for m in _wg_memberships() if m["role"] == "mrole:member") == 22


def test_working_group_members_by_level_and_country(store):
    expected: Counter = Counter()
    for m in _wg_memberships():
        if m["role"] != "mrole:member":
            continue
        actor = actors()[m["member"]]
        country = iri(actor["country"]) if actor.get("country") else None
        expected[(actor["level"].partition(":")[2], country)] += 1
    rows = run(store, "working-group-members-by-level")
    got = {(r["level"], r["countryPlace"]): r["members"] for r in rows}
    assert sum(got.values()) == sum(expected.values()) == 22
    assert got == dict(expected)
    by_level: Counter = Counter()
    for (level, _), n in expected.items():
        by_level[level] += n
    assert {level: sum(n for (l, _), n in got.items() if l == level) for level in by_level} == dict(by_level)
    # states, cities and an academic centre sit side by side: at least local and national members
    assert {"local", "national"} <= set(by_level)


def test_working_group_observers(store):
    rows = run(store, "working-group-observers")
    bodies = {iri(m["member"]) for m in _wg_memberships() if m["role"] == "mrole:observer"}
    assert {r["member"] for r in rows if not r["isPerson"]} == bodies
    # Appendix II, OBSERVER STATES: Canada (Mary COULTER, confirmed) and Mexico (apologised)
    assert {r["representsName"] for r in rows} == {"Canada", "Mexico"}
    people = {r["name"]: r["attendance"] for r in rows if r["isPerson"]}
    assert people.get("Mary COULTER") == "confirmed"
    assert "apologised" in people.values()


def test_working_group_five_decisions(store):
    lines = MEETING_REPORT.read_text(encoding="utf-8").splitlines()
    start = lines.index("10. List of decisions")
    end = next(i for i in range(start, len(lines)) if lines[i].startswith("11. "))
    printed = {int(m.group(1)): m.group(2).strip() for l in lines[start:end] if (m := re.match(r"^(\d+)\. (.+)$", l)) and not l.startswith("10.")}
    rows = run(store, "working-group-decisions")
    assert len(rows) == 5 == len(printed)
    assert {r["number"]: r["text"] for r in rows} == printed
    assert {r["number"]: r["sourceLine"] for r in rows} == {
        n: next(i + 1 for i, l in enumerate(lines) if l.startswith(f"{n}. ") and i > start) for n in printed
    }


# ---------------------------------------------------------------------------
# Coverage, funding, outcomes, references
# ---------------------------------------------------------------------------


def test_coverage_gaps(store):
    rows = {r["practice"]: r for r in run(store, "coverage-gaps")}
    all_practices = {iri("practice:" + p["slug"]) for p in practice_index()}
    led = {p["practice"] for p in participations() if p["role"] == "lead"}
    funded = {p["practice"] for p in participations() if p["role"] == "funder"} | {
        iri(e["practice"]) for e in curation()["practices"] if e.get("funding")
    }
    assert {p for p, r in rows.items() if r["lacksLead"]} == all_practices - led
    assert {p for p, r in rows.items() if r["lacksFunding"]} == all_practices - funded
    for r in rows.values():
        assert r["lacksDuration"] or r["lacksLead"] or r["lacksFunding"]
        if r["lacksDuration"] and r["durationAsPrinted"]:
            printed = r["durationAsPrinted"].lower()
            assert not re.search(r"\b(19|20)\d\d\b", printed) and "ongoing" not in printed, r


def test_funding_amounts_match_the_curation(store):
    expected = Counter()
    for entry in curation()["practices"]:
        for f in entry.get("funding") or []:
            expected[(iri(entry["practice"]), float(f["amount"]), f["currency"], f.get("asPrinted"))] += 1
    rows = run(store, "funding-amounts")
    assert Counter((r["practice"], float(r["amount"]), r["currency"], r["asPrinted"]) for r in rows) == expected
    # "603 million euros" of the Paris participatory budget, as printed (compendium line 2394)
    assert any(r["asPrinted"] == "603 million euros" and r["funderLevels"] == "local" for r in rows)


def test_quantitative_outcomes_match_the_curation(store):
    expected = Counter()
    for entry in curation()["practices"]:
        for o in entry.get("outcomes") or []:
            expected[(iri(entry["practice"]), float(o["value"]), str(o["unit"]))] += 1
    rows = run(store, "quantitative-outcomes")
    assert Counter((r["practice"], float(r["value"]), r["unit"]) for r in rows) == expected
    network = run(store, "quantitative-outcomes", practice="practice:intercultural-regions-network")
    # lines 2324-2330: 12 members, 5 policy briefings, over 3000 people trained, 4 strategies, 3 programmes, ~20 pilots
    assert sorted(int(r["value"]) for r in network) == [3, 4, 5, 12, 20, 3000]


def test_reference_placeholders_are_printed_as_links_without_address(store):
    lines = COMPENDIUM.read_text(encoding="utf-8").splitlines()
    rows = run(store, "reference-placeholders")
    assert rows
    for r in rows:
        line = lines[r["sourceLine"] - 1]
        assert "(#)" in line, r
        assert r["linkText"] in re.sub(r"\\(.)", r"\1", line), r
    printed = [(i + 1, m.group(1)) for i, l in enumerate(lines) for m in re.finditer(r"\[([^\]]*)\]\(#\)", l)]
    first_entry = min(r["sourceLine"] for r in rows)
    in_entries = [p for p in printed if p[0] >= first_entry]
    assert len(rows) >= len(in_entries) - 2  # two placeholders of the body repeat a link of the same line


def test_practice_graph_construct(store):
    TESTED.add("practice-graph")
    query = LIBRARY["practice-graph"]
    practice = iri("practice:bilbao-anti-rumours-strategy")
    triples = list(store.query(query.text, substitutions=query.bindings({})))
    subjects = {t.subject.value for t in triples}
    assert practice in subjects
    names = {t.object.value for t in triples if t.predicate.value.endswith("#prefLabel")}
    expected = {p["name"] for p in participations() if p["practice"] == practice and p["named"]}
    assert expected and expected <= names
    results = store.query(query.text, substitutions=query.bindings({}))
    assert results.serialize(format=ox.RdfFormat.TURTLE)


# ---------------------------------------------------------------------------
# Safe parameter binding
# ---------------------------------------------------------------------------

INJECTIONS = ["place:es> } ; DROP ALL ; SELECT * { ?s ?p ?o", 'x" } ; DROP ALL #', "<https://x.org/> } DROP", "place:es>"]


@pytest.mark.parametrize("value", INJECTIONS)
def test_iri_parameters_refuse_values_that_are_not_iris(value):
    with pytest.raises(QueryParameterError):
        LIBRARY["practices-by-country"].bindings({"country": value})


@pytest.mark.parametrize("value", INJECTIONS)
def test_string_parameters_are_bound_as_one_literal(store, tmp_path, value):
    path = tmp_path / "by-title.rq"
    path.write_text(
        "#+ summary: t\n#+ tags: [t]\nPREFIX dct: <http://purl.org/dc/terms/>\n"
        "SELECT ?practice ?_title_string WHERE { ?practice dct:title ?t FILTER (STR(?t) = ?_title_string) }\n",
        encoding="utf-8",
    )
    query = parse_query_file(path)
    before = len(store)
    results = list(store.query(query.text, substitutions=query.bindings({"title": value})))
    assert results == [] and len(store) == before
    found = list(store.query(query.text, substitutions=query.bindings({"title": "Anti-rumours strategy"})))
    assert len(found) == 1


@pytest.mark.parametrize("name, params", [
    ("practices-started-in-year", {"year": "twenty"}),
    ("practices-spanning-levels", {"minLevels": "3.5"}),
    ("practices-by-country", {"country": "not an iri"}),
])
def test_a_parameter_of_the_wrong_type_is_refused(name, params):
    with pytest.raises(QueryParameterError):
        LIBRARY[name].bindings(params)


def test_cli_exits_2_on_a_parameter_of_the_wrong_type(built):
    from icgraph.cli import main

    runner = CliRunner()
    result = runner.invoke(main, ["query", "practices-started-in-year", "--store", str(built.store), "--param", "year=twenty"])
    assert result.exit_code == 2, result.output
    result = runner.invoke(main, ["query", "practices-by-country", "--store", str(built.store), "--param", "country=place:es> } ; DROP ALL"])
    assert result.exit_code == 2, result.output
    result = runner.invoke(main, ["query", "practices-by-country", "--store", str(built.store), "--param", "county=place:es"])
    assert result.exit_code == 2, result.output
    result = runner.invoke(main, ["query", "practices-by-country", "--store", str(built.store), "--param", "country=place:it", "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0].startswith("practice,title")  # no internal ?_ column (tests/test_public_csv.py)


def test_every_query_has_a_test_of_its_answer():
    """Keeps this file honest: a new .rq file needs a test that checks what it answers."""
    source = Path(__file__).read_text(encoding="utf-8")
    missing = [name for name in LIBRARY if f'"{name}"' not in source]
    assert not missing, f"queries without a test of their answer: {missing}"


def test_funding_programmes_say_who_funds_what_for_whom(store):
    expected = Counter()
    for entry in curation()["practices"]:
        for f in entry.get("fundedThrough") or []:
            expected[(iri(entry["practice"]), iri(f["programme"]))] += 1
    rows = run(store, "funding-programmes")
    assert Counter((r["practice"], r["programme"]) for r in rows) == expected and len(rows) == 7
    by_practice = {slug(r["practice"]): r for r in rows}
    # "implemented by the MoFSS as the lead applicant ... financed by the EU under FRIT" (compendium line 1130)
    ssn = by_practice["social-safety-net-to-refugees-in-turkiye-ssn"]
    assert (ssn["programmeName"], ssn["funderName"], ssn["recipientName"]) == ("Facility for Refugees in Türkiye (FRIT)", "European Union", "Ministry of Family and Social Services (MoFSS)")
    assert "1130" in ssn["sourceLines"].split()
    assert sorted(by_practice["inclusion-and-empowerment-of-roma"]["operators"].split(" | ")) == ["Government of Iceland", "Government of Liechtenstein", "Government of Norway"]
    # PROTECT was only "submitted for funding" (line 1437): an uncertain reading
    assert [slug(r["practice"]) for r in rows if r["uncertain"]] == ["protect-partnerships-responding-to-online-threats-and-empowering"]


def test_practice_dates_give_each_statement_its_lines_computed_or_unsettled(store):
    rows = run(store, "practice-dates")
    by_statement = {r["statement"].rsplit("/", 1)[1]: r for r in rows}
    bilbao = by_statement["bilbao-anti-rumours-strategy#start-2013"]
    assert (bilbao["kind"], bilbao["value"], bilbao["sourceLines"], bilbao["unsettled"]) == ("start", "2013", "1555", False)
    divercities = by_statement["divercities#end-2024"]
    assert "20 months" in divercities["computedFrom"] and divercities["sourceLines"] == "2476"
    network = [r for r in rows if slug(r["practice"]) == "intercultural-regions-network"]
    assert sorted((r["value"], r["unsettled"]) for r in network) == [("2018", True), ("2019", True)]
    assert all(r["practiceStart"] is None for r in network)


# ---------------------------------------------------------------------------
# Who did what for whom (issue 25): one query per new relation
# ---------------------------------------------------------------------------


def _relations(*terms: str) -> list[tuple[str, str, dict]]:
    """(practice IRI, term, entry) for every `relations:` entry of the curation using one of ``terms``."""
    return [
        (iri(entry["practice"]), term, relation)
        for entry in curation()["practices"]
        for relation in entry.get("relations") or []
        for term in terms
        if term in relation
    ]


def test_practice_structures_are_the_curated_establishes_and_carried_out_by_links(store):
    expected = {(practice, term, iri(r[term])) for practice, term, r in _relations("establishes", "carriedOutBy")}
    rows = run(store, "practice-structures")
    assert {(r["practice"], r["relation"], r["structure"]) for r in rows} == expected and len(expected) >= 35
    lines = {(r["practice"], r["relation"], r["structure"]): set(r["sourceLines"].split()) for r in rows}
    for practice, term, r in _relations("establishes", "carriedOutBy"):
        assert lines[(practice, term, iri(r[term]))] == {str(n) for n in r["lines"]}
    # the project and its consortium actor are one undertaking: ITACA is carried out by its project partnership
    itaca = {r["structure"]: r for r in rows if slug(r["practice"]) == "itaca-italian-cities-against-discrimination"}
    assert itaca[iri("actor:itaca-project")]["family"] == "project-consortium" and itaca[iri("partnership:itaca-consortium")]["kind"] == "Partnership"


def test_builds_on_lists_what_the_text_says_a_practice_builds_on_or_was_inspired_by(store):
    expected = {(practice, term, iri(r[term])) for practice, term, r in _relations("buildsOn", "inspiredBy")}
    rows = run(store, "builds-on")
    assert {(r["practice"], r["relation"], r["source"]) for r in rows} == expected
    # "DiverCities builds on the experience of the Intercultural Cities Programme (ICC)" (line 2480)
    assert (iri("practice:divercities"), "buildsOn", iri("actor:intercultural-cities-programme")) in expected
    assert "2480" in next(r["sourceLines"] for r in rows if slug(r["practice"]) == "divercities").split()


def test_support_relations_go_from_the_named_supporter_to_the_named_body_or_practice(store):
    expected = {(iri(r["by"]), iri(r["supports"]), practice) for practice, _, r in _relations("supports")}
    rows = run(store, "support-relations")
    assert {(r["supporter"], r["supported"], r["statedIn"]) for r in rows} == expected
    levels = {(slug(r["supporter"]), slug(r["supported"])): (r["supporterLevel"], r["supportedLevel"]) for r in rows}
    # "Italy: Modena, Montesilvano and Pontedera, with the technical support of ICEI" (line 2486): national to local
    assert levels[("icei", "municipality-modena")] == (actors()["actor:icei"]["level"].split(":")[1], "local")


def test_dissemination_channels_are_the_networks_the_text_names(store):
    expected = {(practice, iri(r["disseminationChannel"])) for practice, _, r in _relations("disseminationChannel")}
    rows = run(store, "dissemination-channels")
    assert {(r["practice"], r["channel"]) for r in rows} == expected
    camus = {r["channelName"] for r in rows if slug(r["practice"]) == "fuenlabrada-citizen-auditors-and-municipal-services-against-structural"}
    assert {"Eurocities", "URBELAC"} <= camus  # "through the city networks ... (Intercultural Cities, Eurocities and URBELAC)" (line 1776)


def test_eu_programme_funded_practices_follow_the_operator_family_not_labels(store):
    eu = {a["id"] for a in curation()["actors"] if a.get("family") == "family:eu-institution"}
    programmes = {p["id"] for p in curation()["programmes"] if set(p.get("operator") or []) & eu}
    expected = {(iri(entry["practice"]), iri(f["programme"])) for entry in curation()["practices"]
                for f in entry.get("fundedThrough") or [] if f.get("programme") in programmes}
    rows = run(store, "eu-programme-funded-practices")
    assert {(r["practice"], r["programme"]) for r in rows} == expected and len(expected) == 6
    # the EEA Grants are run by Iceland, Liechtenstein and Norway, not by the EU
    assert iri("programme:eea-grants-2014-2021") not in {r["programme"] for r in rows}


def _agent_name_levels(practice_entry: dict, agent) -> list[tuple[str, str]]:
    if isinstance(agent, list):  # `funder: [actor:a, actor:b]`
        return [pair for one in agent for pair in _agent_name_levels(practice_entry, one)]
    if isinstance(agent, str):
        actor = actors()[agent]
        return [(actor["name"], actor["level"].split(":")[1])]
    levels = agent["level"] if isinstance(agent["level"], list) else [agent["level"]]
    return [(agent["name"], level.split(":")[1]) for level in levels]


def test_funding_down_the_levels_pairs_each_payer_with_a_receiver_at_a_lower_level(store):
    expected = set()
    for entry in curation()["practices"]:
        parts = entry.get("participants") or []
        agent = lambda p: p.get("actor") or p.get("group")  # noqa: E731
        payers = [f["funder"] for f in entry.get("fundedThrough") or [] if f.get("funder")]
        payers += [f["funder"] for f in entry.get("funding") or [] if f.get("funder")]
        payers += [agent(p) for p in parts if p["role"] == "role:funder"]
        recipients = [f["recipient"] for f in entry.get("fundedThrough") or [] if f.get("recipient")]
        receivers = recipients or [agent(p) for p in parts if p["role"] in ("role:lead", "role:implementer", "role:coordinator", "role:beneficiary")]
        for payer in payers:
            for payer_name, payer_level in _agent_name_levels(entry, payer):
                for receiver in receivers:
                    for receiver_name, receiver_level in _agent_name_levels(entry, receiver):
                        if LEVEL_RANK[payer_level] > LEVEL_RANK[receiver_level]:
                            expected.add((iri(entry["practice"]), payer_name, receiver_name, receiver_level))
    rows = run(store, "funding-down-the-levels")
    assert {(r["practice"], r["funderName"], r["receiverName"], r["receiverLevel"]) for r in rows} == expected
    # "financed by the European Union (EU) under the Facility for Refugees in Türkiye (FRIT)", to the MoFSS (line 1130)
    ssn = [r for r in rows if slug(r["practice"]) == "social-safety-net-to-refugees-in-turkiye-ssn"]
    assert [(r["funderName"], r["receiverName"], r["via"], r["programmes"]) for r in ssn] == [
        ("European Union", "Ministry of Family and Social Services (MoFSS)", "recipient", "Facility for Refugees in Türkiye (FRIT)")]
