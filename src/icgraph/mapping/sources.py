"""Map the parsed source documents to RDF (docs/design.md, "RDF shape of the data").

Records become JSON-LD nodes under one context, :data:`CONTEXT`; rdflib parses them.
Values are full IRIs (from :mod:`icgraph.namespaces`), never CURIEs: some prefixes
(``principle``, ``role``) are also term names in the context.
No triple is built by hand: the shape of a practice is the dict :func:`practice_node`
returns, the meaning of its keys is the context.

Printed types and areas are mapped to concepts through the ``skos:prefLabel`` and
``skos:hiddenLabel`` of the SKOS schemes in ``ontology/vocabularies/`` (lower-case
comparison), the one source of truth for those lists.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from rdflib import Graph
from rdflib.namespace import SKOS

from icgraph.config import Settings
from icgraph.ingest.compendium import PracticeRecord
from icgraph.ingest.meeting_report import MeetingReport
from icgraph.namespaces import (
    ACTOR,
    COMPENDIUM,
    FAMILY,
    ID,
    LEVEL,
    MEETING_REPORT,
    MROLE,
    PLACE,
    PRACTICE,
    PREFIXES,
    PRINCIPLE,
    PTYPE,
)
from icgraph.mapping.context import context
from icgraph.slugs import slugify

#: Printed area items that map to no concept on purpose, with the reason. Empty: every
#: item the compendium prints has a concept in ontology/vocabularies/areas.ttl.
UNMAPPED_AREAS: dict[str, str] = {}
#: Printed types that map to no concept on purpose, with the reason.
UNMAPPED_TYPES: dict[str, str] = {}

COMPENDIUM_CODE = "CDADI(2024)39"

#: The JSON-LD context of both documents' records: the project's one context (ontology/context.jsonld).
CONTEXT: list = context("sources")

_TEXT_FIELDS = {
    "description": "description",
    "purpose": "purpose",
    "aim": "aim",
    "rationale": "rationale",
    "process": "process",
    "impact": "impact",
    "further_information": "furtherInformation",
    "key_reference_text": "keyReferenceText",
}


# ---------------------------------------------------------------------------
#   Vocabularies: printed value -> concepts
# ---------------------------------------------------------------------------


def concept_labels(scheme_file: Path) -> dict[str, set[str]]:
    """Lower-cased prefLabel and hiddenLabel -> concept IRIs, for one SKOS scheme file."""
    graph = Graph().parse(scheme_file, format="turtle")
    index: dict[str, set[str]] = {}
    for predicate in (SKOS.prefLabel, SKOS.hiddenLabel):
        for concept, label in graph.subject_objects(predicate):
            index.setdefault(str(label).strip().lower(), set()).add(str(concept))
    return index


def _vocabularies(vocabularies_dir: Path | None) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    folder = vocabularies_dir or Settings().ontology_dir / "vocabularies"
    return concept_labels(folder / "practice-types.ttl"), concept_labels(folder / "areas.ttl")


def unmapped_values(records: Iterable[PracticeRecord], vocabularies_dir: Path | None = None) -> list[str]:
    """Printed types and areas no concept carries and no UNMAPPED_* table explains,
    each as 'line N: ...' with the fix; empty when every printed value maps."""
    types, areas = _vocabularies(vocabularies_dir)
    problems = []
    for r in records:
        if r.type_as_printed and r.type_as_printed.lower() not in types and r.type_as_printed not in UNMAPPED_TYPES:
            line = next(lab.line for lab in r.labels if lab.field == "type")
            problems.append(f"line {line}: type '{r.type_as_printed}' has no concept; add it as a skos:hiddenLabel to ontology/vocabularies/practice-types.ttl or to UNMAPPED_TYPES with a reason")
        for item in r.areas_as_printed:
            if item.lower() not in areas and item not in UNMAPPED_AREAS:
                problems.append(f"line {r.area_line}: area '{item}' has no concept; add it as a skos:hiddenLabel to ontology/vocabularies/areas.ttl or to UNMAPPED_AREAS with a reason")
    return problems


# ---------------------------------------------------------------------------
#   Compendium
# ---------------------------------------------------------------------------


def map_compendium(records: Iterable[PracticeRecord], vocabularies_dir: Path | None = None) -> Graph:
    """The practices of CDADI(2024)39 as RDF (graph:compendium)."""
    types, areas = _vocabularies(vocabularies_dir)
    nodes = [practice_node(r, types, areas) for r in records]
    return _parse({"@context": CONTEXT, "@graph": nodes})


#: The record's printed who-did-what lines (PracticeRecord.printed_lines) -> their term in the context.
_PRINTED_KEYS = {"leading_authority": "leadingAuthorityAsPrinted", "implementing_partners": "implementingPartnersAsPrinted"}


def practice_node(r: PracticeRecord, types: dict[str, set[str]], areas: dict[str, set[str]]) -> dict:
    """One practice as a JSON-LD node (keys: see :data:`CONTEXT`)."""
    iri = str(PRACTICE[r.slug])
    node: dict = {
        "id": iri,
        "type": "icg:Practice",
        "title": r.title,
        "headingAsPrinted": r.heading,
        "principle": str(PRINCIPLE[r.principle]),
        "wasDerivedFrom": str(COMPENDIUM),
        "qualifiedDerivation": {
            "id": f"{iri}#source",
            "type": "prov:Derivation",
            "entity": str(COMPENDIUM),
            "startLine": r.start_line,
            "endLine": r.end_line,
            "page": r.page,
            "label": f"{COMPENDIUM_CODE}, p. {r.page}, lines {r.start_line}-{r.end_line}",
        },
    }
    if r.prefix:
        node["headingPrefix"] = r.prefix
    if r.country:
        node["country"] = str(PLACE[r.country.lower()])
    if r.transnational:
        node["transnational"] = True
    if r.type_as_printed:
        node["typeAsPrinted"] = r.type_as_printed
        node["practiceType"] = sorted(types.get(r.type_as_printed.lower(), ()))
    else:
        node["practiceType"] = [str(PTYPE["not-stated"])]
    if r.areas_as_printed:
        node["areaAsPrinted"] = list(r.areas_as_printed)
        node["areaOfIntervention"] = sorted({c for item in r.areas_as_printed for c in areas.get(item.lower(), ())})
    for attr, key in _TEXT_FIELDS.items():
        if getattr(r, attr):
            node[key] = getattr(r, attr)
    if r.duration_as_printed:
        node["durationAsPrinted"] = r.duration_as_printed
    for printed in r.printed_lines:
        node.setdefault(_PRINTED_KEYS[printed.field], []).append(printed.text)
    if r.start_year:
        node["startYear"] = str(r.start_year)
    if r.end_year:
        node["endYear"] = str(r.end_year)
    if r.ongoing is not None:
        node["ongoing"] = r.ongoing
    if r.references:
        node["reference"] = [_reference_node(iri, n, ref) for n, ref in enumerate(r.references, 1)]
    if r.editorial_notes:
        node["editorialNote"] = [note.text for note in r.editorial_notes]
    return node


def _reference_node(practice: str, n: int, ref) -> dict:
    node = {"id": f"{practice}#ref-{n}", "type": "icg:Reference", "label": ref.label, "sourceLine": ref.line}
    if ref.url:
        node["url"] = ref.url
    else:
        node["linkWithoutAddress"] = True
    if ref.note:
        node["editorialNote"] = ref.note[:1].upper() + ref.note[1:] + "."
    return node


# ---------------------------------------------------------------------------
#   Meeting report
# ---------------------------------------------------------------------------


def meeting_iri(number: int) -> str:
    return str(ID[f"meeting/gt-adi-int-{number}"])


def map_meeting_report(report: MeetingReport) -> Graph:
    """The working group, its 1st meeting, agenda, decisions, roadmap and participants
    (graph:meeting-report). No e-mail address, telephone number or postal address: the
    parser never keeps them.

    Only actors and persons live in the actor: namespace; the memberships (one per
    participant) and the roadmap items hang off the meeting: ``id:meeting/gt-adi-int-1#...``.
    """
    source = str(MEETING_REPORT)
    wg = str(ACTOR[slugify(report.working_group_acronym)])
    m = report.meeting
    meeting = meeting_iri(m.number)

    def derived(node: dict, line: int) -> dict:
        return {**node, "sourceLine": line, "wasDerivedFrom": source}

    document = {
        "id": source,
        "identifier": report.code,
        "issued": report.date.isoformat(),
        "documentTitle": f"{report.working_group} ({report.working_group_acronym}): {report.title}",
        "sourceLine": report.code_line,
    }
    planned = {p.number: p for p in report.planned_meetings}
    meetings = [derived({
        "id": meeting,
        "type": "icg:Meeting",
        "number": m.number,
        "labelEn": f"{_ordinal(m.number)} meeting of the {report.working_group_acronym}, "
                   f"{m.start.day}-{m.end.day} {m.end:%B %Y}",
        "startDate": m.start.isoformat(),
        "endDate": m.end.isoformat(),
        "agendaItem": [derived({
            "id": f"{meeting}#agenda-{a.number}",
            "type": "icg:AgendaItem",
            "number": a.number,
            "title": a.title,
            **({"description": a.description} if a.description else {}),
            **({"startDate": a.day.isoformat()} if a.day else {}),
        }, a.line) for a in report.agenda],
        "decision": [derived({
            "id": f"{meeting}#decision-{d.number}",
            "type": "icg:Decision",
            "number": d.number,
            "labelEn": f"Decision {d.number} of the {_ordinal(m.number)} meeting of the {report.working_group_acronym}",
            "description": d.text,
        }, d.line) for d in report.decisions],
        "roadmapItem": [derived({
            "id": f"{meeting}#roadmap-{r.task_number}-{r.meeting_number}",
            "type": "icg:RoadmapItem",
            "labelEn": r.task,
            "description": "\n".join(r.actions),
            "plannedFor": meeting_iri(r.meeting_number),
        }, r.line) for r in report.roadmap],
    }, m.start_line)]
    meetings += [derived({
        "id": meeting_iri(p.number),
        "type": "icg:Meeting",
        "number": p.number,
        "labelEn": p.label,
    }, p.line) for p in planned.values()]

    working_group = derived({
        "id": wg,
        # A working group of the Council of Europe: its one actor kind, like its parent CDADI.
        "type": ["icg:WorkingGroup", "icg:InternationalOrganisation"],
        "prefLabel": f"{report.working_group} ({report.working_group_acronym})",
        "altLabel": report.working_group_acronym,
        "governanceLevel": str(LEVEL.international),
        "actorFamily": str(FAMILY["council-of-europe"]),
        "subOrganizationOf": str(ACTOR[slugify(report.parent_committee)]),
        "hasMeeting": [{"id": n["id"]} for n in meetings],
        "roadmapItem": [{"id": f"{meeting}#roadmap-{r.task_number}-{r.meeting_number}"} for r in report.roadmap],
    }, report.working_group_line)

    memberships = []
    for p in report.participants:
        person = str(ACTOR[p.slug])
        node = {
            "id": f"{meeting}#participant-{p.slug}",
            "type": "org:Membership",
            "member": derived({"id": person, "type": "foaf:Person", "personName": p.name}, p.line),
            "organization": wg,
            "role": str(MROLE[p.status]),
        }
        if p.represents:
            node["represents"] = str(PLACE[p.represents])
        if p.attendance:
            node["attendance"] = p.attendance
        if p.position:
            node["position"] = p.position
        memberships.append(derived(node, p.line))

    return _parse({"@context": CONTEXT, "@graph": [document, working_group, *meetings, *memberships]})


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _parse(document: dict) -> Graph:
    graph = Graph()
    for prefix, iri in PREFIXES.items():
        graph.bind(prefix, iri)
    graph.parse(data=json.dumps(document), format="json-ld")
    return graph


__all__ = ["CONTEXT", "map_compendium", "map_meeting_report", "unmapped_values"]
