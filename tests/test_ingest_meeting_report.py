"""The meeting report parser against GT-ADI-INT(2020)4."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from icgraph.ingest.meeting_report import parse_meeting_report

SOURCE = Path(__file__).resolve().parents[1] / "data" / "sources" / "gt-adi-int-2020-4-meeting-report.txt"


@pytest.fixture(scope="module")
def report():
    return parse_meeting_report(SOURCE)


def test_parses_without_problems(report):
    assert [str(p) for p in report.problems] == []


def test_document_working_group_and_meeting(report):
    assert (report.code, report.code_line, report.date) == ("GT-ADI-INT(2020)4", 3, date(2020, 10, 19))
    assert (report.working_group, report.working_group_acronym) == ("Working Group on Intercultural Integration", "GT-ADI-INT")
    assert report.parent_committee == "CDADI"
    m = report.meeting
    assert (m.number, m.start, m.end) == (1, date(2020, 9, 29), date(2020, 9, 30))
    assert m.number_line == 134  # decision 5 schedules the second meeting


def test_agenda_items(report):
    assert [a.number for a in report.agenda] == list(range(1, 9))
    assert report.agenda[0].title == "Opening of the meeting" and report.agenda[0].line == 148
    assert report.agenda[4].title.startswith("The Intercultural Integration Policy Model") and "CM/Rec(2015)1" in report.agenda[4].title
    assert report.agenda[-1].title == "Any other business" and report.agenda[-1].day == date(2020, 9, 30)


def test_five_decisions(report):
    assert [(d.number, d.line) for d in report.decisions] == [(1, 130), (2, 131), (3, 132), (4, 133), (5, 134)]
    assert report.decisions[2].text == "Appointed Solve Saetre as Gender Equality Rapporteur."


def test_roadmap(report):
    assert [(p.number, p.label) for p in report.planned_meetings] == [
        (2, "2nd Meeting 1-3 December 2020 (CDADI Feb/2021)"),
        (3, "3rd Meeting April 2021 (CDADI June/2021)"),
        (4, "4th Meeting September 2021 (CDADI Dec/2021)"),
    ]
    assert [(r.task_number, r.meeting_number) for r in report.roadmap] == [(1, 2), (1, 3), (2, 2), (2, 3), (3, 4)]
    assert report.roadmap[-1].actions[0] == "Discuss: sharing practices and peer learning (including the national level)"
    assert not any("<" in a for r in report.roadmap for a in r.actions)


def test_participants_statuses(report):
    statuses = {}
    for p in report.participants:
        statuses[p.status] = statuses.get(p.status, 0) + 1
    assert statuses == {"member": 25, "observer": 2, "participant": 2, "expert": 7, "secretariat": 7}
    by_name = {p.name: p for p in report.participants}
    bilbao = by_name["Claudia Emmanuel LAREDO"]
    assert (bilbao.heading, bilbao.represents, bilbao.status, bilbao.line) == ("BILBAO (SPAIN)", "es-bilbao", "member", 228)
    canada = by_name["Mary COULTER"]
    assert (canada.status, canada.heading, canada.represents) == ("observer", "CANADA", "ca")
    assert by_name["Şenol DÜLGER"].represents == "tr-bursa-osmangazi"
    assert by_name["Laura CORRADO"].status == "participant" and by_name["Laura CORRADO"].represents is None
    assert by_name["Niall CROWLEY"].status == "expert" and by_name["Niall CROWLEY"].heading is None
    assert by_name["Ivana D’ALESSANDRO"].status == "secretariat"
    assert by_name["Ivana D’ALESSANDRO"].position == "Head of the Intercultural Cities unit, Secretary to the GT-ADI-INT"


def test_attendance(report):
    by_name = {p.name: p for p in report.participants}
    assert by_name["Alen TAHIRI"].attendance == "apologised"
    assert by_name["Lorenia Iveth VALLES SAMPEDRO"].attendance == "apologised"
    assert by_name["Agil SHIRINOV"].attendance == "confirmed" and by_name["Agil SHIRINOV"].attendance_line == 212
    # "Confirmed" printed in the middle of the entry (page break) still counts
    assert by_name["Robert ALAGJOZOVSKI"].attendance == "confirmed"
    assert by_name["Robert ALAGJOZOVSKI"].organisation == "Government of North Macedonia"
    assert {p.attendance for p in report.participants if p.status == "secretariat"} == {None}
    assert sum(p.attendance == "confirmed" for p in report.participants) == 34


def test_no_contact_details_are_kept(report):
    kept = " ".join(
        " ".join(filter(None, (p.name, p.position, p.organisation, p.location, p.heading))) for p in report.participants
    )
    assert "@" not in kept and "coe.int" not in kept
    assert not re.search(r"\+\d|\(0\)3", kept)
    assert "Congreso de la Unión No. 66" not in kept and "15960" not in kept
    assert [kind for _, kind in report.dropped_contacts].count("e-mail") == 5
    assert [kind for _, kind in report.dropped_contacts].count("telephone") == 2
    assert [line for line, kind in report.dropped_contacts if kind == "postal address"] == [471, 472]
