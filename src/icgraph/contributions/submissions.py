"""Submissions: proposed practices, their state, and the history of every change and decision.

States::

    draft ----------> submitted ----------> accepted   (publication.accept: a new release)
      ^   (conforms)    |   |  \\
      |                 |   |   `---------> rejected   (with a reason)
      `--- edit --------+   v
                   changes requested        (with a comment; the owner edits)

An edit that does not conform to the shapes makes (or keeps) the submission a draft; one that
conforms submits it. Every change writes the submission row and its history row in one
transaction (`icgraph.contributions.database`): the history is the audit log of decisions.
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
import secrets
from dataclasses import dataclass
from pathlib import Path

from rdflib import Graph

from icgraph.contributions.accounts import User
from icgraph.contributions.checking import Check, turtle
from icgraph.contributions.database import connect

DRAFT, SUBMITTED, CHANGES_REQUESTED, ACCEPTED, REJECTED = "draft", "submitted", "changes requested", "accepted", "rejected"
STATES = (DRAFT, SUBMITTED, CHANGES_REQUESTED, ACCEPTED, REJECTED)
#: States a submission's owner may still edit it in.
EDITABLE = (DRAFT, SUBMITTED, CHANGES_REQUESTED)
#: States a reviewer decides from.
DECIDABLE = (SUBMITTED,)


class SubmissionNotFound(LookupError):
    pass


class NotAllowed(PermissionError):
    """The user may not do this to this submission (403); the message says why."""


class WrongState(ValueError):
    """Not in this state (409); the message says what state it is in and what can be done."""


@dataclass(frozen=True)
class Submission:
    id: str
    owner: str
    state: str
    practice: str
    title: str
    rdf: str
    report: dict
    created: str
    updated: str
    release: str | None

    @property
    def conforms(self) -> bool:
        return bool(self.report.get("conforms"))


@dataclass(frozen=True)
class Event:
    seq: int
    submission: str
    at: str
    actor: str
    action: str
    from_state: str | None
    to_state: str
    comment: str | None
    changes: str | None


def new_id() -> str:
    return secrets.token_hex(6)


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()


def _row(row) -> Submission:
    return Submission(
        id=row["id"], owner=row["owner"], state=row["state"], practice=row["practice"], title=row["title"], rdf=row["rdf"],
        report=json.loads(row["report"]), created=row["created"], updated=row["updated"], release=row["release"],
    )


def _record(db, submission: str, actor: str, action: str, before: str | None, after: str, comment: str | None = None,
            changes: str | None = None) -> None:
    db.execute(
        "INSERT INTO history (submission, at, actor, action, from_state, to_state, comment, changes) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (submission, _now(), actor, action, before, after, comment, changes),
    )


def create(state_dir: Path, owner: User, submission_id: str, check: Check) -> Submission:
    """Store a new submission: submitted if it conforms, else a draft."""
    state = SUBMITTED if check.conforms else DRAFT
    now = _now()
    with connect(state_dir) as db:
        db.execute(
            "INSERT INTO submissions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)",
            (submission_id, owner.name, state, str(check.practice), check.title, turtle(check.graph), json.dumps(check.report()), now, now),
        )
        _record(db, submission_id, owner.name, "create", None, state)
    return get(state_dir, submission_id)


def edit(state_dir: Path, user: User, submission_id: str, check: Check) -> Submission:
    """Replace the owner's submission with a new version: submitted if it conforms, else a draft."""
    new_rdf = turtle(check.graph)
    with connect(state_dir) as db:
        current = _get(db, submission_id)
        if current.owner != user.name:
            raise NotAllowed(f"submission {submission_id} belongs to {current.owner}; only its owner edits it")
        if current.state not in EDITABLE:
            raise WrongState(f"submission {submission_id} is {current.state}; only a draft, submitted or changes-requested one can be edited")
        state = SUBMITTED if check.conforms else DRAFT
        db.execute(
            "UPDATE submissions SET state = ?, title = ?, rdf = ?, report = ?, updated = ? WHERE id = ?",
            (state, check.title, new_rdf, json.dumps(check.report()), _now(), submission_id),
        )
        _record(db, submission_id, user.name, "edit", current.state, state, changes=rdf_difference(current.rdf, new_rdf))
    return get(state_dir, submission_id)


def request_changes(state_dir: Path, reviewer: User, submission_id: str, comment: str) -> Submission:
    return _decide(state_dir, reviewer, submission_id, "request changes", CHANGES_REQUESTED, comment)


def reject(state_dir: Path, reviewer: User, submission_id: str, reason: str) -> Submission:
    return _decide(state_dir, reviewer, submission_id, "reject", REJECTED, reason)


def _decide(state_dir: Path, reviewer: User, submission_id: str, action: str, state: str, comment: str) -> Submission:
    if not reviewer.may("reviewer"):
        raise NotAllowed(f"only a reviewer may {action}; {reviewer.name} is a {reviewer.role}")
    if not comment or not comment.strip():
        raise ValueError(f"say why ({'a comment' if state == CHANGES_REQUESTED else 'a reason'}): the contributor reads it")
    with connect(state_dir) as db:
        current = _get(db, submission_id)
        if current.state not in DECIDABLE:
            raise WrongState(f"submission {submission_id} is {current.state}; a reviewer decides on submitted ones only")
        if db.execute("SELECT 1 FROM pending_accepts WHERE submission = ?", (submission_id,)).fetchone():
            raise WrongState(f"submission {submission_id} is being published; wait for the release")
        db.execute("UPDATE submissions SET state = ?, updated = ? WHERE id = ?", (state, _now(), submission_id))
        _record(db, submission_id, reviewer.name, action, current.state, state, comment=comment.strip())
    return get(state_dir, submission_id)


def get(state_dir: Path, submission_id: str) -> Submission:
    with connect(state_dir) as db:
        return _get(db, submission_id)


def _get(db, submission_id: str) -> Submission:
    row = db.execute("SELECT * FROM submissions WHERE id = ?", (submission_id,)).fetchone()
    if row is None:
        raise SubmissionNotFound(f"no submission {submission_id!r}")
    return _row(row)


def visible(state_dir: Path, user: User, submission_id: str) -> Submission:
    """The submission, if ``user`` may see it: its owner, or a reviewer."""
    found = get(state_dir, submission_id)
    if found.owner != user.name and not user.may("reviewer"):
        raise NotAllowed(f"submission {submission_id} belongs to another contributor")
    return found


def owned_by(state_dir: Path, user: User) -> list[Submission]:
    with connect(state_dir) as db:
        return [_row(r) for r in db.execute("SELECT * FROM submissions WHERE owner = ? ORDER BY updated DESC", (user.name,))]


def queue(state_dir: Path) -> list[Submission]:
    """What reviewers have to decide on, oldest first."""
    with connect(state_dir) as db:
        return [_row(r) for r in db.execute("SELECT * FROM submissions WHERE state = ? ORDER BY updated", (SUBMITTED,))]


def history(state_dir: Path, submission_id: str) -> list[Event]:
    with connect(state_dir) as db:
        return [Event(**dict(r)) for r in db.execute("SELECT * FROM history WHERE submission = ? ORDER BY seq", (submission_id,))]


def audit_log(state_dir: Path, limit: int = 200) -> list[Event]:
    """Reviewers' decisions, newest first."""
    with connect(state_dir) as db:
        rows = db.execute(
            "SELECT * FROM history WHERE action IN ('accept', 'request changes', 'reject') ORDER BY seq DESC LIMIT ?", (limit,)
        )
        return [Event(**dict(r)) for r in rows]


def rdf_difference(before: str, after: str) -> str:
    """What changed between two versions, as a unified diff of their sorted N-Triples."""
    return "".join(difflib.unified_diff(_lines(before), _lines(after), "before", "after", n=0))


def _lines(text: str) -> list[str]:
    if not text:
        return []
    graph = Graph().parse(data=text, format="turtle")
    return sorted(line + "\n" for line in graph.serialize(format="nt").splitlines() if line.strip())
