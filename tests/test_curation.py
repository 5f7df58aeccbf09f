"""The curated layer: coverage of every practice, one registry entry per organisation, statements tied to source lines."""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict

import pytest

from icgraph.config import Settings
from icgraph.mapping.curation import CurationError, map_curation, read_curation
from icgraph.namespaces import sparql_prefixes

SETTINGS = Settings()
COMPENDIUM_LINES = (SETTINGS.sources_dir / "cdadi-2024-39-compendium.txt").read_text(encoding="utf-8").splitlines()
REPORT_LINES = (SETTINGS.sources_dir / "gt-adi-int-2020-4-meeting-report.txt").read_text(encoding="utf-8").splitlines()


def _normalise(name: str) -> str:
    name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii").casefold()
    name = re.sub(r"\(.*?\)", " ", name)  # acronyms in brackets
    name = re.sub(r"\b(the|of|and|for|de|del|la|di)\b", " ", name)
    return " ".join(re.findall(r"[a-z0-9]+", name))


def _select(store, query):
    return list(store.query(sparql_prefixes() + query))


def test_every_practice_has_a_participation_or_a_note(store):
    missing = _select(store, """
        SELECT ?practice WHERE {
          ?practice a icg:Practice .
          FILTER NOT EXISTS { ?practice icg:hasParticipation ?p }
          FILTER NOT EXISTS { ?practice icg:participationNote ?note }
        }""")
    assert [row["practice"].value for row in missing] == []


def test_every_practice_of_the_compendium_is_curated(store):
    uncurated = _select(store, """
        SELECT ?practice WHERE {
          GRAPH graph:compendium { ?practice a icg:Practice }
          FILTER NOT EXISTS { GRAPH graph:curation { ?practice ?p ?o } }
        }""")
    assert [row["practice"].value for row in uncurated] == []


def test_no_two_registry_entries_name_the_same_organisation():
    curation = read_curation(SETTINGS.curation_dir)
    owners = defaultdict(set)
    for _, actor in curation.entries["actors"]:
        names = [actor.get("name", "")] + list(actor.get("alias") or []) + list((actor.get("originalName") or {}).values())
        for name in names:
            key = _normalise(name)
            if len(key) > 3:  # bare acronyms ("ICC", "AER") are too short to compare safely
                owners[(key, actor.get("country"))].add(actor["id"])
    clashes = {key: ids for key, ids in owners.items() if len(ids) > 1}
    assert clashes == {}


def test_every_actor_has_a_kind_a_name_and_a_level():
    curation = read_curation(SETTINGS.curation_dir)
    incomplete = [a["id"] for _, a in curation.entries["actors"] if not {"kind", "name", "level"} <= set(a)]
    assert incomplete == []


def test_every_cited_line_exists_and_is_not_blank():
    """A statement's lines must point at text (a blank or out-of-range line supports nothing)."""
    curation = read_curation(SETTINGS.curation_dir)
    bad = []

    def check(filename, label, entry):
        lines = REPORT_LINES if entry.get("source", "").endswith("gt-adi-int-2020-4") else COMPENDIUM_LINES
        for number in entry.get("lines") or []:
            if not (1 <= number <= len(lines)) or not lines[number - 1].strip():
                bad.append(f"{filename}: {label}: line {number}")

    for section, entries in curation.entries.items():
        for filename, entry in entries:
            label = entry.get("id") or entry.get("practice") or entry.get("member") or entry.get("person")
            check(filename, label, entry)
            for nested in ("participants", "funding", "outcomes"):
                for item in entry.get(nested) or []:
                    check(filename, f"{label}.{nested}", {**item, "source": item.get("source", entry.get("source", ""))})
    assert bad == []


def test_participations_cite_source_lines(store):
    uncited = _select(store, """
        SELECT ?p WHERE { ?p a icg:Participation . FILTER NOT EXISTS { ?p icg:sourceLine ?line } }""")
    assert [row["p"].value for row in uncited] == []


def test_generic_mentions_are_groups_not_organisations(store):
    """'local authorities' is recorded as a group of one practice, never as a named body."""
    wrong = _select(store, "SELECT ?g WHERE { ?g a icg:ActorGroup , org:Organization }")
    assert wrong == []
    groups = _select(store, "SELECT ?g WHERE { ?g a icg:ActorGroup }")
    assert all("#group-" in row["g"].value for row in groups)


def test_unknown_keys_are_refused_with_the_file_name(tmp_path):
    (tmp_path / "xx.yaml").write_text("actors:\n  - id: actor:a\n    kind: LocalAuthority\n    name: A\n    level: level:local\n    colour: blue\n")
    with pytest.raises(CurationError) as error:
        map_curation(tmp_path)
    assert "xx.yaml" in str(error.value) and "colour" in str(error.value)


def test_duplicate_ids_are_refused(tmp_path):
    entry = "  - id: actor:a\n    kind: LocalAuthority\n    name: A\n    level: level:local\n"
    (tmp_path / "one.yaml").write_text("actors:\n" + entry)
    (tmp_path / "two.yaml").write_text("actors:\n" + entry)
    with pytest.raises(CurationError) as error:
        map_curation(tmp_path)
    assert "already defined in one.yaml" in str(error.value)


def test_places_get_identifiers_from_the_libraries(store):
    rows = _select(store, """
        SELECT ?iso ?geonames WHERE { place:es icg:isoCode ?iso ; icg:geonamesId ?geonames }""")
    assert [(r["iso"].value, r["geonames"].value) for r in rows] == [("ES", "2510769")]


def test_curation_report_lists_every_practice(built):
    from icgraph.review import curation_report

    report = curation_report(built)
    practices = int(re.search(r"(\d+) practices\.", report).group(1))
    assert practices == 83
    assert "NO PARTICIPATION AND NO NOTE" not in report


def test_every_referenced_entity_is_defined_not_just_inferred(store):
    """An actor, place or practice IRI used as an object must be typed by an asserted graph:
    a typo would otherwise pass, typed only by the inferred range of the property."""
    dangling = _select(store, """
        SELECT DISTINCT ?o WHERE {
          GRAPH ?g { ?s ?p ?o } FILTER(?g != graph:inferred)
          FILTER(isIRI(?o) && !CONTAINS(STR(?o), "#"))
          FILTER(STRSTARTS(STR(?o), STR(actor:)) || STRSTARTS(STR(?o), STR(place:)) || STRSTARTS(STR(?o), STR(practice:)))
          FILTER NOT EXISTS { GRAPH ?h { ?o a ?type } FILTER(?h != graph:inferred) }
        }""")
    assert [row["o"].value for row in dangling] == []
