"""RDF uploads read in full, within limits, before anything is written.

A Graph Store write reaches the writer only as documents that parse completely, so a write is
all or nothing: a body that breaks anywhere changes nothing and gets a 400 that says where.
`read_rdf_document` checks one document:

- its media type names an RDF format (else 415);
- RDF/XML: no DOCTYPE (so no ENTITY declaration, no entity expansion); read with expat, which
  stops at the DOCTYPE before anything is expanded;
- nesting no deeper than ``Settings.max_rdf_nesting`` for every format: elements in RDF/XML,
  objects and arrays in JSON-LD, ``[ ]``, ``( )`` and ``<< >>`` in Turtle, TriG, N-Triples and
  N-Quads (parsers that nest without bound can exhaust a stack);
- then Oxigraph parses the whole document (in a thread), and a syntax error is reported with
  the part, line and column;

sizes are bounded before this by ``Settings.max_request_bytes`` (`security.RequestSizeLimit`).
"""

from __future__ import annotations

import re
from xml.parsers import expat

import pyoxigraph as ox

from icgraph.server.security import EndpointError

FORMATS_HINT = "send Turtle, N-Triples, RDF/XML, JSON-LD, TriG or N-Quads"


class RdfRefused(EndpointError):
    """A document the server will not read (400, or 415 for a media type that is not RDF)."""


def rdf_format(media_type: str) -> ox.RdfFormat:
    found = ox.RdfFormat.from_media_type(media_type or "")
    if found is None:
        raise RdfRefused(415, f"Cannot read RDF sent as {media_type!r}; {FORMATS_HINT}.")
    return found


def read_rdf_document(data: bytes, media_type: str, base_iri: str | None, max_nesting: int, where: str = "the body") -> int:
    """Check and parse one RDF document completely; the number of triples or quads it holds.

    Raises `RdfRefused` (400 or 415) with a message that says where the document broke.
    """
    fmt = rdf_format(media_type)
    if fmt == ox.RdfFormat.RDF_XML:
        _check_xml(data, max_nesting, where)
    elif fmt == ox.RdfFormat.JSON_LD:
        _check_depth(_json_text(data, where), _JSON_TOKENS, _JSON_OPEN, _JSON_CLOSE, max_nesting, where)
    else:
        _check_depth(_utf8(data, where), _TURTLE_TOKENS, _TURTLE_OPEN, _TURTLE_CLOSE, max_nesting, where)
    try:
        return sum(1 for _ in ox.parse(data, fmt, base_iri=base_iri or None, rename_blank_nodes=True))
    except (SyntaxError, ValueError) as error:
        raise RdfRefused(400, f"Cannot parse {where} as {fmt.name} ({media_type}); nothing was written: {error}") from None


# ---------------------------------------------------------------------------
# RDF/XML: no DOCTYPE, bounded element depth
# ---------------------------------------------------------------------------


class _Stop(Exception):
    pass


def _check_xml(data: bytes, max_nesting: int, where: str) -> None:
    parser = expat.ParserCreate(namespace_separator=" ")
    depth = 0
    problem: list[str] = []

    def doctype(*_):
        problem.append(
            f"line {parser.CurrentLineNumber}: {where} has a DOCTYPE; DOCTYPE and ENTITY declarations are not accepted "
            "in RDF/XML here (entity expansion); write the values out and send it again"
        )
        raise _Stop

    def start(*_):
        nonlocal depth
        depth += 1
        if depth > max_nesting:
            problem.append(
                f"line {parser.CurrentLineNumber}: elements in {where} nest deeper than this endpoint's limit of "
                f"{max_nesting} levels"
            )
            raise _Stop

    def end(*_):
        nonlocal depth
        depth -= 1

    parser.StartDoctypeDeclHandler = doctype
    parser.EntityDeclHandler = doctype  # an internal subset cannot come without a DOCTYPE; belt and braces
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    try:
        parser.Parse(data, True)
    except _Stop:
        raise RdfRefused(400, problem[0] + "; nothing was written.") from None
    except expat.ExpatError as error:
        raise RdfRefused(
            400, f"Cannot parse {where} as RDF/XML: line {error.lineno}, column {error.offset + 1}: "
            f"{expat.errors.messages.get(error.code, error)}; nothing was written."
        ) from None


# ---------------------------------------------------------------------------
# Text formats: bounded bracket depth, strings, IRIs and comments skipped whole
# ---------------------------------------------------------------------------

_TURTLE_TOKENS = re.compile(
    r'"""(?:[^"\\]|\\.|"(?!""))*"""'
    r"|'''(?:[^'\\]|\\.|'(?!''))*'''"
    r'|"(?:[^"\\\n\r]|\\.)*"'
    r"|'(?:[^'\\\n\r]|\\.)*'"
    r"|<<|>>"
    r"|<[^<>\"{}|^`\\\s]*>"
    r"|#[^\n\r]*"
    r"|[\[\]()]",
    re.DOTALL,
)
_TURTLE_OPEN = frozenset(("[", "(", "<<"))
_TURTLE_CLOSE = frozenset(("]", ")", ">>"))

_JSON_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)
_JSON_OPEN = frozenset(("[", "{"))
_JSON_CLOSE = frozenset(("]", "}"))


def _utf8(data: bytes, where: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise RdfRefused(400, f"{where[:1].upper() + where[1:]} is not valid UTF-8 (byte {error.start}); nothing was written.") from None


def _json_text(data: bytes, where: str) -> str:
    return _utf8(data[3:] if data.startswith(b"\xef\xbb\xbf") else data, where)


def _check_depth(text: str, tokens: re.Pattern, opening: frozenset, closing: frozenset, max_nesting: int, where: str) -> None:
    """Refuse a text whose brackets nest deeper than ``max_nesting`` (found without recursion)."""
    if not any(c in text for c in ("[", "(", "{", "<<")):
        return
    depth = 0
    for match in tokens.finditer(text):
        token = match.group()
        if token in opening:
            depth += 1
            if depth > max_nesting:
                line = text.count("\n", 0, match.start()) + 1
                raise RdfRefused(
                    400, f"line {line}: {where} nests deeper than this endpoint's limit of {max_nesting} levels "
                    f"(blank nodes, lists, objects or quoted triples inside one another); nothing was written."
                )
        elif token in closing:
            depth = max(0, depth - 1)
