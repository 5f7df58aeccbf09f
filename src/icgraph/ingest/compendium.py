"""Parse CDADI(2024)39, the *Draft Compendium of good practices*, into practice records.

The table of contents is the checklist: every practice it lists must have a heading
in the body, and every practice heading in the body must be listed. The parser
reads the table of contents first (with its page numbers), then finds each entry's
heading in the body, in order, and cuts the body into one span per practice.

Inside a span, field labels (``Type:``, ``Stimulus/Rationale:``...) are read from
one table, :data:`FIELD_LABELS`; everything the text does that is not a field
(page breaks, word-processor comments, footnotes, links) is repaired or pulled
out by rules that are also tables here. Nothing is guessed silently: whatever the
parser cannot place becomes a :class:`~icgraph.ingest.Problem` with its line and
the fix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pycountry

from icgraph.ingest import Problem, SourceError
from icgraph.slugs import practice_slug

# ---------------------------------------------------------------------------
#   Tables: everything the parser knows about this document
# ---------------------------------------------------------------------------

#: Chapter headings (as printed in the table of contents and the body) -> principle notation.
PRINCIPLE_HEADINGS: dict[str, str | None] = {
    "INTRODUCTION": None,
    "ENSURING EQUALITY": "equality",
    "VALUING DIVERSITY": "diversity",
    "FOSTERING MEANINGFUL INTERCULTURAL INTERACTION": "interaction",
    "PROMOTING ACTIVE CITIZENSHIP AND PARTICIPATION": "participation",
    "MULTILEVEL GOVERNANCE": "multilevel-governance",
    "INTERCULTURALISM BEYOND EUROPE: INFORMATION AND PRACTICES FROM CANADA": "canada",
}

#: Chapters whose practices sit under no country heading: the country the chapter is about.
CHAPTER_COUNTRY: dict[str, str] = {"canada": "CANADA"}

#: Headings filed like a country but naming a transnational body (no country).
TRANSNATIONAL_HEADINGS: frozenset[str] = frozenset({"ASSEMBLY OF EUROPEAN REGIONS"})

#: Country headings that pycountry does not read as printed -> the name it knows.
COUNTRY_NAMES: dict[str, str] = {"TÜRKİYE": "Türkiye"}


@dataclass(frozen=True)
class SpellingDifference:
    toc: str
    body: str
    what: str


#: The table of contents and the body spell these headings differently. Each pair is
#: accepted as the same heading; any other difference is reported as a problem.
KNOWN_SPELLING_DIFFERENCES: tuple[SpellingDifference, ...] = (
    SpellingDifference(
        "The <i>Settle in Estonia</i> client portal as an instrument for offering and managing the early integration program",
        "The *Settle in Estonia* client portal as an instrument for offering and managing the early integration program",
        "emphasis: HTML <i> in the table of contents, markdown * in the body",
    ),
    SpellingDifference(
        "“Inclusion and empowerment of Roma”",
        '"Inclusion and empowerment of Roma"',
        "quotes: curly in the table of contents, straight in the body",
    ),
    SpellingDifference(
        "ICEI – ISTITUTO DI COOPERAZIONE ECONOMICA INTERNAZIONALE : NET-IDEA: Network of European Towns for Interculturalism, Diversity, Equality and Anti-discrimination",
        "ICEI – ISTITUTO DI COOPERAZIONE ECONOMICA INTERNAZIONALE : NET-IDEA: Network of European Towns for Interculturalism, Diversity, Equality and Anti-Discrimination",
        "case: 'Anti-discrimination' in the table of contents, 'Anti-Discrimination' in the body",
    ),
    SpellingDifference(
        "BRADFORD: How Bradford Women’s community group became part of the Bangla Bantams supporters’ group for Bradford City Football Club",
        "BRADFORD: How Bradford Women's community group became part of the Bangla Bantams supporters' group for Bradford City Football Club",
        "apostrophes: curly in the table of contents, straight in the body",
    ),
    SpellingDifference(
        "“ECOSYSTEM” (strEngthening PubliC AuthOrities’ capaciTY to reSpond to inTersEctional discrimination through Multi-agency coalitions)",
        "“ECOSYSTEM” (strengthening Public Authorities’ capacity to respond to intersectional discrimination through Multi-agency coalitions)",
        "case: the table of contents capitalises the letters of the acronym ECOSYSTEM, the body does not",
    ),
    SpellingDifference(
        "Gestión y Atención a la diversidad en la Función Pública. <i>Diversity management in the public services</i>",
        "Gestión y Atención a la diversidad en la Función Pública. *Diversity management in the public services*",
        "emphasis: HTML <i> in the table of contents, markdown * in the body",
    ),
    SpellingDifference(
        "Conference-Expo “Integration Window”",
        'Conference-Expo "Integration Window"',
        "quotes: curly in the table of contents, straight in the body",
    ),
    SpellingDifference(
        "FUENLABRADA: MULTI-Stakeholder Labs for migrants and stakeholders (MUST-a-LaB)",
        "FUENLABRADA: Multi-STakeholder Labs for migrants and stakeholders (MUST-a-LaB)",
        "case: 'MULTI-Stakeholder' in the table of contents, 'Multi-STakeholder' in the body",
    ),
    SpellingDifference(
        "“Gemengepakt vum interkulturellen Zesummeliewen” (Municipal Pact for Intercultural Living Together)",
        '"Gemengepakt vum interkulturellen Zesummeliewen" (Municipal Pact for Intercultural Living Together)',
        "quotes: curly in the table of contents, straight in the body",
    ),
)

#: Field labels as printed (a regular expression for the text before the colon,
#: matched case-insensitively, longest alternative first) -> record field.
#: Lines a few practices print under "Further information" that say who did what, kept as printed
#: (field name -> label pattern): the roles read from them can be checked against them.
PRINTED_LINES: tuple[tuple[str, str], ...] = (
    ("leading_authority", r"Leading authorit(?:y\(ies\)|ies|y)"),
    ("implementing_partners", r"Implementing partners"),
)

FIELD_LABELS: tuple[tuple[str, str], ...] = (
    ("type", r"Type"),
    ("area", r"Area of intervention"),
    ("duration", r"Duration/Elaboration Period|Duration|Elaboration period"),
    ("purpose", r"Purpose"),
    ("aim", r"Aim"),
    ("rationale", r"Stimulus/Rationale and Process|Stimulus/Rationale|Rationale"),
    ("process", r"Process"),
    ("impact", r"Impact/outcomes|Impact"),
    ("further_information", r"Further information \(source\)|Further information"),
    ("key_reference_text", r"Key reference documents"),
)

#: Fields whose value is the rest of the label line; the others are running text.
ONE_LINE_FIELDS = ("type", "area", "duration")
TEXT_FIELDS = ("purpose", "aim", "rationale", "process", "impact", "further_information", "key_reference_text")

#: Word-processor comments ("Commented [BF4]: ...") by id: an editorial note to keep, or a
#: reason to drop it. A comment not listed here is kept as a note and reported.
COMMENT_DISPOSITIONS: dict[str, tuple[str, str]] = {
    "KM1": ("drop", "editor's remark on bullet formatting; says nothing about the practice"),
    "BF2": ("note", "carries meaning: the practice was submitted by a city but concerns the national level"),
    "RM3R2": ("drop", "reply to comment BF2 ('Ok to present as done here'); approves the presentation only"),
    "BF4": ("note", "carries meaning: the entry replaces an earlier Luxembourg entry"),
}

#: Footnotes without an address, by marker: why their text is left out of the description.
#: (Footnotes that only give an address, "See: <https://...>", become references.)
FOOTNOTE_DISPOSITIONS: dict[str, str] = {
    "5": "describes another project (Youth Spaces Free of Rumours), not this practice",
}

#: Link texts that are web-page artefacts pasted with a link, not references.
IGNORED_LINK_TEXTS: dict[str, str] = {
    "Link to an external website": "web-page artefact pasted after a link",
    "Opens in a new tab": "web-page artefact pasted after a link",
}

#: Printed area items that must not be split at their comma or slash: one area each.
AREA_PHRASES: tuple[str, ...] = (
    "Health, social care and family support",
    "Anti-discrimination / anti-racism",
    "National multi-level mechanism/ coordination structure",
)

# ---------------------------------------------------------------------------
#   Records
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TocEntry:
    """One row of the table of contents."""

    line: int
    text: str  # as printed, without dot leaders
    page: int
    kind: str  # "chapter" | "country" | "practice"
    principle: str | None = None
    country_heading: str | None = None
    prefix: str | None = None
    title: str | None = None  # practices: the title without prefix, as printed


@dataclass(frozen=True)
class Reference:
    """A link printed in a practice: markdown ``[text](url)``, ``<url>``, a bare URL or a ``(#)`` placeholder."""

    label: str
    url: str | None  # None for a "(#)" placeholder
    line: int
    note: str | None = None  # what was repaired in the printed address, if anything

    @property
    def without_address(self) -> bool:
        return self.url is None


@dataclass(frozen=True)
class EditorialNote:
    """A word-processor comment that carries meaning, kept as a note on the practice."""

    line: int
    comment_id: str
    text: str


@dataclass(frozen=True)
class RemovedText:
    """Text left out of the practice's fields, and why."""

    line: int
    kind: str  # "comment" | "footnote" | "link"
    text: str
    reason: str


@dataclass(frozen=True)
class FieldLabel:
    field: str
    label: str  # as printed
    line: int


@dataclass(frozen=True)
class PrintedLine:
    """A line of :data:`PRINTED_LINES` ("Leading authority: ..."), with its list items, exactly as printed."""

    field: str  # "leading_authority" | "implementing_partners"
    label: str  # as printed ("Leading authorities")
    text: str  # the rest of the line and the list items under it ("- " removed), one per line
    line: int  # the label's line (1-based)


@dataclass(frozen=True)
class PracticeRecord:
    """One practice of the compendium, as printed, with the lines it comes from."""

    slug: str
    heading: str  # the heading line as printed in the body
    title: str  # without prefix, inline HTML/markdown emphasis removed (from the table of contents)
    prefix: str | None
    principle: str
    country_heading: str | None
    country: str | None  # ISO 3166-1 alpha-2; None for transnational entries
    transnational: bool
    page: int
    toc_line: int
    start_line: int  # the heading line
    end_line: int  # the last non-blank line of the practice
    type_as_printed: str | None = None
    areas_as_printed: tuple[str, ...] = ()
    area_line: int | None = None
    duration_as_printed: str | None = None
    start_year: int | None = None
    end_year: int | None = None
    ongoing: bool | None = None
    description: str | None = None  # running text under no field label (the Canada chapter)
    purpose: str | None = None
    aim: str | None = None
    rationale: str | None = None
    process: str | None = None
    impact: str | None = None
    further_information: str | None = None
    key_reference_text: str | None = None
    labels: tuple[FieldLabel, ...] = ()
    printed_lines: tuple[PrintedLine, ...] = ()
    references: tuple[Reference, ...] = ()
    editorial_notes: tuple[EditorialNote, ...] = ()
    removed: tuple[RemovedText, ...] = ()
    page_break_joins: tuple[tuple[int, int], ...] = ()  # (last line before the break, first line after)
    spelling_difference: str | None = None  # the KNOWN_SPELLING_DIFFERENCES entry used, if any

    def label_of(self, field_name: str) -> str | None:
        """The label as printed for a field (``"Impact/outcomes"``), if the practice has it."""
        return next((lab.label for lab in self.labels if lab.field == field_name), None)


@dataclass(frozen=True)
class CompendiumParse:
    path: Path
    toc: tuple[TocEntry, ...]
    records: tuple[PracticeRecord, ...]
    problems: tuple[Problem, ...] = field(default=())

    def by_slug(self, slug: str) -> PracticeRecord:
        for record in self.records:
            if record.slug == slug:
                return record
        raise KeyError(slug)


# ---------------------------------------------------------------------------
#   Regular expressions
# ---------------------------------------------------------------------------

_TOC_ROW = re.compile(r"^\|(?P<text>.*)\|(?P<page>[^|]*)\|\s*$")
_DOT_LEADER = re.compile(r"\s*\.{2,}\s*$")
_LABEL = re.compile(
    r"^(?P<label>" + "|".join(f"(?P<{name}>{rx})" for name, rx in FIELD_LABELS) + r")\s*:\s*(?P<rest>.*)$",
    re.IGNORECASE,
)
_PRINTED_LINE = re.compile(
    r"^(?:[-*•]\s+)?(?P<label>" + "|".join(f"(?P<{name}>{rx})" for name, rx in PRINTED_LINES) + r")\s*:\s*(?P<rest>.*)$", re.IGNORECASE
)
_LIST_ITEM = re.compile(r"^[-*•]\s+(?P<item>.*)$")
_FIRST_FIELD = re.compile(r"^(Type|Area of intervention|Duration)\s*:", re.IGNORECASE)
_COMMENT = re.compile(r"^Commented \[(?P<id>[A-Z]+\d+(?:R\d+)?)\]:\s*(?P<text>.*)$")
_SUPERSCRIPTS = "⁰¹²³⁴⁵⁶⁷⁸⁹"
_FOOTNOTE = re.compile(rf"^(?P<mark>[{_SUPERSCRIPTS}]+)\s*(?P<text>.*)$")
_LINKS = re.compile(
    r"\[(?P<text>(?:[^\]\\]|\\.)*)\]\((?P<href>[^)\s]*)\)"
    r"|<(?P<auto>https?://[^>]+)>"
    r"|(?P<bare>(?:https?://|www\.)[^\s<>\[\]()]*[^\s<>\[\]().,;:])"
)
_STRUCTURED_START = re.compile(r"^(?:[-*•] |\d+\.\s|\||<https?://|https?://|\[)")
_YEAR = r"((?:19|20)\d\d)"
_MONTHS = r"(?:January|February|March|April|May|June|July|August|September|October|November|December)"


# ---------------------------------------------------------------------------
#   Parsing
# ---------------------------------------------------------------------------


def parse_compendium(path: str | Path, strict: bool = False) -> CompendiumParse:
    """Read the compendium at ``path`` into one :class:`PracticeRecord` per practice.

    Problems (table-of-contents entries without a body heading, body headings not in
    the table of contents, unclassified comments...) are collected with their line
    numbers; with ``strict=True`` they are raised together as a :class:`SourceError`.
    """
    path = Path(path)
    lines = path.read_text(encoding="utf-8").split("\n")
    problems: list[Problem] = []

    toc, body_start = _parse_toc(lines, problems)
    structure = _find_headings(lines, toc, body_start, problems)
    records = [_read_practice(lines, entry, spelling, span, problems) for entry, spelling, span in structure]
    _check_unique_slugs(records, problems)

    problems.sort(key=lambda p: p.line)
    result = CompendiumParse(path=path, toc=tuple(toc), records=tuple(records), problems=tuple(problems))
    if strict and problems:
        raise SourceError(path, problems)
    return result


def _parse_toc(lines: list[str], problems: list[Problem]) -> tuple[list[TocEntry], int]:
    """Read the table of contents; return its entries and the index where the body starts."""
    try:
        start = next(i for i, line in enumerate(lines) if line.strip() == "TABLE OF CONTENTS")
    except StopIteration:
        problems.append(Problem(1, "no 'TABLE OF CONTENTS' line; restore the table of contents, the parser's checklist"))
        return [], 0
    entries: list[TocEntry] = []
    principle: str | None = None
    country: str | None = None
    i = start + 1
    while i < len(lines):
        raw = lines[i]
        if not raw.strip():
            i += 1
            continue
        row = _TOC_ROW.match(raw.strip())
        if not row:
            break  # the first line that is not a table row starts the body
        text = _DOT_LEADER.sub("", row["text"].strip()).strip()
        page_text = row["page"].strip()
        if not text or not page_text.isdigit():
            i += 1  # header row "| | |" or separator "|--|---|"
            continue
        lineno, page = i + 1, int(page_text)
        if text in PRINCIPLE_HEADINGS:
            principle, country = PRINCIPLE_HEADINGS[text], CHAPTER_COUNTRY.get(PRINCIPLE_HEADINGS[text] or "")
            entries.append(TocEntry(lineno, text, page, "chapter", principle=principle))
        elif not any(c.islower() for c in text) and ":" not in text:
            country = text
            entries.append(TocEntry(lineno, text, page, "country", principle=principle, country_heading=country))
        else:
            if principle is None:
                problems.append(Problem(lineno, f"practice '{text}' comes before any chapter heading in the table of contents; move it under its chapter"))
            prefix, title = split_prefix(text)
            entries.append(TocEntry(lineno, text, page, "practice", principle, country, prefix, title))
        i += 1
    return entries, i


def split_prefix(heading: str) -> tuple[str | None, str]:
    """Split ``'BILBAO: Anti-rumours strategy'`` into ``('BILBAO', 'Anti-rumours strategy')``.

    A prefix is the text before the first colon when it has no lower-case letter.
    """
    left, sep, right = heading.partition(":")
    if sep and left.strip() and not any(c.islower() for c in left) and right.strip():
        return left.strip(), right.strip()
    return None, heading.strip()


def _find_headings(
    lines: list[str], toc: list[TocEntry], body_start: int, problems: list[Problem]
) -> list[tuple[TocEntry, str | None, tuple[int, int, list[int]]]]:
    """Find each practice's heading in the body.

    Returns, per practice: its entry, the spelling difference used to match it (if any),
    and (heading index, last index, indexes of comments standing just before the heading).
    """
    body = range(body_start, len(lines))
    stripped = [line.strip() for line in lines]
    countries = {e.text for e in toc if e.kind == "country"}
    structural: dict[int, str] = {}  # line index -> "chapter" | "country" | "practice"
    chapter_at: dict[int, str | None] = {}
    country_at: dict[int, str] = {}
    for i in body:
        if stripped[i] in PRINCIPLE_HEADINGS:
            structural[i] = "chapter"
            chapter_at[i] = PRINCIPLE_HEADINGS[stripped[i]]
        elif stripped[i] in countries:
            structural[i] = "country"
            country_at[i] = stripped[i]

    found: list[tuple[TocEntry, int, str | None]] = []
    cursor = body_start
    for entry in (e for e in toc if e.kind == "practice"):
        spellings = {entry.text: None}
        spellings.update({d.body: d.what for d in KNOWN_SPELLING_DIFFERENCES if d.toc == entry.text})
        hit = next((i for i in range(cursor, len(lines)) if stripped[i] in spellings and i not in structural), None)
        if hit is None:
            problems.append(Problem(
                entry.line,
                f"table-of-contents entry '{entry.text}' (page {entry.page}) has no heading in the body; "
                "restore the heading in the body, or add its body spelling to KNOWN_SPELLING_DIFFERENCES "
                "in src/icgraph/ingest/compendium.py",
            ))
            continue
        structural[hit] = "practice"
        found.append((entry, hit, spellings[stripped[hit]]))
        cursor = hit + 1

    # Body headings the table of contents does not list: a line followed by a first field label.
    for i in body:
        if i in structural or not stripped[i] or _LABEL.match(stripped[i]) or _COMMENT.match(stripped[i]):
            continue
        if _STRUCTURED_START.match(stripped[i]) or stripped[i].endswith((".", ":")):
            continue
        nxt = next((j for j in range(i + 1, len(lines)) if stripped[j]), None)
        if nxt is not None and _FIRST_FIELD.match(stripped[nxt]):
            problems.append(Problem(
                i + 1,
                f"heading '{stripped[i]}' is not in the table of contents; fix the heading or the table of contents",
            ))
            structural[i] = "unlisted"

    ordered = sorted(structural)
    result = []
    for entry, hit, spelling in found:
        # The body must file the heading under the same chapter and country as the table of contents.
        chapter = next((chapter_at[j] for j in reversed(ordered) if j < hit and j in chapter_at), None)
        if chapter != entry.principle:
            problems.append(Problem(hit + 1, f"heading '{stripped[hit]}' stands under chapter '{chapter}' in the body but '{entry.principle}' in the table of contents; move it"))
        nxt = next((j for j in ordered if j > hit), len(lines))
        end = max(j for j in range(hit, nxt) if stripped[j])
        # Comments between the previous heading and this one belong to this practice.
        prev = max((j for j in ordered if j < hit), default=body_start)
        comments = [j for j in range(prev + 1, hit) if _COMMENT.match(stripped[j])] if structural.get(prev) != "practice" else []
        result.append((entry, spelling, (hit, end, comments)))
    return result


def _printed_lines(lines: list[str], first: int, last: int) -> tuple[PrintedLine, ...]:
    """The :data:`PRINTED_LINES` of lines ``first``..``last`` (0-based): a label's own text and the list
    items right under it (blank lines between items allowed), up to the next line that is neither. A label
    that is itself a list item ("- Leading authority(ies): ...") has only its own text."""
    found = []
    i = first
    while i <= last:
        match = _PRINTED_LINE.match(lines[i].strip())
        i += 1
        if not match:
            continue
        label_line = i
        parts = [match["rest"].strip()] if match["rest"].strip() else []
        while i <= last and not _LIST_ITEM.match(lines[label_line - 1].strip()):
            text = lines[i].strip()
            item = _LIST_ITEM.match(text)
            if item and not _PRINTED_LINE.match(text):
                parts.append(item["item"].strip())
            elif text:
                break
            i += 1
        name = next(n for n, _ in PRINTED_LINES if match[n] is not None)
        found.append(PrintedLine(name, match["label"], "\n".join(parts), label_line))
    return tuple(found)


def _read_practice(
    lines: list[str], entry: TocEntry, spelling: str | None, span: tuple[int, int, list[int]], problems: list[Problem]
) -> PracticeRecord:
    hit, end, outside_comments = span
    heading = lines[hit].rstrip()
    principle = entry.principle or ""
    country_heading = entry.country_heading
    transnational = country_heading in TRANSNATIONAL_HEADINGS
    country = None if transnational or country_heading is None else _country_code(country_heading, entry.line, problems)

    fields: dict[str, list[tuple[int, str]]] = {"description": []}
    labels: list[FieldLabel] = []
    notes: list[EditorialNote] = []
    removed: list[RemovedText] = []
    current = "description"
    for i in outside_comments:
        _take_comment(i, lines[i].strip(), notes, removed, problems)
    for i in range(hit + 1, end + 1):
        text = lines[i].strip()
        if not text:
            continue
        if _COMMENT.match(text):
            _take_comment(i, text, notes, removed, problems)
            continue
        foot = _FOOTNOTE.match(text)
        if foot:
            mark = str(int("".join(str(_SUPERSCRIPTS.index(c)) for c in foot["mark"])))
            if not _LINKS.search(foot["text"]):
                reason = FOOTNOTE_DISPOSITIONS.get(mark)
                if reason is None:
                    reason = "footnote"
                    problems.append(Problem(i + 1, f"footnote {mark} is not classified; add it to FOOTNOTE_DISPOSITIONS in src/icgraph/ingest/compendium.py with the reason to leave it out"))
                removed.append(RemovedText(i + 1, "footnote", text, reason))
            else:
                removed.append(RemovedText(i + 1, "footnote", text, "footnote giving an address; kept as a reference"))
            continue
        label = _LABEL.match(text)
        if label:
            name = next(n for n, _ in FIELD_LABELS if label[n] is not None)
            if name not in fields:
                labels.append(FieldLabel(name, label["label"], i + 1))
                current = name
                fields[name] = [(i, label["rest"])] if label["rest"].strip() else []
                continue
            # A label repeated inside a field (e.g. "Impact:" per stage) is part of its text.
        if current in ONE_LINE_FIELDS:
            problems.append(Problem(i + 1, f"line under the one-line field '{current}' is not a field label; give it a label from FIELD_LABELS or join it to the '{current}' line"))
            current = "description"
            fields.setdefault("description", [])
        fields.setdefault(current, []).append((i, text))

    joins: list[tuple[int, int]] = []
    texts = {name: _assemble(fields.get(name, []), joins) for name in ("description", *TEXT_FIELDS)}

    type_as_printed = _one_line(fields.get("type"))
    area_text = _one_line(fields.get("area"))
    duration = _one_line(fields.get("duration"))
    start, finish, ongoing = parse_duration(duration)
    references = _extract_references(lines, hit + 1, end, removed)

    title = clean_inline(entry.title or "")
    return PracticeRecord(
        slug=practice_slug(entry.title or "", entry.prefix),
        heading=heading,
        title=title,
        prefix=entry.prefix,
        principle=principle,
        country_heading=country_heading,
        country=country,
        transnational=transnational,
        page=entry.page,
        toc_line=entry.line,
        start_line=hit + 1,
        end_line=end + 1,
        type_as_printed=type_as_printed,
        areas_as_printed=split_areas(area_text) if area_text else (),
        area_line=(fields["area"][0][0] + 1) if fields.get("area") else None,
        duration_as_printed=duration,
        start_year=start,
        end_year=finish,
        ongoing=ongoing,
        labels=tuple(labels),
        printed_lines=_printed_lines(lines, hit + 1, end),
        references=tuple(references),
        editorial_notes=tuple(notes),
        removed=tuple(sorted(removed, key=lambda r: r.line)),
        page_break_joins=tuple(joins),
        spelling_difference=spelling,
        **texts,
    )


def _take_comment(i: int, text: str, notes: list[EditorialNote], removed: list[RemovedText], problems: list[Problem]) -> None:
    m = _COMMENT.match(text)
    assert m is not None
    disposition = COMMENT_DISPOSITIONS.get(m["id"])
    if disposition is None:
        problems.append(Problem(i + 1, f"word-processor comment [{m['id']}] is not classified; add it to COMMENT_DISPOSITIONS in src/icgraph/ingest/compendium.py as a note to keep or a comment to drop"))
        disposition = ("note", "unclassified comment")
    action, reason = disposition
    if action == "note":
        notes.append(EditorialNote(i + 1, m["id"], m["text"].strip()))
    removed.append(RemovedText(i + 1, "comment", text, ("kept as editorial note: " if action == "note" else "dropped: ") + reason))


def _country_code(heading: str, line: int, problems: list[Problem]) -> str | None:
    name = COUNTRY_NAMES.get(heading, heading)
    try:
        return pycountry.countries.lookup(name).alpha_2
    except LookupError:
        problems.append(Problem(line, f"country heading '{heading}' is not a country pycountry knows; add its English name to COUNTRY_NAMES in src/icgraph/ingest/compendium.py, or to TRANSNATIONAL_HEADINGS"))
        return None


def _check_unique_slugs(records: list[PracticeRecord], problems: list[Problem]) -> None:
    seen: dict[str, PracticeRecord] = {}
    for record in records:
        if record.slug in seen:
            problems.append(Problem(record.toc_line, f"practice slug '{record.slug}' is also the slug of the practice at line {seen[record.slug].toc_line}; make the titles differ"))
        seen.setdefault(record.slug, record)


def _one_line(entries: list[tuple[int, str]] | None) -> str | None:
    if not entries:
        return None
    value = " ".join(text for _, text in entries).strip()
    return value or None


# ---------------------------------------------------------------------------
#   Running text: paragraphs, page breaks, inline markup
# ---------------------------------------------------------------------------


def _assemble(entries: list[tuple[int, str]], joins: list[tuple[int, int]]) -> str | None:
    """Lines -> text: consecutive lines stay one block (``\\n``), blank lines separate blocks
    (``\\n\\n``), and a sentence a page break split across a blank line is joined again."""
    if not entries:
        return None
    blocks: list[list[tuple[int, str]]] = []
    for i, text in entries:
        if blocks and i == blocks[-1][-1][0] + 1:
            blocks[-1].append((i, text))
        else:
            blocks.append([(i, text)])
    merged: list[list[tuple[int, str]]] = [blocks[0]]
    for block in blocks[1:]:
        before, after = merged[-1][-1], block[0]
        if continues_after_page_break(before[1], after[1]):
            joins.append((before[0] + 1, after[0] + 1))
            merged[-1][-1] = (before[0], before[1].rstrip() + " " + after[1].lstrip())
            merged[-1].extend(block[1:])
        else:
            merged.append(block)
    text = "\n\n".join("\n".join(clean_inline(t) for _, t in block) for block in merged).strip()
    return text or None


def continues_after_page_break(before: str, after: str) -> bool:
    """Does ``after`` continue the sentence ``before`` left unfinished at a page break?

    The next block must be running text (not a list item, table row, link line or label)
    and either start in lower case, start with a number after a comma, or follow a long
    line that ends in a lower-case word ("... included in the third" / "Bilbao ...").
    """
    before, after = before.rstrip(), after.lstrip()
    if not before or not after or _STRUCTURED_START.match(after) or _LABEL.match(after):
        return False
    last = before[-1]
    if last in ".!?:;":
        return False
    if after[0].islower():
        return True
    if after[0].isdigit():
        return last == ","
    last_word = re.split(r"[\s\-–]", before)[-1]
    return len(before) >= 100 and last_word[:1].islower() and last_word.isalpha()


def clean_inline(text: str) -> str:
    """Remove inline markup: links keep their text, HTML tags and markdown emphasis go,
    markdown escapes and footnote markers are dropped."""
    text = re.sub(r"\[((?:[^\]\\]|\\.)*)\]\([^)\s]*\)", r"\1", text)
    text = re.sub(r"<(https?://[^>]+)>", r"\1", text)
    text = re.sub(r"</?[A-Za-z][^>]*>", " ", text)
    text = re.sub(r"\*\*(.+?)\*\*", r"\1", text)
    text = re.sub(r"(?<![\w*])\*(?=\S)(.+?)(?<=\S)\*(?![\w*])", r"\1", text)
    text = text.replace("**", "")
    text = re.sub(r"\\([()\[\]$*_#.!-])", r"\1", text)
    text = re.sub(rf"[{_SUPERSCRIPTS}]+", "", text)
    text = re.sub(r"[ \t]{2,}", " ", text)
    return text.strip()


# ---------------------------------------------------------------------------
#   Fields with structure: areas, duration, references
# ---------------------------------------------------------------------------


def split_areas(printed: str) -> tuple[str, ...]:
    """Split an ``Area of intervention:`` value into its items (at ``;``, ``,`` and ``/``),
    keeping the phrases of :data:`AREA_PHRASES` whole."""
    protected: dict[str, str] = {}
    for n, phrase in enumerate(AREA_PHRASES):
        if phrase.lower() in printed.lower():
            start = printed.lower().index(phrase.lower())
            key = f"\x00{n}\x00"
            protected[key] = printed[start:start + len(phrase)]
            printed = printed[:start] + key + printed[start + len(phrase):]
    items = []
    for part in re.split(r"[;,/]", printed):
        for key, phrase in protected.items():
            part = part.replace(key, phrase)
        part = part.strip()
        if part:
            items.append(part)
    return tuple(items)


def parse_duration(printed: str | None) -> tuple[int | None, int | None, bool | None]:
    """Read (start year, end year, ongoing) from a printed duration, as far as the text allows.

    >>> parse_duration("Roadmap for access to the law (2022-2026)")
    (2022, 2026, None)
    >>> parse_duration("2022-ongoing")
    (2022, None, True)
    >>> parse_duration("Since 2019 (ongoing)")
    (2019, None, True)
    >>> parse_duration("November 2020 – February 2023 (28 months)")
    (2020, 2023, None)
    >>> parse_duration("indefinite")
    (None, None, None)
    """
    if not printed:
        return None, None, None
    text = printed.strip()
    ongoing = True if re.search(r"\bongoing\b", text, re.IGNORECASE) else None
    # "Since 2014", "set up in 2013", "Created in 2001", "launched in July 2022", "start date: 1 January 2022"
    marker = re.search(
        rf"\b(?:since|set up in|established in|created in|launched in|starting in|start date:)\s+(?:\d{{1,2}}\s+)?(?:{_MONTHS}\s+)?{_YEAR}",
        text,
        re.IGNORECASE,
    )
    if marker:
        if re.match(r"^since\b", text, re.IGNORECASE) or re.search(r"\bsince\b", text[: marker.start() + 6], re.IGNORECASE):
            ongoing = True  # "since 2013": still running when the text was written
        return int(marker.group(1)), None, ongoing
    # "2024-2027", "November 2020 – February 2023", "1 September 2020 – 30 June 2023", "From September 2019 to March 2022"
    span = re.search(
        rf"{_YEAR}\)?\s*(?:[-–]|\bto\b)\s*(?:\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?)?(?:{_MONTHS}\s+)?{_YEAR}",
        text,
    )
    if span:
        return int(span.group(1)), int(span.group(2)), ongoing
    years = re.findall(_YEAR, text)
    if re.fullmatch(_YEAR, text):
        return int(text), int(text), ongoing  # "2022": the practice ran that year
    if years:
        return int(years[0]), None, ongoing  # "2024-", "November 2022, for 24 months", "3 months (2022) - ..."
    return None, None, ongoing


def _extract_references(lines: list[str], first: int, last: int, removed: list[RemovedText]) -> list[Reference]:
    """Every link printed between lines ``first`` and ``last`` (0-based, inclusive), in order,
    each address once."""
    refs: list[Reference] = []
    seen: dict[str, int] = {}

    def add(ref: Reference) -> None:
        key = ref.url or "#" + ref.label
        if key not in seen:
            seen[key] = len(refs)
            refs.append(ref)
        elif refs[seen[key]].label.startswith("footnote "):
            # The same address listed again with a name: keep the first line, take the name.
            first_ref = refs[seen[key]]
            refs[seen[key]] = Reference(ref.label, first_ref.url, first_ref.line, first_ref.note)

    for i in range(first, last + 1):
        text = lines[i].strip()
        if not text or _COMMENT.match(text):
            continue
        for m in _LINKS.finditer(text):
            lineno = i + 1
            if m["href"] is not None:
                label = clean_inline(m["text"].replace("\\", ""))
                if label in IGNORED_LINK_TEXTS:
                    removed.append(RemovedText(lineno, "link", m.group(0), IGNORED_LINK_TEXTS[label]))
                    continue
                if m["href"] in ("", "#"):
                    add(Reference(label, None, lineno))
                else:
                    add(Reference(label, m["href"], lineno))
                continue
            printed = m["auto"] or m["bare"]
            foot = _FOOTNOTE.match(text)
            if foot:
                label = "footnote " + "".join(str(_SUPERSCRIPTS.index(c)) for c in foot["mark"])
            else:
                label = _label_before(lines, i, m, first)
            for url, note in _repair_address(printed):
                add(Reference(label or url, url, lineno, note))
    return refs


def _repair_address(printed: str) -> list[tuple[str, str | None]]:
    """Make a printed address usable; say what was changed."""
    url, notes = printed, []
    if re.search(r"\s", url):
        url = re.sub(r"\s+", "", url)
        notes.append(f"address printed with a space ('{printed}')")
    if url.startswith("www."):
        url = "http://" + url
        notes.append(f"address printed without a scheme ('{printed}'); http:// added")
    parts = [p for p in re.split(r"(?=https?://)", url) if p]
    if len(parts) > 1:
        note = f"two addresses printed run together ('{printed}')"
        return [(p, "; ".join([*notes, note])) for p in parts]
    return [(url, "; ".join(notes) or None)]


def _label_before(lines: list[str], i: int, m: re.Match[str], first: int) -> str | None:
    """The text a bare or ``<...>`` link is named by, if the source gives one:

    - the words before it on its line, when the link ends the line ("Website of X: <url> (ENG)");
    - else, for a line holding only links, a short title line just above it
      ("Web sites for stakeholders" over a list of addresses).
    A link in the middle of a sentence has no name: its address stands for it.
    """
    line = lines[i].strip()
    after = line[m.end():].strip()
    before = re.sub(r"^[-*•]\s*", "", line[: m.start()].strip())
    label = _LABEL.match(before)
    if label:
        before = label["rest"]
    before = before.strip().rstrip(":–-—").strip()
    ends_line = re.fullmatch(r"(?:\([^)]*\))?\s*[.;,]?", after) is not None
    if before:
        if ends_line and len(before) <= 150 and not _LINKS.search(before) and not re.fullmatch(r"[\W\d]*", before):
            return clean_inline(before)
        return None
    for j in range(i - 1, max(first, i - 6) - 1, -1):
        above = lines[j].strip()
        if not above:
            continue
        if re.fullmatch(r"[-*•]?\s*<?(https?://|www\.)\S+>?", above):
            continue  # another line holding only a link: look further up
        above = re.sub(r"^[-*•]\s*", "", clean_inline(above))
        label = _LABEL.match(above)
        if label:
            above = label["rest"]
        above = above.strip().rstrip(":").strip()
        if above and len(above) <= 120 and not above.endswith(".") and not _LINKS.search(above):
            return above
        return None
    return None
