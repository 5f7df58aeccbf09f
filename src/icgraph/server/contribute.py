"""Contributions on the web: the submissions API, and the pages to log in, submit and review.

API (``/api/submissions``, tag "Contributions"): programs authenticate with an API token
(``Authorization: Bearer TOKEN``, from ``icgraph users token NAME``); no cookie is read there, so
no other site can make a browser submit (no CSRF on the API by construction). Pages use a
session cookie (Secure, HttpOnly, SameSite=Lax) and a CSRF token tied to the session (a hidden
form field compared with the one stored for the session): every form POST without it is refused.

Without an account one reads everything (the graph, /changes) and submits nothing: 401. A
contributor submits and edits their own submissions; a reviewer also decides (accept, request
changes, reject); 403 otherwise. Each account may send ``Settings.submission_rate`` submissions
and edits, each at most ``Settings.submission_max_bytes``. Checking runs in a thread; accepting
runs in a process of its own (`icgraph.contributions.publication`), whose release the server
then follows.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import sys
from pathlib import Path
from urllib.parse import quote

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from rdflib import URIRef

import icgraph
from icgraph.config import Settings
from icgraph.contributions import accounts, checking, corrections, duplicates, publication, submissions
from icgraph.contributions import form as practice_form
from icgraph.contributions.accounts import User
from icgraph.namespaces import compact
from icgraph.server.api_responses import TEXT
from icgraph.server.security import EndpointError
from icgraph.server.throttle import client_address
from icgraph.server.templating import templates

router = APIRouter(tags=["Contributions"])

SESSION_COOKIE = "icgraph_session"
LOGIN_CSRF_COOKIE = "icgraph_login_csrf"
_JSON = {"application/json": {"schema": {"type": "object"}}}
_SUBMISSION_BODY = {
    "requestBody": {
        "required": True,
        "description": "One practice (a node typed icg:Practice): Turtle, or JSON-LD under the project's context "
                       "(ontology/context.jsonld; without an @context it is applied). Blank nodes become parts of the practice. "
                       "To correct a published practice, give it prov:wasRevisionOf <practice:SLUG> (or name it practice:SLUG): "
                       "it is kept as practice:SLUG-correction-ID, and GET shows its difference from the published one.",
        "content": {checking.TURTLE: {"schema": {"type": "string"}}, checking.JSON_LD: {"schema": {"type": "object"}}},
    }
}
_WHY = {
    400: {"description": "The body cannot be read as Turtle or JSON-LD (the text says where)", "content": TEXT},
    401: {"description": "No API token, or an unknown one ('Authorization: Bearer TOKEN'; `icgraph users token NAME`)", "content": TEXT},
    403: {"description": "The account's role does not allow this, or the submission is another's", "content": TEXT},
    404: {"description": "No such submission", "content": TEXT},
    409: {"description": "The submission is not in a state that allows this (the text says which it is)", "content": TEXT},
    413: {"description": "The body is larger than ICGRAPH_SUBMISSION_MAX_BYTES", "content": TEXT},
    415: {"description": "Neither text/turtle nor application/ld+json", "content": TEXT},
    422: {"description": "The practice does not conform to the shapes: it is kept as a draft, and every SHACL result is "
                         "listed (severity, focus, path, value, message in the shape's words)", "content": _JSON},
    429: {"description": "This account sent more than ICGRAPH_SUBMISSION_RATE submissions; see Retry-After", "content": TEXT},
}


def _settings(request: Request) -> Settings:
    return request.app.state.settings


def _state(request: Request) -> Path:
    return _settings(request).state_dir


# --------------------------------------------------------------------------- who is asking


def api_user(request: Request) -> User:
    """The account of the API token in the Authorization header; 401 without one."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    challenge = {"WWW-Authenticate": 'Bearer realm="icgraph contributions"'}
    if scheme.lower() != "bearer" or not token.strip():
        raise EndpointError(401, "Submitting needs an account: send 'Authorization: Bearer TOKEN' (an administrator "
                                 "creates one with `icgraph users token NAME`).", challenge)
    user = accounts.token_user(_state(request), token.strip())
    if user is None:
        raise EndpointError(401, "This API token is not known (revoked, or its account removed); ask for a new one.", challenge)
    return user


def _require(user: User, role: str, doing: str) -> None:
    if not user.may(role):
        raise EndpointError(403, f"Only a {role} may {doing}; {user.name} is a {user.role}.")


def _throttle(request: Request, user: User) -> None:
    """429 once ``user`` has sent ``Settings.submission_rate`` submissions and edits in the window (kept across restarts)."""
    refused = accounts.submission_wait(_state(request), _settings(request).submission_rate, user.name)
    if refused is not None:
        raise EndpointError(429, refused[1], {"Retry-After": str(refused[0])})


async def _body(request: Request) -> tuple[bytes, str]:
    limit = _settings(request).submission_max_bytes
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type not in (checking.TURTLE, checking.JSON_LD, "application/json"):
        raise EndpointError(415, f"Send the practice as {checking.TURTLE} or {checking.JSON_LD} (Content-Type), not {media_type or 'nothing'}.")
    body = await request.body()
    if len(body) > limit:
        raise EndpointError(413, f"The submission has {len(body)} bytes; the limit is {limit} (ICGRAPH_SUBMISSION_MAX_BYTES).")
    return body, media_type


def run_check(settings: Settings, body: bytes, media_type: str, submission_id: str, practice: str | None = None) -> checking.Check:
    graph = checking.parse(body, media_type)
    from rdflib import URIRef

    return checking.check(settings, graph, submission_id, URIRef(practice) if practice else None, lines=body.count(b"\n") + 1)


async def _checked(request: Request, body: bytes, media_type: str, submission_id: str, practice: str | None = None) -> checking.Check:
    try:
        return await anyio.to_thread.run_sync(run_check, _settings(request), body, media_type, submission_id, practice)
    except checking.SubmissionError as error:
        raise EndpointError(400, str(error)) from None


def _url(request: Request, submission_id: str) -> str:
    return str(request.url_for("submission_json", submission_id=submission_id))


def view(request: Request, found: submissions.Submission, with_history: bool = False) -> dict:
    data = {
        "id": found.id, "iri": str(checking.submission_iri(found.id)), "url": _url(request, found.id), "state": found.state,
        "owner": found.owner, "practice": found.practice, "title": found.title, "created": found.created,
        "updated": found.updated, "release": found.release, "conforms": found.conforms,
        "results": found.report.get("results", []), "rdf": found.rdf,
        "corrects": corrections.corrected_practice(found.rdf, found.practice),
    }
    if with_history and data["corrects"]:
        change = corrections.difference(_settings(request), found.rdf, found.practice, data["corrects"])
        data["difference"] = {kind: [{"field": s.field, "value": s.value, "term": s.term} for s in found_statements]
                              for kind, found_statements in (("removed", change.removed), ("added", change.added))}
        data["supersededBy"] = change.superseded_by  # an accepted correction has replaced the practice since
    if with_history:
        data["history"] = [
            {"at": e.at, "actor": e.actor, "action": e.action, "from": e.from_state, "to": e.to_state, "comment": e.comment, "changes": e.changes}
            for e in submissions.history(_state(request), found.id)
        ]
    return data


def _answer(request: Request, found: submissions.Submission, created: bool) -> JSONResponse:
    status = 422 if not found.conforms else (201 if created else 200)
    headers = {"Location": _url(request, found.id)} if created else {}
    return JSONResponse(view(request, found), status_code=status, headers=headers)


def _not_found(error: Exception) -> EndpointError:
    return EndpointError(404, f"{error.args[0]}; list yours at /api/submissions.")


# --------------------------------------------------------------------------- the API


@router.post(
    "/api/submissions", summary="Submit a practice", operation_id="submit_practice",
    responses={201: {"description": "Stored and submitted for review: the submission with its IRI (Location: its URL)", "content": _JSON},
               **{c: _WHY[c] for c in (400, 401, 413, 415, 422, 429)}},
    openapi_extra=_SUBMISSION_BODY,
)
async def submit(request: Request) -> Response:
    user = api_user(request)
    _throttle(request, user)
    body, media_type = await _body(request)
    submission_id = submissions.new_id()
    check = await _checked(request, body, media_type, submission_id)
    found = await anyio.to_thread.run_sync(submissions.create, _state(request), user, submission_id, check)
    return _answer(request, found, created=True)


@router.get(
    "/api/submissions", summary="List submissions: your own, or (for a reviewer, state=submitted) the review queue",
    operation_id="list_submissions", responses={200: {"description": "Submissions", "content": _JSON}, 401: _WHY[401], 403: _WHY[403]},
)
async def list_submissions(request: Request, state: str | None = None) -> JSONResponse:
    user = api_user(request)
    await anyio.to_thread.run_sync(publication.reconcile, _settings(request))
    if state == submissions.SUBMITTED:
        _require(user, "reviewer", "see the review queue")
        found = submissions.queue(_state(request))
    else:
        found = submissions.owned_by(_state(request), user)
    return JSONResponse({"submissions": [view(request, s) for s in found]})


@router.get(
    "/api/submissions/{submission_id}", name="submission_json", summary="A submission: its state, RDF, SHACL results and history",
    operation_id="get_submission", responses={200: {"description": "The submission", "content": _JSON}, **{c: _WHY[c] for c in (401, 403, 404)}},
)
async def get_submission(request: Request, submission_id: str) -> JSONResponse:
    user = api_user(request)
    await anyio.to_thread.run_sync(publication.reconcile, _settings(request))
    try:
        found = submissions.visible(_state(request), user, submission_id)
    except submissions.SubmissionNotFound as error:
        raise _not_found(error) from None
    except submissions.NotAllowed as error:
        raise EndpointError(403, str(error)) from None
    return JSONResponse(view(request, found, with_history=True))


@router.put(
    "/api/submissions/{submission_id}", summary="Replace your submission with a new version (checked again)",
    operation_id="edit_submission",
    responses={200: {"description": "Stored and submitted", "content": _JSON}, **{c: _WHY[c] for c in (400, 401, 403, 404, 409, 413, 415, 422, 429)}},
    openapi_extra=_SUBMISSION_BODY,
)
async def edit_submission(request: Request, submission_id: str) -> Response:
    user = api_user(request)
    found = await edit(request, user, submission_id, *(await _body_after_throttle(request, user)))
    return _answer(request, found, created=False)


async def _body_after_throttle(request: Request, user: User) -> tuple[bytes, str]:
    _throttle(request, user)
    return await _body(request)


async def edit(request: Request, user: User, submission_id: str, body: bytes, media_type: str) -> submissions.Submission:
    """Check and store a new version of ``user``'s submission (403/404/409 as EndpointError)."""
    try:
        current = submissions.get(_state(request), submission_id)
    except submissions.SubmissionNotFound as error:
        raise _not_found(error) from None
    if current.owner != user.name:
        raise EndpointError(403, f"Submission {submission_id} belongs to {current.owner}; only its owner edits it.")
    check = await _checked(request, body, media_type, submission_id, current.practice)
    try:
        return await anyio.to_thread.run_sync(submissions.edit, _state(request), user, submission_id, check)
    except submissions.NotAllowed as error:
        raise EndpointError(403, str(error)) from None
    except submissions.WrongState as error:
        raise EndpointError(409, str(error)) from None


_DECISION_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {
            "type": "object", "required": ["action"],
            "properties": {"action": {"type": "string", "enum": ["accept", "request changes", "reject"]},
                           "comment": {"type": "string", "description": "Required to request changes (what to change) or reject (why)."}},
        }}},
    }
}


@router.post(
    "/api/submissions/{submission_id}/decision", summary="Decide on a submission (reviewers): accept (publishes a release), request changes, reject",
    operation_id="decide_submission",
    responses={200: {"description": "The decision is recorded (and, on accept, the release published)", "content": _JSON},
               400: {"description": "No action, or no comment where one is needed", "content": TEXT},
               **{c: _WHY[c] for c in (401, 403, 404, 409)}},
    openapi_extra=_DECISION_BODY,
)
async def decide_submission(request: Request, submission_id: str) -> JSONResponse:
    user = api_user(request)
    try:
        decision = json.loads(await request.body() or b"{}")
    except ValueError:
        raise EndpointError(400, 'Send the decision as JSON: {"action": "accept" | "request changes" | "reject", "comment": "..."}.') from None
    if not isinstance(decision, dict):
        raise EndpointError(400, 'Send the decision as a JSON object: {"action": ..., "comment": ...}.')
    found = await decide(request, user, submission_id, str(decision.get("action", "")), str(decision.get("comment") or ""))
    return JSONResponse(view(request, found, with_history=True))


async def decide(request: Request, user: User, submission_id: str, action: str, comment: str) -> submissions.Submission:
    """Record a reviewer's decision; an accept publishes a release in a process of its own."""
    _require(user, "reviewer", "decide on submissions")
    state = _state(request)
    try:
        submissions.get(state, submission_id)
        if action == "accept":
            await accept_in_process(_settings(request), submission_id, user)
        elif action == "request changes":
            submissions.request_changes(state, user, submission_id, comment)
        elif action == "reject":
            submissions.reject(state, user, submission_id, comment)
        else:
            raise EndpointError(400, f"Unknown action {action!r}; use 'accept', 'request changes' or 'reject'.")
        return submissions.get(state, submission_id)
    except submissions.SubmissionNotFound as error:
        raise _not_found(error) from None
    except submissions.WrongState as error:
        raise EndpointError(409, str(error)) from None
    except submissions.NotAllowed as error:
        raise EndpointError(403, str(error)) from None
    except ValueError as error:
        raise EndpointError(400, str(error)) from None


async def accept_in_process(settings: Settings, submission_id: str, reviewer: User) -> dict:
    """Run `icgraph.contributions.publication` for one accept; its JSON answer, or EndpointError (409) saying why not."""
    env = {**os.environ, "ICGRAPH_HOME": str(settings.project_dir),
           "PYTHONPATH": os.pathsep.join([str(Path(icgraph.__file__).parents[1]), os.environ.get("PYTHONPATH", "")])}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "icgraph.contributions.publication", "accept", submission_id, reviewer.name,
        "--store", str(settings.store), "--build-dir", str(settings.build_dir), "--state-dir", str(settings.state_dir),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
    )
    out, err = await process.communicate()
    try:
        answer = json.loads(out.decode().strip().splitlines()[-1])
    except (IndexError, ValueError):
        raise EndpointError(500, f"Publishing stopped unexpectedly (exit {process.returncode}); the previous release still serves. "
                                 f"{err.decode(errors='replace')[-800:]}") from None
    if "error" in answer:
        status = 403 if answer.get("kind") == "NotAllowed" else 404 if answer.get("kind") == "SubmissionNotFound" else 409
        raise EndpointError(status, answer["error"])
    return answer


@router.get(
    "/api/audit", summary="The audit log of reviewers' decisions (reviewers)", operation_id="audit_log",
    responses={200: {"description": "Decisions, newest first", "content": _JSON}, 401: _WHY[401], 403: _WHY[403]},
)
async def audit(request: Request) -> JSONResponse:
    user = api_user(request)
    _require(user, "reviewer", "read the audit log")
    events = submissions.audit_log(_state(request))
    return JSONResponse({"decisions": [
        {"submission": e.submission, "at": e.at, "reviewer": e.actor, "action": e.action, "from": e.from_state, "to": e.to_state, "comment": e.comment}
        for e in events
    ]})


# --------------------------------------------------------------------------- pages: sessions and CSRF

pages = APIRouter(tags=["Contribution pages"], include_in_schema=False)


def _cookie(response: Response, name: str, value: str, max_age: int | None) -> None:
    response.set_cookie(name, value, max_age=max_age, path="/", secure=True, httponly=True, samesite="lax")


def page_session(request: Request) -> accounts.Session | None:
    return accounts.session(_state(request), request.cookies.get(SESSION_COOKIE))


def _login_redirect(request: Request) -> RedirectResponse:
    return RedirectResponse(f"/login?next={request.url.path}", status_code=303)


async def _form_of(request: Request, session: accounts.Session | None) -> dict[str, list[str]]:
    """The form's fields, once its CSRF token matches the session's (403 otherwise: nothing is done)."""
    data = await request.form()
    values = {key: data.getlist(key) for key in data.keys()}
    expected = session.csrf if session else request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not accounts.same_secret((values.get("csrf") or [""])[0], expected):
        raise EndpointError(403, "This form has expired or was not sent from this site's page; reload the page and send it again.")
    return values


def _safe_next(target: str | None) -> str:
    return target if target and target.startswith("/") and not target.startswith("//") and "\\" not in target else "/contribute"


@pages.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, next: str = "/contribute") -> Response:
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(32)
    response = templates.TemplateResponse(request, "contribute/login.html", {"csrf": token, "next": _safe_next(next), "name": "", "problem": None})
    _cookie(response, LOGIN_CSRF_COOKIE, token, 3600)
    return response


@pages.post("/login", response_class=HTMLResponse)
async def login(request: Request) -> Response:
    values = await _form_of(request, None)
    name, password = (values.get("name") or [""])[0], (values.get("password") or [""])[0]
    settings = _settings(request)
    refused = accounts.login_wait(settings.state_dir, settings.login_rate, settings.login_address_rate, name, client_address(request))
    if refused is not None:
        raise EndpointError(429, refused[1], {"Retry-After": str(refused[0])})
    user = await anyio.to_thread.run_sync(accounts.authenticate, _state(request), name, password)
    target = _safe_next((values.get("next") or [""])[0])
    if user is None:
        token = request.cookies.get(LOGIN_CSRF_COOKIE, "")
        return templates.TemplateResponse(request, "contribute/login.html", {
            "csrf": token, "next": target, "name": name, "problem": "That user name and password do not match an account."}, status_code=401)
    secret, _ = accounts.open_session(_state(request), user)
    response = RedirectResponse(target, status_code=303)
    _cookie(response, SESSION_COOKIE, secret, accounts.SESSION_SECONDS)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return response


@pages.post("/logout")
async def logout(request: Request) -> Response:
    session = page_session(request)
    if session is not None:
        await _form_of(request, session)
        accounts.close_session(_state(request), request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", secure=True, httponly=True, samesite="lax")
    return response


# --------------------------------------------------------------------------- pages: contributing


def _form_context(request: Request, values: dict, problems: dict, action: str, button: str) -> dict:
    settings = _settings(request)
    actor_fields = practice_form.actor_fields(settings)
    rows = max((len(values.get(practice_form.NEW_ACTOR + f.name, [])) for f in actor_fields), default=0)
    return {"fields": practice_form.practice_fields(settings), "values": values, "problems": problems, "action": action,
            "button": button, "roles_options": practice_form.role_options(settings), "actor_options": practice_form.actor_options(settings),
            "actor_fields": actor_fields, "new_actor_rows": rows + 1, "new_actor": practice_form.NEW_ACTOR}


def _form_values(request: Request, found: submissions.Submission) -> dict[str, list[str]]:
    from rdflib import Graph, URIRef

    settings = _settings(request)
    graph = Graph().parse(data=found.rdf, format="turtle")
    values = practice_form.values_of(graph, URIRef(found.practice), practice_form.practice_fields(settings))
    actor_fields = practice_form.actor_fields(settings)
    proposed = practice_form.proposed_values_of(graph, actor_fields, checking.registry(settings))
    values.update(proposed)
    names = {str(s): str(o) for s, o in graph.subject_objects(URIRef(next(f.path for f in actor_fields if f.language is not None)))}
    values["participant_actor"] = [names.get(a, a) for a in values.get("participant_actor", [])]
    return values


def _problems(found_results: list[dict], fields: list, actor_rows: dict[str, int] | None = None,
              actor_fields: list | None = None) -> dict[str, list[str]]:
    """Each SHACL violation under the form field it is about; a proposed actor's under its row's field."""
    problems: dict[str, list[str]] = {}
    for result in found_results:
        if result["severity"] != "Violation":
            continue
        row = (actor_rows or {}).get(result.get("focus") or "")
        if row is not None:
            name = practice_form.new_actor_key(row, practice_form.field_of(actor_fields or [], result.get("path")))
        else:
            name = practice_form.field_of(fields, result.get("path"))
        if result["message"] not in problems.get(name, []):
            problems.setdefault(name, []).append(result["message"])
    return problems


def _stored_problems(request: Request, found: submissions.Submission, fields: list) -> dict[str, list[str]]:
    """A stored submission's violations by field; its proposed actors' in their rows, in the order the form shows them."""
    from rdflib import Graph

    settings = _settings(request)
    iris = practice_form.proposed_iris(Graph().parse(data=found.rdf, format="turtle"), checking.registry(settings))
    return _problems(found.report.get("results", []), fields, {compact(iri): row for row, iri in enumerate(iris)},
                     practice_form.actor_fields(settings))


def _resolve_actors(request: Request, values: dict[str, list[str]], proposed: dict[str, str]) -> tuple[list[str], list[str]]:
    """The participants' actors as IRIs: a registry actor's name becomes its IRI (in ``values`` too), a proposed actor's
    name the IRI it is proposed under; and the problems of names that match neither."""
    by_name = {label.casefold(): iri for iri, label in practice_form.actor_options(_settings(request))}
    problems, shown, resolved = [], [], []
    for typed in values.get("participant_actor", []):
        text = typed.strip()
        iri = text
        if text and not text.startswith(("http://", "https://")):
            if text.casefold() in by_name:
                iri = text = by_name[text.casefold()]
            elif text.casefold() in proposed:
                iri = proposed[text.casefold()]
            else:
                iri = ""
                problems.append(f"No actor named “{text}” in the registry or among the new actors below; pick one from the "
                                "list as you type, or propose it as a new actor.")
        shown.append(text)
        resolved.append(iri)
    values["participant_actor"] = shown
    return resolved, problems


async def _check_form(request: Request, values: dict, submission_id: str, practice: str | None):
    settings = _settings(request)
    fields, actor_fields = practice_form.practice_fields(settings), practice_form.actor_fields(settings)
    new_actors, actor_iris, actor_problems = practice_form.proposed_actors(actor_fields, values, checking.registry(settings))
    name_field = next(f for f in actor_fields if f.language is not None)
    proposed = {str(name).casefold(): str(actor) for actor, name in new_actors.subject_objects(URIRef(name_field.path))}
    resolved, extra = _resolve_actors(request, values, proposed)
    kept = {k: v for k, v in values.items() if k != "csrf"}
    rows = [(a, r) for a, r in zip(resolved, kept.get("participant_role", [])) if a or not extra]
    graph = practice_form.to_graph(fields, {**kept, "participant_actor": [a for a, _ in rows], "participant_role": [r for _, r in rows]})
    graph += new_actors
    body = graph.serialize(format="turtle").encode("utf-8")
    check = await _checked(request, body, checking.TURTLE, submission_id, practice)
    actor_rows = {compact(iri): row for row, iri in enumerate(actor_iris) if iri is not None}
    problems = _problems(check.issues, fields, actor_rows, actor_fields)
    for key, messages in actor_problems.items():
        problems.setdefault(key, []).extend(messages)
    if extra:
        problems.setdefault("hasParticipation", []).extend(extra)
    return check, problems, kept, bool(extra or actor_problems)


@pages.get("/contribute", response_class=HTMLResponse)
async def contribute_page(request: Request) -> Response:
    session = page_session(request)
    if session is None:
        return _login_redirect(request)
    context = _form_context(request, {}, {}, "/contribute", "Submit for review")
    return templates.TemplateResponse(request, "contribute/home.html", {
        **context, "user": session.user, "csrf": session.csrf, "mine": submissions.owned_by(_state(request), session.user)})


@pages.get("/contribute/correct", response_class=HTMLResponse)
async def correct_page(request: Request, practice: str = "") -> Response:
    """The form, filled in from a published practice, to propose a correction of it."""
    session = page_session(request)
    if session is None:
        return RedirectResponse(f"/login?next={quote('/contribute/correct?practice=' + practice, safe='')}", status_code=303)
    iri = practice if practice.startswith(("http://", "https://")) else f"https://w3id.org/icgraph/id/practice/{practice}"
    values = await anyio.to_thread.run_sync(corrections.published_values, _settings(request), iri)
    if not values:
        raise EndpointError(404, f"No published practice {iri}; open “propose a correction” from the practice's page.")
    iri = values["corrects"][0]  # its current version, if it has been corrected since
    context = _form_context(request, values, {}, "/contribute", "Submit the correction for review")
    return templates.TemplateResponse(request, "contribute/home.html", {
        **context, "user": session.user, "csrf": session.csrf, "mine": submissions.owned_by(_state(request), session.user),
        "correcting": {"iri": iri, "title": (values.get("title") or [iri])[0], "path": _site_path(iri)}})


def _site_path(iri: str) -> str:
    return iri.removeprefix("https://w3id.org/icgraph") if iri.startswith("https://w3id.org/icgraph/") else iri


@pages.post("/contribute", response_class=HTMLResponse)
async def contribute(request: Request) -> Response:
    session = page_session(request)
    if session is None:
        raise EndpointError(401, "Log in to submit a practice (/login).")
    values = await _form_of(request, session)
    _throttle(request, session.user)
    submission_id = submissions.new_id()
    check, problems, kept, unresolved = await _check_form(request, values, submission_id, None)
    action, notice = "/contribute", None
    if not unresolved:
        # Stored at once: submitted if it conforms, else kept as a draft (never published) to fix.
        found = await anyio.to_thread.run_sync(submissions.create, _state(request), session.user, submission_id, check)
        if found.conforms:
            return RedirectResponse(f"/contribute/submissions/{found.id}", status_code=303)
        action, notice = f"/contribute/submissions/{found.id}/edit", "Saved as a draft: fix the problems shown beside their fields, then send it again."
    # The page keeps what was typed, each problem beside its field.
    context = _form_context(request, kept, problems, action, "Submit for review")
    corrects = (kept.get("corrects") or [""])[0]
    correcting = {"iri": corrects, "title": corrects, "path": _site_path(corrects)} if corrects else None
    return templates.TemplateResponse(request, "contribute/home.html", {
        **context, "user": session.user, "csrf": session.csrf, "notice": notice, "correcting": correcting,
        "mine": submissions.owned_by(_state(request), session.user)}, status_code=422)


def _submission_page(request: Request, session: accounts.Session, found: submissions.Submission, values=None, problems=None,
                     status: int = 200, notice: str | None = None) -> Response:
    settings = _settings(request)
    events = submissions.history(_state(request), found.id)
    is_owner, is_reviewer = found.owner == session.user.name, session.user.may("reviewer")
    fields = practice_form.practice_fields(settings)
    can_edit = is_owner and found.state in submissions.EDITABLE
    context = _form_context(request, values if values is not None else _form_values(request, found),
                            problems if problems is not None else _stored_problems(request, found, fields),
                            f"/contribute/submissions/{found.id}/edit", "Save and submit")
    last_edit = next((e for e in reversed(events) if e.changes), None)
    corrects = corrections.corrected_practice(found.rdf, found.practice)
    change = corrections.difference(settings, found.rdf, found.practice, corrects) if corrects else None
    last_comment = next((e for e in reversed(events) if e.comment and e.action in ("request changes", "reject")), None)
    return templates.TemplateResponse(request, "contribute/submission.html", {
        **context, "s": found, "user": session.user, "csrf": session.csrf, "history": events,
        "can_edit": can_edit, "can_decide": is_reviewer and found.state in submissions.DECIDABLE,
        "duplicates": duplicates.likely_duplicates(settings, found.rdf, found.practice, corrects) if is_reviewer else None,
        "actor_names": dict(context["actor_options"]),
        "changes": last_edit.changes if last_edit else None, "last_comment": last_comment, "notice": notice,
        "practice_path": _site_path(found.practice), "correction": change,
        "corrects_path": _site_path(corrects) if corrects else None,
        "superseded_path": _site_path(change.superseded_by) if change and change.superseded_by else None,
    }, status_code=status)


def _visible_or_error(request: Request, session: accounts.Session, submission_id: str) -> submissions.Submission:
    try:
        return submissions.visible(_state(request), session.user, submission_id)
    except submissions.SubmissionNotFound as error:
        raise EndpointError(404, str(error.args[0])) from None
    except submissions.NotAllowed as error:
        raise EndpointError(403, str(error)) from None


@pages.get("/contribute/submissions/{submission_id}", response_class=HTMLResponse)
async def submission_page(request: Request, submission_id: str) -> Response:
    session = page_session(request)
    if session is None:
        return _login_redirect(request)
    await anyio.to_thread.run_sync(publication.reconcile, _settings(request))
    return _submission_page(request, session, _visible_or_error(request, session, submission_id))


@pages.post("/contribute/submissions/{submission_id}/edit", response_class=HTMLResponse)
async def edit_page(request: Request, submission_id: str) -> Response:
    session = page_session(request)
    if session is None:
        raise EndpointError(401, "Log in to edit your submission (/login).")
    values = await _form_of(request, session)
    found = _visible_or_error(request, session, submission_id)
    if found.owner != session.user.name:
        raise EndpointError(403, f"Submission {submission_id} belongs to {found.owner}; only its owner edits it.")
    _throttle(request, session.user)
    check, problems, kept, unresolved = await _check_form(request, values, submission_id, found.practice)
    if problems or unresolved:
        return _submission_page(request, session, found, kept, problems, status=422)
    try:
        await anyio.to_thread.run_sync(submissions.edit, _state(request), session.user, submission_id, check)
    except submissions.WrongState as error:
        raise EndpointError(409, str(error)) from None
    return RedirectResponse(f"/contribute/submissions/{submission_id}", status_code=303)


@pages.post("/contribute/submissions/{submission_id}/decision", response_class=HTMLResponse)
async def decision_page(request: Request, submission_id: str) -> Response:
    session = page_session(request)
    if session is None:
        raise EndpointError(401, "Log in as a reviewer to decide (/login).")
    values = await _form_of(request, session)
    await decide(request, session.user, submission_id, (values.get("action") or [""])[0], (values.get("comment") or [""])[0])
    return RedirectResponse(f"/contribute/submissions/{submission_id}", status_code=303)


@pages.get("/review", response_class=HTMLResponse)
async def review_page(request: Request) -> Response:
    session = page_session(request)
    if session is None:
        return _login_redirect(request)
    _require(session.user, "reviewer", "see the review queue")
    await anyio.to_thread.run_sync(publication.reconcile, _settings(request))
    queue = submissions.queue(_state(request))
    return templates.TemplateResponse(request, "contribute/review.html", {
        "user": session.user, "csrf": session.csrf, "queue": queue, "audit": submissions.audit_log(_state(request)),
        "corrects": {s.id: corrections.corrected_practice(s.rdf, s.practice) for s in queue}})
