"""Short links for queries: ``POST /api/short-links`` stores a query, ``GET /q/{id}`` opens it.

- The id is a prefix of the SHA-256 of the query text (``ID_LENGTH`` hex digits), so the same text
  always gets the same id and an id says nothing about who made it or when. Should two texts ever
  share a prefix, the later one gets a longer prefix of its own hash; the first keeps its id.
- The texts live in one SQLite file under ``Settings.state_dir`` (``short-links.sqlite``), never
  in a release: each save is one transaction (atomic, journalled), so a link survives restarts
  and a crash leaves no half-written row.
- ``GET /q/{id}`` is the query editor holding the query (a browser's page);
  ``GET /api/short-links/{id}`` is the text for programs (JSON, or the bare query with
  ``Accept: application/sparql-query`` or ``text/plain``).
- A text larger than ``MAX_QUERY_BYTES``, empty, or not UTF-8 gets 400 (413 for size) and is not
  stored; an id that is not lowercase hex of the right length gets 400; an unknown one 404.
- At most ``Settings.max_short_links`` links are kept (``ICGRAPH_MAX_SHORT_LINKS``), so that
  anonymous posts cannot fill the disk: when the table is full a new text gets 507 (Insufficient
  Storage) saying so; a text already linked still gets its id.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from contextlib import closing
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from icgraph.config import Settings

#: Hex digits of the SHA-256 in a new id: 12 digits (48 bits) leave a collision unlikely before
#: millions of queries, and a collision is handled anyway (a longer prefix).
ID_LENGTH = 12
#: The largest query a short link may hold, in bytes of UTF-8 (the library's largest is ~3 KB).
MAX_QUERY_BYTES = 64 * 1024
FILE_NAME = "short-links.sqlite"
API_PREFIX = "/api/short-links"

_ID = re.compile(rf"^[0-9a-f]{{{ID_LENGTH},64}}$")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS short_link (
    id TEXT PRIMARY KEY,
    sha256 TEXT NOT NULL UNIQUE,
    query TEXT NOT NULL,
    created TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
)
"""


class ShortLinkError(ValueError):
    """A query or id that cannot be stored or looked up; ``status`` is the HTTP status to answer."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class ShortLinks:
    """The short-link table in ``folder/short-links.sqlite`` (created on first use)."""

    def __init__(self, folder: Path, max_links: int | None = None):
        self.path = Path(folder) / FILE_NAME
        #: The most links kept (None: no bound).
        self.max_links = max_links

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=FULL")  # a link answered is a link on disk
        connection.execute(_SCHEMA)
        return connection

    def save(self, query: str) -> tuple[str, bool]:
        """The id of ``query`` and whether it was new; raises ShortLinkError for text that may not be stored."""
        check_query(query)
        digest = hashlib.sha256(query.encode("utf-8")).hexdigest()
        with closing(self._connect()) as connection:
            connection.execute("BEGIN IMMEDIATE")  # one writer at a time: the id chosen is the id stored
            try:
                row = connection.execute("SELECT id FROM short_link WHERE sha256 = ?", (digest,)).fetchone()
                if row:
                    connection.execute("COMMIT")
                    return row[0], False
                if self.max_links is not None:
                    (stored,) = connection.execute("SELECT COUNT(*) FROM short_link").fetchone()
                    if stored >= self.max_links:
                        raise ShortLinkError(
                            507, f"This server already keeps its maximum of {self.max_links} short links, so no new one can be "
                                 "made; share the query text itself (queries already linked keep their links), or ask the "
                                 "operator to raise ICGRAPH_MAX_SHORT_LINKS.")
                for length in range(ID_LENGTH, len(digest) + 1):
                    candidate = digest[:length]
                    if connection.execute("SELECT 1 FROM short_link WHERE id = ?", (candidate,)).fetchone() is None:
                        connection.execute("INSERT INTO short_link (id, sha256, query) VALUES (?, ?, ?)", (candidate, digest, query))
                        connection.execute("COMMIT")
                        return candidate, True
                raise AssertionError("unreachable: the full digest is unique by the table's UNIQUE constraint")
            except BaseException:
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
                raise

    def load(self, link_id: str) -> str:
        """The query stored under ``link_id``; ShortLinkError 400 for a malformed id, 404 for an unknown one."""
        check_id(link_id)
        row = None
        if self.path.exists():
            with closing(self._connect()) as connection:
                row = connection.execute("SELECT query FROM short_link WHERE id = ?", (link_id,)).fetchone()
        if row is None:
            raise ShortLinkError(404, f"There is no short link {link_id!r}; make one with POST {API_PREFIX}.")
        return row[0]


def check_query(query: str) -> None:
    size = len(query.encode("utf-8"))
    if size > MAX_QUERY_BYTES:
        raise ShortLinkError(413, f"The query is {size} bytes; a short link holds at most {MAX_QUERY_BYTES} bytes. Shorten the query.")
    if not query.strip():
        raise ShortLinkError(400, "The query is empty; send the query text as 'query'.")


def check_id(link_id: str) -> None:
    if not _ID.match(link_id):
        raise ShortLinkError(
            400, f"{link_id[:80]!r} is not a short link id: an id is {ID_LENGTH} to 64 lowercase hexadecimal digits (0-9, a-f)."
        )


def short_links(request: Request) -> ShortLinks:
    settings: Settings = request.app.state.settings
    return ShortLinks(settings.state_dir, settings.max_short_links)


async def _query_from_body(request: Request) -> str:
    """The query text of a POST: form ``query=``, JSON ``{"query": ...}`` or the body as SPARQL/text."""
    body = await request.body()
    if len(body) > 4 * MAX_QUERY_BYTES:  # form encoding can triple the size; beyond that it is too big anyway
        raise ShortLinkError(413, f"The request is {len(body)} bytes; a short link holds at most {MAX_QUERY_BYTES} bytes of query.")
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ShortLinkError(400, "The request body is not UTF-8; send the query as UTF-8 text.") from None
    if media == "application/json":
        try:
            document = json.loads(text)
        except ValueError as error:
            raise ShortLinkError(400, f"The JSON body does not parse ({error}); send {{\"query\": \"...\"}}.") from None
        if not isinstance(document, dict) or not isinstance(document.get("query"), str):
            raise ShortLinkError(400, 'The JSON body needs a string member "query": {"query": "SELECT ..."}.')
        return document["query"]
    if media == "application/x-www-form-urlencoded":
        form = await request.form()
        values = form.getlist("query")
        if len(values) != 1 or not isinstance(values[0], str):
            raise ShortLinkError(400, "Send exactly one form field 'query' holding the query text.")
        return values[0]
    if media in ("application/sparql-query", "text/plain"):
        return text
    raise ShortLinkError(
        415, f"Content-Type {media or '(none)'} is not understood; send application/json, a form, application/sparql-query or text/plain."
    )


def _described(link_id: str, query: str) -> dict:
    return {"id": link_id, "url": f"/q/{link_id}", "api": f"{API_PREFIX}/{link_id}", "query": query}


router = APIRouter(tags=["Short links"])


@router.post(API_PREFIX, summary="Store a query and get its short link (the same query always gets the same id)", status_code=201)
async def create_short_link(request: Request) -> JSONResponse:
    try:
        query = await _query_from_body(request)
        link_id, new = short_links(request).save(query)
    except ShortLinkError as error:
        raise HTTPException(error.status, str(error)) from None
    return JSONResponse(_described(link_id, query), status_code=201 if new else 200, headers={"Location": f"/q/{link_id}"})


@router.get(API_PREFIX + "/{link_id}", summary="The query of a short link (JSON, or the text with Accept: application/sparql-query)")
async def read_short_link(link_id: str, request: Request) -> Response:
    try:
        query = short_links(request).load(link_id)
    except ShortLinkError as error:
        raise HTTPException(error.status, str(error)) from None
    accept = request.headers.get("accept", "")
    if "application/sparql-query" in accept:
        return Response(query, media_type="application/sparql-query", headers={"Vary": "Accept"})
    if "text/plain" in accept and "application/json" not in accept:
        return PlainTextResponse(query, headers={"Vary": "Accept"})
    return JSONResponse(_described(link_id, query), headers={"Vary": "Accept"})


@router.get("/q/{link_id}", include_in_schema=False)
async def open_short_link(link_id: str, request: Request) -> Response:
    """The query editor holding the linked query (a browser's short link)."""
    from icgraph.server.web import render_query_editor

    try:
        query = short_links(request).load(link_id)
    except ShortLinkError as error:
        return PlainTextResponse(str(error) + "\n", status_code=error.status)
    return await render_query_editor(request, query=query)
