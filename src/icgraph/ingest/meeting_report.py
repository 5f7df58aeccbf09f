"""Parse GT-ADI-INT(2020)4, the report of the 1st meeting of the Working Group on
Intercultural Integration, into records: the document, the working group, the meeting
and its agenda, the list of decisions, the roadmap (Appendix III) and the participants
(Appendix II).

Contact details are personal data the graph must not hold: e-mail addresses, telephone
numbers and postal street addresses are dropped here, at the first stage, and only the
fact that a line was dropped (its number and kind, never its content) is recorded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import pycountry

from icgraph.ingest import Problem, SourceError
from icgraph.slugs import slugify

# ---------------------------------------------------------------------------
#   Tables
# ---------------------------------------------------------------------------

#: Section headings of the list of participants -> membership role (mrole: notation).
STATUS_HEADINGS: dict[str, str] = {
    "MEMBERS": "member",
    "OBSERVER STATES": "observer",
    "PARTICIPANTS": "participant",
    "EXPERTS/SPEAKERS": "expert",
    "INDEPENDENT EXPERTS": "expert",
    "COUNCIL OF EUROPE": "secretariat",
}

#: Participant headings whose place the generic "CITY (COUNTRY)" / "COUNTRY" reading gets
#: wrong -> place slug (docs/design.md, "Place"), with the reason.
PLACE_EXCEPTIONS: dict[str, tuple[str, str]] = {
    "BURSA-OSMANZAGI (TURKEY)": ("tr-bursa-osmangazi", "heading misspells Osmangazi; the report writes Bursa-Osmangazi (lines 34, 252)"),
    "(THE LONDON BOROUGH OF) LEWISHAM (UNITED KINGDOM)": ("gb-lewisham", "the London Borough of Lewisham"),
    "MEXICO CITY": ("mx-mexico-city", "a city heading without its country in brackets"),
    "VALENCIA REGIONAL GOVERNMENT (Spain)": ("es-valencian-community", "the regional government of the Valencian Community"),
}

#: Country names pycountry does not read as printed.
COUNTRY_NAMES: dict[str, str] = {"TURKEY": "Türkiye", "Turkey": "Türkiye"}

#: Lines of a participant entry that are contact details: never kept.
CONTACT_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("e-mail", re.compile(r"^e-?mail\s*:|[\w.+-]+@[\w-]+\.[\w.]+", re.IGNORECASE)),
    ("telephone", re.compile(r"^(tel|phone|fax|mobile)\.?\s*:|\+\d[\d ()/.-]{6,}", re.IGNORECASE)),
    ("postal address", re.compile(r"\b(Av\.|Avenue|Avenida|Street|Rue|Calle|Road|Strasse|Straße)\s|\bNo\.\s*\d|\bC\.\s?P\.\s*\d{4,}|\bCol\.\s", re.IGNORECASE)),
)

#: How a line of a participant entry that states a position begins.
POSITION_START = re.compile(
    r"^(Professor|Rector|Assistant professor|Special advisor|Advisor|Adviser|Senior|Official|Assistant director|"
    r"External relations coordinator|Secretary|Director|Head|Intercultural counsellor|National coordinator|Coordinator|"
    r"Mayor|Deputy|Borough of Sanctuary Manager|Cabinet of the Mayor|Immigrant specialist|Policy director|"
    r"Migration expert|Counsellor|Representative|Programme manager|Governmental expert|ICC Independent expert|Expert|"
    r"General director|Administrative assistant|Project officer|Co-Secretary|CDADI Member|Assistant to)\b"
)

#: Words that mark a line of a participant entry as naming an organisation.
ORGANISATION_WORDS = re.compile(
    r"\b(Ministry|Department|Government|Directorate|Office|office|Council|Commission|commission|Institute|Centre|"
    r"Center|Unit|unit|Comune|Mission|Borough|Generalitat|Cámara|Congreso|OBERAXE|Board|delegation|consultations|"
    r"division|team|department|directorate|Local Government)\b"
)

# ---------------------------------------------------------------------------
#   Records
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class AgendaItem:
    number: int
    title: str
    line: int
    day: date | None = None
    time: str | None = None
    description: str | None = None


@dataclass(frozen=True)
class Decision:
    number: int
    text: str
    line: int


@dataclass(frozen=True)
class PlannedMeeting:
    number: int
    label: str  # "2nd Meeting 1-3 December 2020 (CDADI Feb/2021)"
    line: int


@dataclass(frozen=True)
class RoadmapItem:
    task_number: int
    task: str
    meeting_number: int
    actions: tuple[str, ...]
    line: int


@dataclass(frozen=True)
class Participant:
    name: str  # as printed, "Agil SHIRINOV"
    line: int
    status: str  # member | observer | participant | expert | secretariat
    status_line: int
    heading: str | None  # "BILBAO (SPAIN)", "CANADA", "EUROPEAN UNION"...
    heading_line: int | None
    represents: str | None  # place slug, "es-bilbao"
    represents_note: str | None
    position: str | None
    organisation: str | None
    location: str | None  # city and country only ("Baku, Azerbaijan")
    attendance: str | None  # "confirmed" | "apologised" | None (not stated)
    attendance_line: int | None

    @property
    def slug(self) -> str:
        return "person-" + slugify(self.name, 99)


@dataclass(frozen=True)
class Meeting:
    number: int
    number_line: int  # where the text implies the ordinal
    start: date
    end: date
    start_line: int
    end_line: int


@dataclass(frozen=True)
class MeetingReport:
    path: Path
    code: str  # "GT-ADI-INT(2020)4"
    code_line: int
    date: date
    date_line: int
    title: str
    working_group: str  # "Working Group on Intercultural Integration"
    working_group_acronym: str  # "GT-ADI-INT"
    working_group_line: int
    parent_committee: str  # "CDADI"
    parent_committee_line: int
    meeting: Meeting
    agenda: tuple[AgendaItem, ...]
    decisions: tuple[Decision, ...]
    planned_meetings: tuple[PlannedMeeting, ...]
    roadmap: tuple[RoadmapItem, ...]
    participants: tuple[Participant, ...]
    dropped_contacts: tuple[tuple[int, str], ...]  # (line, kind): what was left out, never its content
    problems: tuple[Problem, ...] = ()


# ---------------------------------------------------------------------------
#   Parsing
# ---------------------------------------------------------------------------

_SMALL_WORDS = {"on", "of", "and", "the", "for", "in", "to"}


def parse_meeting_report(path: str | Path, strict: bool = False) -> MeetingReport:
    """Read the meeting report at ``path``; with ``strict=True`` raise :class:`SourceError` on problems."""
    path = Path(path)
    lines = path.read_text(encoding="utf-8").split("\n")
    s = [line.strip() for line in lines]
    problems: list[Problem] = []

    def find(pattern: str, start: int = 0, what: str = "") -> int:
        rx = re.compile(pattern)
        for i in range(start, len(s)):
            if rx.search(s[i]):
                return i
        problems.append(Problem(start + 1, f"no line matching {what or pattern!r} after this line; restore it in the report or fix the pattern in src/icgraph/ingest/meeting_report.py"))
        return -1

    i_code = find(r"^GT-ADI-INT\(\d{4}\)\d+$", what="the document code GT-ADI-INT(yyyy)n")
    i_date = find(r"^[A-Z][a-z]+, \d{1,2} [A-Z][a-z]+ \d{4}$", what="'Place, day Month year'")
    i_wg = find(r"^WORKING GROUP ON .*\((?P<acr>[A-Z-]+)\)$", what="the working group's name")
    i_title = i_wg + 1 + next((k for k, t in enumerate(s[i_wg + 1:]) if t), 0)
    i_parent = find(r"\bCDADI\b", what="the parent committee CDADI")
    wg = re.match(r"^(?P<name>.*?)\s*\((?P<acr>[A-Z-]+)\)$", s[i_wg]) if i_wg >= 0 else None

    agenda, days = _parse_agenda(s, find(r"^AGENDA$"), find(r"^Appendix II$"), problems)
    decisions = _parse_decisions(s, find(r"^\d+\. List of decisions$"), problems)
    planned, roadmap = _parse_roadmap(lines, find(r"^Appendix III$"), problems)
    participants, dropped = _parse_participants(s, find(r"^LIST OF PARTICIPANTS$"), find(r"^Appendix III$"), problems)

    # The report never prints "1st meeting"; decision 5 schedules the "second meeting" for
    # 1-3 December 2020, which makes the meeting of 29-30 September the 1st.
    second = next((d for d in decisions if re.search(r"\bhold its second meeting\b", d.text)), None)
    if second is None:
        problems.append(Problem(1, "no decision names the 'second meeting'; state which meeting this is in src/icgraph/ingest/meeting_report.py"))
    meeting = Meeting(
        number=1,
        number_line=second.line if second else 1,
        start=days[0][1] if days else date(1, 1, 1),
        end=days[-1][1] if days else date(1, 1, 1),
        start_line=days[0][0] if days else 1,
        end_line=days[-1][0] if days else 1,
    )
    report = MeetingReport(
        path=path,
        code=s[i_code],
        code_line=i_code + 1,
        date=datetime.strptime(s[i_date].split(", ", 1)[1], "%d %B %Y").date(),
        date_line=i_date + 1,
        title=s[i_title],
        working_group=_title_case(wg["name"]) if wg else "",
        working_group_acronym=wg["acr"] if wg else "",
        working_group_line=i_wg + 1,
        parent_committee="CDADI",
        parent_committee_line=i_parent + 1,
        meeting=meeting,
        agenda=tuple(agenda),
        decisions=tuple(decisions),
        planned_meetings=tuple(planned),
        roadmap=tuple(roadmap),
        participants=tuple(participants),
        dropped_contacts=tuple(dropped),
        problems=tuple(sorted(problems, key=lambda p: p.line)),
    )
    if strict and problems:
        raise SourceError(path, report.problems)
    return report


def _title_case(text: str) -> str:
    words = text.lower().split()
    return " ".join(w if (k and w in _SMALL_WORDS) else w[:1].upper() + w[1:] for k, w in enumerate(words))


def _plain(text: str) -> str:
    """Inline markup out: links keep their text, escapes and emphasis go."""
    text = re.sub(r"\[((?:[^\]\\]|\\.)*)\]\([^)\s]*\)", r"\1", text)
    text = re.sub(r"\\([()\[\]])", r"\1", text)
    text = re.sub(r"</?[A-Za-z][^>]*>", " ", text)
    text = text.replace("**", "").replace("*", "")
    return re.sub(r"\s{2,}", " ", text).strip()


def _parse_agenda(s: list[str], start: int, end: int, problems: list[Problem]) -> tuple[list[AgendaItem], list[tuple[int, date]]]:
    items: list[dict] = []
    days: list[tuple[int, date]] = []
    day: date | None = None
    time: str | None = None
    if start < 0 or end < 0:
        return [], []
    for i in range(start + 1, end):
        text = s[i]
        if not text:
            continue
        if re.fullmatch(r"\d{1,2} [A-Z][a-z]+ \d{4}", text):
            day = datetime.strptime(text, "%d %B %Y").date()
            days.append((i + 1, day))
            continue
        t = re.match(r"^(\d{1,2}\.\d{2}(?:\s*–\s*\d{1,2}\.\d{2})?)\b", text)
        if t:
            time = t.group(1)
            continue
        item = re.match(r"^(\d+)\.\s+(.+)$", text)
        if item and (not items or int(item.group(1)) == items[-1]["number"] + 1):
            items.append({"number": int(item.group(1)), "title": _plain(item.group(2)), "line": i + 1, "day": day, "time": time, "description": []})
        elif items:
            items[-1]["description"].append(_plain(text))
    if not items:
        problems.append(Problem(start + 1, "no numbered agenda items after 'AGENDA'; restore them ('1. Opening of the meeting')"))
    return [AgendaItem(d["number"], d["title"], d["line"], d["day"], d["time"], " ".join(d["description"]) or None) for d in items], days


def _parse_decisions(s: list[str], start: int, problems: list[Problem]) -> list[Decision]:
    decisions: list[Decision] = []
    if start < 0:
        return decisions
    for i in range(start + 1, len(s)):
        m = re.match(r"^(\d+)\.\s+(.+)$", s[i])
        if not m:
            continue
        if int(m.group(1)) != len(decisions) + 1:
            break  # the next numbered section of the report ("11. Any other business")
        decisions.append(Decision(int(m.group(1)), _plain(m.group(2)), i + 1))
    if not decisions:
        problems.append(Problem(start + 1, "no numbered decisions under 'List of decisions'; restore them ('1. ...')"))
    return decisions


def _parse_roadmap(lines: list[str], start: int, problems: list[Problem]) -> tuple[list[PlannedMeeting], list[RoadmapItem]]:
    if start < 0:
        return [], []
    header = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("TASK\t")), None)
    if header is None:
        problems.append(Problem(start + 1, "no 'TASK<tab>...' header row in the roadmap; restore the tab-separated table"))
        return [], []
    planned = []
    for cell in lines[header].split("\t")[1:]:
        m = re.match(r"^(\d+)\s*(?:st|nd|rd|th)\s+(Meeting.*)$", cell.strip())
        if not m:
            problems.append(Problem(header + 1, f"roadmap column '{cell.strip()}' does not name a meeting ('2 nd Meeting ...'); fix the header row"))
            continue
        planned.append(PlannedMeeting(int(m.group(1)), f"{m.group(1)}{_ordinal(int(m.group(1)))} {m.group(2).strip()}", header + 1))
    items = []
    task_number = 0
    for i in range(header + 1, len(lines)):
        if not lines[i].strip():
            break
        cells = lines[i].split("\t")
        task_number += 1
        task = _plain(cells[0])
        for column, cell in enumerate(cells[1:]):
            actions = tuple(a.strip() for a in re.split(r"(?:^|\s)-\s+(?=[A-Z(])", _plain(cell)) if a.strip())
            if actions and column < len(planned):
                items.append(RoadmapItem(task_number, task, planned[column].number, actions, i + 1))
    return planned, items


def _ordinal(n: int) -> str:
    return "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")


def _is_name(lines: list[str], i: int) -> bool:
    """'Agil SHIRINOV': preceded by a blank line, capitalised words, the last in capitals."""
    text = lines[i]
    if not text or (i and lines[i - 1]) or text[-1] in ",.:" or text in STATUS_HEADINGS:
        return False
    words = text.split()
    if len(words) < 2 or len(words) > 6 or not all(w[:1].isupper() for w in words):
        return False
    return any(c.islower() for c in words[0]) and not any(c.islower() for c in words[-1])


def _is_heading(lines: list[str], i: int) -> bool:
    """'BILBAO (SPAIN)', 'IOM (Intergovernmental ...)': capitals outside brackets, a line of its own."""
    text = lines[i]
    if not text or text in STATUS_HEADINGS or text[-1] in ",." or (i and lines[i - 1]) or (i + 1 < len(lines) and lines[i + 1]):
        return False
    outside = re.sub(r"\([^)]*\)", "", text)
    return bool(re.search(r"[A-Z]", outside)) and not any(c.islower() for c in outside)


def _place_of(heading: str) -> tuple[str | None, str | None]:
    if heading in PLACE_EXCEPTIONS:
        return PLACE_EXCEPTIONS[heading]
    m = re.fullmatch(r"(?P<city>[^()]+?)\s*\((?P<country>[^()]+)\)", heading)
    if m:
        code = _country_code(m["country"])
        return (f"{code.lower()}-{slugify(m['city'].title())}", None) if code else (None, None)
    code = _country_code(heading)
    return (code.lower(), None) if code else (None, None)


def _country_code(name: str) -> str | None:
    try:
        return pycountry.countries.lookup(COUNTRY_NAMES.get(name.strip(), name.strip())).alpha_2
    except LookupError:
        return None


def _contact_kind(text: str) -> str | None:
    return next((kind for kind, rx in CONTACT_PATTERNS if rx.search(text)), None)


def _is_location(text: str) -> bool:
    parts = [p.strip() for p in text.rstrip(".").split(",")]
    return 2 <= len(parts) <= 3 and _country_code(parts[-1]) is not None and not ORGANISATION_WORDS.search(text)


def _parse_participants(s: list[str], start: int, end: int, problems: list[Problem]) -> tuple[list[Participant], list[tuple[int, str]]]:
    if start < 0 or end < 0:
        return [], []
    people: list[Participant] = []
    dropped: list[tuple[int, str]] = []
    status: tuple[str, int] | None = None
    heading: tuple[str, int] | None = None
    subheading: str | None = None
    current: dict | None = None

    def close() -> None:
        nonlocal current
        if current is None:
            return
        position, organisation, location, kind = [], [], None, None
        for text in current["lines"]:
            if POSITION_START.match(text):
                kind = "position"
            elif ORGANISATION_WORDS.search(text):
                kind = "organisation"
            elif _is_location(text):
                location, kind = text.rstrip(".,"), None
                continue
            (position if kind == "position" else organisation).append(text.rstrip(",."))
        if subheading:
            organisation.insert(0, subheading)
        place, note = _place_of(current["heading"][0]) if current["heading"] else (None, None)
        people.append(Participant(
            name=current["name"],
            line=current["line"],
            status=current["status"][0],
            status_line=current["status"][1],
            heading=current["heading"][0] if current["heading"] else None,
            heading_line=current["heading"][1] if current["heading"] else None,
            represents=place,
            represents_note=note,
            position=", ".join(position) or None,
            organisation=", ".join(organisation) or None,
            location=location,
            attendance=current["attendance"][0] if current["attendance"] else None,
            attendance_line=current["attendance"][1] if current["attendance"] else None,
        ))
        current = None

    i = start + 1
    while i < end:
        text = s[i]
        if not text:
            i += 1
            continue
        kind = _contact_kind(text)
        if kind:
            dropped.append((i + 1, kind))
            i += 1
            continue
        if text in STATUS_HEADINGS:
            close()
            status, heading, subheading = (STATUS_HEADINGS[text], i + 1), None, None
            if STATUS_HEADINGS[text] == "secretariat":
                heading = (text, i + 1)
        elif text.startswith("**"):
            close()
            bold = [text]
            while not bold[-1].endswith("**") and i + 1 < end:
                i += 1
                bold.append(s[i])
            subheading = _plain(", ".join(b.strip("*/ ") for b in bold)).strip(" ,/")
        elif _is_heading(s, i) and status is not None:
            close()
            heading, subheading = (text, i + 1), None
        elif _is_name(s, i):
            close()
            if status is None:
                problems.append(Problem(i + 1, f"participant '{text}' comes before any section heading (MEMBERS, OBSERVER STATES...); move it under its section"))
            current = {"name": text, "line": i + 1, "status": status or ("participant", i + 1), "heading": heading, "lines": [], "attendance": None}
        elif text in ("Confirmed", "Apologised"):
            if current is None:
                problems.append(Problem(i + 1, f"'{text}' follows no participant name; put it under the name it belongs to"))
            else:
                current["attendance"] = (text.lower(), i + 1)
        elif current is not None:
            current["lines"].append(text)
        else:
            problems.append(Problem(i + 1, f"line '{text}' in the list of participants belongs to no participant; put it under a name or a heading"))
        i += 1
    close()
    return people, dropped
