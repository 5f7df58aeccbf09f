"""The curation review report: per practice, who took part, in which role, at which level, and when — next to the source lines."""

from __future__ import annotations

from collections import defaultdict

from icgraph.config import Settings
from icgraph import sparql
from icgraph.results import compact
from icgraph.backends import open_store
from icgraph.store import default_dataset


_SOURCE_FILE = "cdadi-2024-39-compendium.txt"
_MEETING_REPORT_FILE = "gt-adi-int-2020-4-meeting-report.txt"


def curation_report(settings: Settings) -> str:
    """Markdown a domain expert can read top to bottom and check against the compendium."""
    store = open_store(settings.store)
    dataset = default_dataset(store)
    lines = (settings.sources_dir / _SOURCE_FILE).read_text(encoding="utf-8").splitlines()
    rows = defaultdict(lambda: defaultdict(set))
    for row in store.query(sparql.load("review-participations"), **dataset):
        key = (row["agent"].value, row["name"].value, compact(row["kind"]), row["level"].value, row["role"].value, row["group"] is not None)
        rows[row["practice"].value][key]
        if row["line"] is not None:
            rows[row["practice"].value][key].add(int(row["line"].value))

    dates = _date_statements(store)

    out = ["# Curation review: actors, roles, levels and dates per practice", ""]
    out.append(f"Source: data/sources/{_SOURCE_FILE}. Each participation cites the lines that support it.")
    out.append("")
    current_principle = None
    count = 0
    for practice in store.query(sparql.load("review-practices"), **dataset):
        count += 1
        if practice["principle"].value != current_principle:
            current_principle = practice["principle"].value
            out += [f"## {current_principle}", ""]
        country = practice["country"].value if practice["country"] else "transnational"
        locator = practice["locator"].value if practice["locator"] else "no locator"
        out += [f"### {practice['title'].value}", "", f"{country} · {locator} · `{compact(practice['practice'])}`", ""]
        out += _dates_section(practice, dates.get(practice["practice"].value, {}), lines)
        if practice["leadNote"] is not None:
            out += [f"_No lead named: {practice['leadNote'].value}_", ""]
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
    out += _cited_lines_section(settings)
    return "\n".join(out)


def _date_statements(store) -> dict[str, dict[str, dict]]:
    """practice IRI -> statement IRI -> {"kind", "value", "lines", "computed", "ambiguity"}."""
    dates: dict[str, dict[str, dict]] = defaultdict(dict)
    dataset = default_dataset(store)
    for row in store.query(sparql.load("review-dates"), **dataset):
        statement = dates[row["practice"].value].setdefault(row["statement"].value, {"lines": set()})
        for kind in ("start", "end", "ongoing"):
            if row[kind] is not None:
                statement["kind"], statement["value"] = kind, row[kind].value
        if row["line"] is not None:
            statement["lines"].add(int(row["line"].value))
        for key in ("computed", "ambiguity"):
            if row[key] is not None:
                statement[key] = row[key].value
    return dates


def _dates_section(practice, statements: dict[str, dict], lines: list[str]) -> list[str]:
    """The practice's dates: the Duration line as parsed, then each curated statement with its lines."""
    settled = ", ".join(
        f"{label} {practice[key].value}" for key, label in (("start", "start"), ("end", "end"), ("ongoing", "ongoing")) if practice[key] is not None
    )
    out = [f"Dates: {settled or 'none'}" + (f" · Duration as printed: “{practice['duration'].value}”" if practice["duration"] is not None else "")]
    for statement in sorted(statements.values(), key=lambda s: (s.get("kind", ""), s.get("value", ""))):
        kind, value = statement.get("kind", "?"), statement.get("value", "?")
        reading = f"{kind} {value}" if kind != "ongoing" else ("ongoing" if value == "true" else "ended")
        how = f" — computed from {statement['computed']}" if "computed" in statement else ""
        unsettled = f" — NOT SETTLED: {statement['ambiguity']}" if "ambiguity" in statement else ""
        quotes = "; ".join(f"{n}: {_quote(lines, n, 100)}" for n in sorted(statement["lines"])) or "no line"
        out.append(f"- {reading} ({quotes}){how}{unsettled}")
    return out + [""]


def _cited_lines_section(settings: Settings) -> list[str]:
    """Actors whose cited lines do not name them (icgraph.mapping.curation.cited_lines_without_name)."""
    from icgraph.mapping.curation import cited_lines_without_name, read_curation

    sources = {
        "cdadi-2024-39": (settings.sources_dir / _SOURCE_FILE).read_text(encoding="utf-8").splitlines(),
        "gt-adi-int-2020-4": (settings.sources_dir / _MEETING_REPORT_FILE).read_text(encoding="utf-8").splitlines(),
    }
    problems = cited_lines_without_name(read_curation(settings.curation_dir), sources)
    out = ["## Cited lines that do not name the actor", ""]
    return out + ([f"- {problem}" for problem in problems] or ["None: every actor's cited passages name it."]) + [""]


def _quote(lines: list[str], number: int, width: int = 140) -> str:
    if not 1 <= number <= len(lines):
        return "(line out of range)"
    text = lines[number - 1].strip().replace("|", "\\|")
    return text if len(text) <= width else text[: width - 1] + "…"


