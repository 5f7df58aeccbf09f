"""The curation review report: per practice, who took part, in which role, at which level — next to the source lines."""

from __future__ import annotations

from collections import defaultdict

from icgraph.config import Settings
from icgraph import sparql
from icgraph.results import compact
from icgraph.backends import open_store



_SOURCE_FILE = "cdadi-2024-39-compendium.txt"


def curation_report(settings: Settings) -> str:
    """Markdown a domain expert can read top to bottom and check against the compendium."""
    store = open_store(settings.store)
    lines = (settings.sources_dir / _SOURCE_FILE).read_text(encoding="utf-8").splitlines()
    rows = defaultdict(lambda: defaultdict(set))
    for row in store.query(sparql.load("review-participations"), use_default_graph_as_union=True):
        key = (row["agent"].value, row["name"].value, compact(row["kind"]), row["level"].value, row["role"].value, row["group"] is not None)
        rows[row["practice"].value][key]
        if row["line"] is not None:
            rows[row["practice"].value][key].add(int(row["line"].value))

    out = ["# Curation review: actors, roles and levels per practice", ""]
    out.append(f"Source: data/sources/{_SOURCE_FILE}. Each participation cites the lines that support it.")
    out.append("")
    current_principle = None
    count = 0
    for practice in store.query(sparql.load("review-practices"), use_default_graph_as_union=True):
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


