"""Pages of a query's answer, and the opaque cursor that says where the next page starts.

A page is rows ``offset .. offset+limit`` of a SELECT answer (triples of a CONSTRUCT), in an
order that every page of one release agrees on (`page_of`), and only the page is written:
- a query with ORDER BY: its own order, read from Oxigraph's result iterator as it goes (rows
  before the page skipped, one row after it read to know whether more follow, no more);
- a query without ORDER BY, and every CONSTRUCT: Oxigraph's order may differ from one run to
  the next (its hash tables), so the rows are put in a canonical order (their terms as text)
  before the page is cut. The worker then holds the rows, not their serialisation.
So concatenated pages hold the whole answer: the same rows, in the query's order when it has one.

A page of a query the release precomputed (`icgraph.aggregates`) is cut from that whole answer
(`page_of_answer`), in the same way, so it costs no query at all. An answer too large to send whole
(past ``Settings.max_result_bytes``) is kept by the release as its pages (`pages_of`), and any page
is cut from one or two of them (`page_of_pages`): at 1000x such an answer has no other way out.

A cursor (`Cursor`) carries the release it belongs to, the hash of the query text and its
bindings, the offset and the page size, as URL-safe base64 JSON. It is only meaningful for
the release it came from: one from another release, or for another query, is refused
(`CursorError`: 410 when the release has changed, 400 when it is not a cursor of this query).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from dataclasses import dataclass
from itertools import islice

import pyoxigraph as ox

from icgraph.sparql.text import normalised

#: The most rows (or triples) one page may hold, and the page size when only a cursor is given.
MAX_PAGE_SIZE = 10_000


class CursorError(ValueError):
    """A cursor that cannot be used; ``status`` is 400 (not a cursor of this query) or 410 (another release)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def query_fingerprint(text: str, bindings: dict) -> str:
    """What a cursor is bound to besides the release: the query text and its bindings."""
    described = json.dumps([text, sorted((str(k), str(v)) for k, v in bindings.items())])
    return hashlib.sha256(described.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class Cursor:
    release: str
    query: str  # query_fingerprint
    offset: int
    limit: int

    def encode(self) -> str:
        data = json.dumps({"r": self.release, "q": self.query, "o": self.offset, "l": self.limit}, separators=(",", ":"))
        return base64.urlsafe_b64encode(data.encode("utf-8")).decode("ascii").rstrip("=")

    @classmethod
    def decode(cls, text: str, release: str, query: str) -> Cursor:
        """The cursor ``text`` for ``release`` and ``query``; raises CursorError saying what to do instead."""
        try:
            data = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode("utf-8"))
            cursor = cls(str(data["r"]), str(data["q"]), int(data["o"]), int(data["l"]))
        except (binascii.Error, UnicodeDecodeError, ValueError, KeyError, TypeError):
            raise CursorError(400, "The cursor is not one this API gave out; take the 'next' link of a page as it is, "
                                   "or start again without a cursor.") from None
        if cursor.offset < 0 or not 1 <= cursor.limit <= MAX_PAGE_SIZE:
            raise CursorError(400, "The cursor is not one this API gave out; start again without a cursor.")
        if cursor.release != release:
            raise CursorError(410, f"The cursor belongs to release {cursor.release}, and release {release} is served now: "
                                   "the answer may have changed. Start again without a cursor.")
        if cursor.query != query:
            raise CursorError(400, "The cursor belongs to another query or other parameter values; "
                                   "send the parameters of the page it came from, or start again without a cursor.")
        return cursor


_ORDER_BY = re.compile(r"\bORDER\s+BY\b", re.IGNORECASE)


def ordered(results, query: str = ""):
    """The rows of SELECT results (triples of a graph) in the order every page agrees on: the query's own with
    ORDER BY (read as Oxigraph gives them, never held), otherwise a canonical order (the terms as text)."""
    if isinstance(results, ox.QuerySolutions) and _ORDER_BY.search(normalised(query)):
        return results
    if isinstance(results, ox.QuerySolutions):
        names = [v.value for v in results.variables]
        return sorted(results, key=lambda row: [("" if row[n] is None else str(row[n])) for n in names])
    return sorted(results, key=str)


def page_of(results, offset: int, limit: int, query: str = ""):
    """``(page, more)``: rows ``offset .. offset+limit`` of SELECT results (triples of a graph), and whether more follow.

    ``query`` is the query's text: with ORDER BY its rows keep their order; otherwise (and for
    triples) they are put in a canonical order first (`ordered`). The page is results again (pyoxigraph's
    own, rebuilt from the rows), so it is written by the same writers as a whole answer. ASK
    results are whole already: ``(results, False)``.
    """
    if isinstance(results, ox.QueryBoolean):
        return results, False
    taken = list(islice(ordered(results, query), offset, offset + limit + 1))
    more = len(taken) > limit
    return _rows_as_results(results, taken[:limit]), more


def pages_of(results, size: int, query: str, fmt, finish=lambda page: page) -> tuple[list[bytes], int]:
    """``(bodies, rows)``: the whole answer cut into pages of ``size`` rows (triples), each written in ``fmt``
    after ``finish`` (a library query's parameters left out, as a reader does after `page_of`), and how many
    rows there are: the pages `page_of` gives at offsets 0, size, 2*size... from one evaluation.

    A release keeps an answer so in pages when it is too large to send whole (`icgraph.precompute`);
    `page_of_pages` then serves any page from one or two of them.
    """
    if isinstance(results, ox.QueryBoolean):  # whole already
        return [_written(results, fmt)], 1
    bodies, rows = [], 0
    iterator = iter(ordered(results, query))
    while True:
        taken = list(islice(iterator, size))
        if not taken and bodies:
            break
        rows += len(taken)
        bodies.append(_written(finish(_rows_as_results(results, taken)), fmt))
        if len(taken) < size:
            break
    return bodies, rows


_JSON_ROWS = b'"results":{"bindings":['
_JSON_END = b"]}}"


def joined_pages(bodies: list[bytes], fmt, max_bytes: int) -> bytes | None:
    """The whole answer that `pages_of` cut into ``bodies`` (in `whole_format`: SPARQL JSON results or N-Triples),
    as the writer would write it whole: N-Triples lines joined; JSON results' bindings joined under one head.
    None when it would be larger than ``max_bytes`` (then it is never assembled)."""
    parts: list = list(bodies)
    if len(bodies) > 1 and fmt.key == "json":
        start = bodies[0].index(_JSON_ROWS) + len(_JSON_ROWS)
        rows = [memoryview(body)[start:-len(_JSON_END)] for body in bodies]
        parts = [memoryview(bodies[0])[:start]]
        for row in (row for row in rows if len(row)):
            parts += [b",", row] if len(parts) > 1 else [row]
        parts.append(_JSON_END)
    if sum(len(part) for part in parts) > max_bytes:
        return None
    return b"".join(parts)


def _rows_as_results(results, taken: list):
    """Rows taken from ``results`` as results of the same kind again (pyoxigraph's own), so that they are written
    by the same writers as a whole answer."""
    if isinstance(results, ox.QuerySolutions):
        names = [v.value for v in results.variables]
        document = {"head": {"vars": names},
                    "results": {"bindings": [{n: _json_term(row[n]) for n in names if row[n] is not None} for row in taken]}}
        return ox.parse_query_results(json.dumps(document).encode("utf-8"), ox.QueryResultsFormat.JSON)
    return _Triples(taken)


def _written(results, fmt) -> bytes:
    if isinstance(results, _Triples):
        return results.serialize(None, fmt.oxigraph)
    return results.serialize(format=fmt.oxigraph)


def whole_format(fmt):
    """The format of a whole precomputed answer that a page in ``fmt`` is cut from: SPARQL JSON results, or N-Triples."""
    from icgraph.server import negotiation

    if fmt.kind == negotiation.RESULTS:
        return next(f for f in negotiation.RESULT_FORMATS if f.key == "json")
    return next(f for f in negotiation.GRAPH_FORMATS if f.key == "nt")


def _read_whole(body: bytes, fmt):
    """A whole answer (or a kept page) in `whole_format` as results again."""
    from icgraph.server import negotiation

    if fmt.kind == negotiation.RESULTS:
        return ox.parse_query_results(body, ox.QueryResultsFormat.JSON)
    return list(ox.parse(body, ox.RdfFormat.N_TRIPLES))


def page_of_answer(whole: dict, offset: int, limit: int, query: str, fmt) -> dict:
    """A page in ``fmt`` cut from a whole answer precomputed with the release (`icgraph.aggregates`),
    written in `whole_format`: the rows `page_of` takes from a live run, so pages agree whichever path cut them.

    Without this, a page of a precomputed query would run live, and at 1000x a heavy query's first
    page would wait for the whole evaluation, which a precomputed query is precisely too slow for.
    """
    page, more = page_of(_read_whole(whole["body"], fmt), offset, limit, query)
    return {"body": _written(page, fmt), "content_type": fmt.content_type, "more": more}


def page_of_pages(kept: dict, read_page, offset: int, limit: int, fmt) -> dict:
    """A page in ``fmt`` cut from the pages a release keeps of an answer too large to send whole (`pages_of`;
    ``kept`` = ``{"size", "pages", "rows"}``, ``read_page(i)`` the i-th page's body in `whole_format`).

    The kept pages are already in `ordered`'s order, so the rows are taken as they stand: from the one or two
    kept pages that hold rows ``offset .. offset+limit``, with no query run and no more read.
    """
    size, count, total = kept["size"], kept["pages"], kept["rows"]
    first = min(offset // size, count - 1)
    last = min((offset + limit - 1) // size, count - 1)
    results = [_read_whole(read_page(i), fmt) for i in range(first, last + 1)]
    rows = [row for part in results for row in part]
    start = offset - first * size
    taken = rows[start:start + limit]
    return {"body": _written(_rows_as_results(results[0], taken), fmt), "content_type": fmt.content_type,
            "more": offset + limit < total}


class _Triples:
    """Triples written like a CONSTRUCT's results (``serialize(sink, format)``)."""

    def __init__(self, triples):
        self.triples = triples

    def serialize(self, output=None, format=None):  # noqa: A002 - pyoxigraph's own argument name
        return ox.serialize(self.triples, output, format)


def _json_term(term) -> dict:
    """A term in the SPARQL 1.1 JSON results format."""
    if isinstance(term, ox.NamedNode):
        return {"type": "uri", "value": term.value}
    if isinstance(term, ox.BlankNode):
        return {"type": "bnode", "value": term.value}
    if isinstance(term, ox.Literal):
        if term.language:
            return {"type": "literal", "value": term.value, "xml:lang": term.language}
        return {"type": "literal", "value": term.value, "datatype": term.datatype.value}
    if isinstance(term, ox.Triple):
        return {"type": "triple", "value": {"subject": _json_term(term.subject), "predicate": _json_term(term.predicate),
                                            "object": _json_term(term.object)}}
    raise TypeError(f"not an RDF term: {term!r}")
