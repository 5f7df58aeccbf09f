"""What a SPARQL request would do, found by a real parser, and the guards that follow from it.

- `inspect_query` / `inspect_update` parse the text with rdflib's SPARQL grammar and report
  the query form, its FROM clauses and every SERVICE / LOAD target (never regexes);
  `inspect_request_query` first tries `quick_inspect_query`, a scan of SPARQL's tokens that
  settles the common case (no SERVICE, no FROM) without the parse;
- `check_outbound` refuses SERVICE and LOAD unless the target is on the federation allow-list
  (a SERVICE whose endpoint is a variable, never); a text nested beyond the parser's recursion
  is `NestsTooDeeply` (400 with that message);
- `add_protocol_dataset` applies the protocol's ``using-graph-uri`` / ``using-named-graph-uri``
  to an update (pyoxigraph's ``Store.update`` takes no dataset);
- `isolate_network` takes a worker process off the network (defence in depth);
- `update_token`, `check_update_token`: the bearer token that switches updates on;
- `RequestSizeLimit`: 413 for bodies over ``Settings.max_request_bytes``.
"""

from __future__ import annotations

import ctypes
import functools
import hmac
from dataclasses import dataclass, field
from typing import Any, Iterable

from pyparsing import ParseException, ParseResults
from rdflib.plugins.sparql.algebra import translatePrologue
from rdflib.plugins.sparql.parser import parseQuery, parseUpdate
from rdflib.plugins.sparql.parserutils import CompValue
from rdflib.term import URIRef

from icgraph.sparql.text import scan_tokens
from icgraph.config import Settings


class EndpointError(Exception):
    """A request the endpoint refuses or cannot finish; carries its HTTP status and a message that says why.

    ``details``: the same facts as fields, for a client that asks for JSON (a syntax error's line,
    column, token and hint: `icgraph.server.query_errors`)."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None, details: dict | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}
        self.details = details


class NestsTooDeeply(EndpointError, SyntaxError):
    """A query or update nested beyond what the parser can follow (400).

    A SyntaxError too, so a worker process answers it as a syntax error, with this message."""

    def __init__(self, what: str):
        super().__init__(
            400,
            f"The {what} nests too deeply (SERVICE inside SERVICE, or groups inside groups, ...) for this endpoint "
            "to check; flatten it.",
        )


# ---------------------------------------------------------------------------
# What the text does
# ---------------------------------------------------------------------------

QUERY_FORMS = {"SelectQuery": "SELECT", "AskQuery": "ASK", "ConstructQuery": "CONSTRUCT", "DescribeQuery": "DESCRIBE"}


@dataclass
class Inspection:
    """The facts about a query or update that the endpoint acts on."""

    form: str | None = None  # SELECT, ASK, CONSTRUCT, DESCRIBE for queries
    has_dataset_clause: bool = False  # FROM / FROM NAMED (query) or USING / WITH (update)
    services: list[str] = field(default_factory=list)  # SERVICE targets (absolute IRIs, or "?var")
    loads: list[str] = field(default_factory=list)  # LOAD sources


def _walk(node: Any) -> Iterable[tuple[CompValue, Any]]:
    """Every CompValue of a parse tree, with the prologue in force."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, CompValue):
            yield item
            stack.extend(item.values())
        elif isinstance(item, (ParseResults, list, tuple)):
            stack.extend(item)


def _absolute(prologue, term: Any) -> str:
    if isinstance(term, CompValue) and term.name == "pname":
        return str(prologue.absolutize(term))
    if isinstance(term, URIRef):
        return str(prologue.absolutize(term))
    return "?" + str(term)  # a variable: the target is not known before evaluation


def prepare_update(text: str, found: Inspection, using: list[str], using_named: list[str], settings) -> str:
    """The update to run for a protocol request: outbound targets checked, the protocol's
    using-graph-uri / using-named-graph-uri applied; raises EndpointError (400) when refused."""
    check_outbound(found, settings)
    if (using or using_named) and found.has_dataset_clause:
        raise EndpointError(
            400,
            "The update names its dataset (USING / WITH) and the request gives using-graph-uri / "
            "using-named-graph-uri too; use one or the other (SPARQL 1.1 Protocol §2.2.3).",
        )
    return add_protocol_dataset(text, using, using_named)


#: Words that, anywhere outside strings, IRIs and comments, send a query to the full parse.
_NEEDS_FULL_PARSE = {"SERVICE", "FROM"}


def quick_inspect_query(text: str) -> Inspection | None:
    """The inspection of a query that names no SERVICE and no FROM, without parsing it; else None.

    rdflib's parser costs tens of milliseconds per query, most of the endpoint's overhead. The
    tokens (strings, IRIs and comments skipped whole, by the same scanner the update rewriting
    uses) show whether the query could reach out at all; only then does `inspect_query` parse it.
    A text with codepoint escapes (``\u0053ERVICE`` is SERVICE to a SPARQL parser) always takes
    the full parse, and Oxigraph itself still rejects what is not SPARQL. The answer for a short
    text is remembered (clients repeat their queries), so a repeated query is not scanned again.
    """
    form = _quick_form(text) if len(text) <= _REMEMBERED_QUERY_CHARS else _quick_form.__wrapped__(text)
    return Inspection(form=form) if form else None


_REMEMBERED_QUERY_CHARS = 16 * 1024


@functools.lru_cache(maxsize=512)
def _quick_form(text: str) -> str | None:
    """The query form, when the text names no SERVICE or FROM and has no codepoint escape."""
    if "\\u" in text or "\\U" in text:
        return None
    form = None
    for _, token, _, _ in scan_tokens(text):
        word = token.upper()
        if word in _NEEDS_FULL_PARSE:
            return None
        if form is None and word in ("SELECT", "ASK", "CONSTRUCT", "DESCRIBE"):
            form = word
    return form


def inspect_request_query(text: str) -> Inspection:
    """What the endpoint acts on for a query: the token scan when it suffices, else rdflib's parse.

    Raises `pyparsing.ParseException` when the text must be parsed and cannot be.
    """
    return quick_inspect_query(text) or inspect_query(text)


def inspect_query(text: str) -> Inspection:
    """Parse a query with rdflib; raises `pyparsing.ParseException` when it cannot."""
    try:
        prologue_part, query = parseQuery(text)
    except RecursionError:
        raise NestsTooDeeply("query") from None
    prologue = translatePrologue(prologue_part, None)
    found = Inspection(form=QUERY_FORMS.get(query.name), has_dataset_clause="datasetClause" in query)
    for node in _walk(query):
        if node.name == "ServiceGraphPattern":
            found.services.append(_absolute(prologue, node["term"]))
    return found


def inspect_update(text: str) -> Inspection:
    """Parse an update with rdflib; raises `pyparsing.ParseException` when it cannot."""
    try:
        update = parseUpdate(text)
    except RecursionError:
        raise NestsTooDeeply("update") from None
    found = Inspection()
    prologues = update.get("prologue") or []
    for index, operation in enumerate(update.get("request") or []):
        prologue = translatePrologue(prologues[min(index, len(prologues) - 1)], None) if prologues else None
        for node in _walk(operation):
            if node.name == "Load":
                found.loads.append(_absolute(prologue, node["iri"]))
            elif node.name == "ServiceGraphPattern":
                found.services.append(_absolute(prologue, node["term"]))
            elif node.name == "Modify" and ("withClause" in node or "using" in node):
                found.has_dataset_clause = True
    return found


def parse_error_message(error: ParseException) -> str:
    return f"line {error.lineno}, column {error.col}: {error.msg}"


def check_outbound(found: Inspection, settings: Settings) -> None:
    """Refuse SERVICE and LOAD (400) unless every target is on the federation allow-list."""
    allow = settings.federation_allowlist
    for kind, targets in (("SERVICE", found.services), ("LOAD", found.loads)):
        for target in targets:
            if target.startswith("?"):
                raise EndpointError(
                    400,
                    f"{kind} {target} refused: a SERVICE with a variable endpoint is not allowed here; name the "
                    "endpoint with an IRI" + ("." if not allow else f" that starts with one of: {', '.join(allow)}."),
                )
            if not any(target.startswith(prefix) for prefix in allow if prefix):
                hint = (
                    "federation is off on this endpoint (no outbound requests)"
                    if not allow
                    else f"allowed targets start with: {', '.join(allow)}"
                )
                raise EndpointError(400, f"{kind} <{target.lstrip('?')}> refused: {hint}.")


# ---------------------------------------------------------------------------
# using-graph-uri / using-named-graph-uri
# ---------------------------------------------------------------------------

_BRACKETS = frozenset("{}()")


def _top_level_words(text: str) -> Iterable[tuple[int, str]]:
    """(offset, word) of the words outside braces; strings, IRIs and comments skipped (`scan_tokens`)."""
    return ((offset, token) for offset, token, braces, _ in scan_tokens(text) if braces == 0 and token not in _BRACKETS)


def add_protocol_dataset(update: str, using: list[str], using_named: list[str]) -> str:
    """The update with the protocol's dataset written as USING / USING NAMED in each DELETE/INSERT operation.

    SPARQL 1.1 Protocol §2.2.3: the protocol dataset applies to every operation with a WHERE
    clause; an update that names its own (USING, WITH) together with the parameters is an error.
    """
    if not using and not using_named:
        return update
    clauses = "".join(f" USING <{iri}>" for iri in using) + "".join(f" USING NAMED <{iri}>" for iri in using_named)
    pieces, last, previous = [], 0, ""
    for offset, word in _top_level_words(update):
        if word.upper() == "WHERE" and previous.upper() != "DELETE":  # DELETE WHERE takes no USING
            pieces.append(update[last:offset])
            pieces.append(clauses.strip() + " ")
            last = offset
        previous = word
    pieces.append(update[last:])
    return "".join(pieces)


def validate_iri(value: str, parameter: str) -> str:
    """A protocol parameter that must be an absolute IRI."""
    from pyoxigraph import NamedNode

    try:
        NamedNode(value)
    except ValueError:
        raise EndpointError(400, f"{parameter}: {value!r} is not an absolute IRI.") from None
    if ":" not in value:
        raise EndpointError(400, f"{parameter}: {value!r} is not an absolute IRI.")
    return value


# ---------------------------------------------------------------------------
# The update token
# ---------------------------------------------------------------------------


def update_token(settings: Settings) -> str | None:
    """The token that enables updates: the token file's first line, else ``Settings.update_token``."""
    if settings.update_token_file:
        lines = settings.update_token_file.read_text(encoding="utf-8").strip().splitlines()
        if lines and lines[0].strip():
            return lines[0].strip()
    return settings.update_token or None


def check_update_token(expected: str | None, authorization: str | None) -> None:
    """403 when updates are off or the token is wrong, 401 when no bearer token was sent."""
    if not expected:
        raise EndpointError(403, "Updates are disabled on this endpoint (start it with an update token to enable them).")
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise EndpointError(
            401, "Updates need an 'Authorization: Bearer <token>' header.", {"WWW-Authenticate": 'Bearer realm="icgraph"'}
        )
    if not hmac.compare_digest(token.strip().encode(), expected.encode()):
        raise EndpointError(403, "Wrong update token.")


# ---------------------------------------------------------------------------
# Network isolation of worker processes
# ---------------------------------------------------------------------------

_CLONE_NEWUSER = 0x10000000
_CLONE_NEWNET = 0x40000000


def isolate_network() -> bool:
    """Move this (single-threaded) process into an empty network namespace; True if it worked.

    Defence in depth behind `check_outbound`: Oxigraph's engine would fetch SERVICE and LOAD
    targets itself. Needs unprivileged user namespaces (Linux); elsewhere the parser check alone holds.
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.unshare(_CLONE_NEWUSER | _CLONE_NEWNET) == 0
    except (OSError, AttributeError):
        return False


# ---------------------------------------------------------------------------
# Request size
# ---------------------------------------------------------------------------


class RequestSizeLimit:
    """ASGI middleware: 413 for a body over ``max_bytes`` (declared or streamed), before any route reads it."""

    def __init__(self, app, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        try:
            too_big = declared is not None and int(declared) > self.max_bytes
        except ValueError:
            return await _plain(send, 400, "Invalid Content-Length header.")
        if too_big:
            return await _plain(send, 413, f"Request body too large (limit {self.max_bytes} bytes).")

        # Read the body here (bounded), so an oversized chunked upload is cut before any route sees it.
        chunks, received, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > self.max_bytes:
                return await _plain(send, 413, f"Request body too large (limit {self.max_bytes} bytes).")
            chunks.append(chunk)
            more = message.get("more_body", False)
        body, replayed = b"".join(chunks), False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


async def _plain(send, status: int, message: str) -> None:
    body = message.encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
