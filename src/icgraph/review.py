"""The curation review report: per practice, who took part, in which role, at which level — next to the source lines."""

from __future__ import annotations

from collections import defaultdict

from icgraph.config import Settings
from icgraph.namespaces import sparql_prefixes
from icgraph.results import compact
from icgraph.backends import open_store

_PRACTICES = """
SELECT ?practice ?title ?principle ?country ?locator ?note WHERE {
  ?practice a icg:Practice ; dct:title ?title ; icg:principle/skos:prefLabel ?principle .
  OPTIONAL { ?practice icg:country/skos:prefLabel ?country }
  OPTIONAL { ?practice prov:qualifiedDerivation/rdfs:label ?locator }
  OPTIONAL { ?practice icg:participationNote ?note }
} ORDER BY ?principle ?country ?title
"""

_PARTICIPATIONS = """
SELECT ?practice ?agent ?name ?kind ?level ?role ?line ?group WHERE {
  ?practice icg:hasParticipation ?p .
  ?p icg:agent ?agent ; icg:role/skos:notation ?role .
  ?agent skos:prefLabel ?name ; icg:governanceLevel/skos:notation ?level .
  OPTIONAL { ?agent a icg:ActorGroup . BIND(true AS ?group) }
  OPTIONAL { ?agent icg:memberKind ?memberKind }
  OPTIONAL { ?agent a ?directKind . ?directKind rdfs:subClassOf* org:Organization .
             FILTER(STRSTARTS(STR(?directKind), STR(icg:)))
             FILTER NOT EXISTS { ?agent a ?narrower . ?narrower rdfs:subClassOf ?directKind . FILTER(?narrower != ?directKind) } }
  BIND(COALESCE(?directKind, ?memberKind) AS ?kind)
  OPTIONAL { ?p icg:sourceLine ?line }
} ORDER BY ?practice ?level ?name ?role ?line
"""

_SOURCE_FILE = "cdadi-2024-39-compendium.txt"


def curation_report(settings: Settings) -> str:
    """Markdown a domain expert can read top to bottom and check against the compendium."""
    store = open_store(settings.store)
    lines = (settings.sources_dir / _SOURCE_FILE).read_text(encoding="utf-8").splitlines()
    prologue = sparql_prefixes()
    rows = defaultdict(lambda: defaultdict(set))
    for row in store.query(prologue + _PARTICIPATIONS, use_default_graph_as_union=True):
        key = (row["agent"].value, row["name"].value, compact(row["kind"]), row["level"].value, row["role"].value, row["group"] is not None)
        rows[row["practice"].value][key]
        if row["line"] is not None:
            rows[row["practice"].value][key].add(int(row["line"].value))

    out = ["# Curation review: actors, roles and levels per practice", ""]
    out.append(f"Source: data/sources/{_SOURCE_FILE}. Each participation cites the lines that support it.")
    out.append("")
    current_principle = None
    count = 0
    for practice in store.query(prologue + _PRACTICES, use_default_graph_as_union=True):
        count += 1
        if practice["principle"].value != current_principle:
            current_principle = practice["principle"].value
            out += [f"## {current_principle}", ""]
        country = practice["country"].value if practice["country"] else "transnational"
        locator = practice["locator"].value if practice["locator"] else "no locator"
        out += [f"### {practice['title'].value}", "", f"{country} · {locator} · `{compact(practice['practice'])}`", ""]
        participations = rows.get(practice["practice"].value)
        if not participations:
            note = practice["note"].value if practice["note"] else "NO PARTICIPATION AND NO NOTE"
            out += [f"_No participants: {note}_", ""]
            continue
        out += ["| level | actor | kind | role | source lines |", "|---|---|---|---|---|"]
        for (agent, name, kind, level, role, group), cited in sorted(participations.items(), key=lambda kv: (kv[0][3], kv[0][1])):
            label = f"{name} (generic mention)" if group else name
            quotes = "<br>".join(f"{n}: {_quote(lines, n)}" for n in sorted(cited)) or "—"
            out.append(f"| {level} | {label} | {kind} | {role} | {quotes} |")
        out.append("")
    out.insert(3, f"{count} practices.")
    return "\n".join(out)


def _quote(lines: list[str], number: int, width: int = 140) -> str:
    if not 1 <= number <= len(lines):
        return "(line out of range)"
    text = lines[number - 1].strip().replace("|", "\\|")
    return text if len(text) <= width else text[: width - 1] + "…"


