"""Result formats and content negotiation (Accept with q-values, or the ``format=`` parameter).

SELECT / ASK results: SPARQL JSON, XML, CSV, TSV. CONSTRUCT / DESCRIBE and graph downloads:
Turtle, N-Triples, RDF/XML, JSON-LD, TriG, N-Quads. Oxigraph's writers do the serialising;
this module only decides which one. Accept headers are parsed by ``mimeparse``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import mimeparse
from pyoxigraph import QueryResultsFormat, RdfFormat

RESULTS = "results"  # SELECT, ASK
GRAPH = "graph"  # CONSTRUCT, DESCRIBE, graph store


@dataclass(frozen=True)
class Format:
    key: str  # the ``format=`` value
    kind: str  # RESULTS or GRAPH
    media_type: str  # what the response says it is
    aliases: tuple[str, ...] = ()  # other media types a client may ask for
    keys: tuple[str, ...] = ()  # other ``format=`` values
    w3c_iri: str = ""  # http://www.w3.org/ns/formats/ identifier, for the service description

    @property
    def content_type(self) -> str:
        textual = self.media_type.startswith("text/") or self.media_type.endswith(("+json", "+xml", "/json", "/xml"))
        textual = textual or self.media_type in ("application/n-triples", "application/n-quads", "application/trig")
        return f"{self.media_type}; charset=utf-8" if textual else self.media_type

    @property
    def oxigraph(self) -> QueryResultsFormat | RdfFormat:
        return _OXIGRAPH[self.key]


_F = "http://www.w3.org/ns/formats/"

# In order of preference: the first is the default for */* or no Accept at all.
RESULT_FORMATS = (
    Format("json", RESULTS, "application/sparql-results+json", ("application/json", "text/javascript"), (), _F + "SPARQL_Results_JSON"),
    Format("xml", RESULTS, "application/sparql-results+xml", ("application/xml", "text/xml"), (), _F + "SPARQL_Results_XML"),
    Format("csv", RESULTS, "text/csv", (), (), _F + "SPARQL_Results_CSV"),
    Format("tsv", RESULTS, "text/tab-separated-values", (), (), _F + "SPARQL_Results_TSV"),
)
GRAPH_FORMATS = (
    Format("ttl", GRAPH, "text/turtle", ("application/x-turtle",), ("turtle",), _F + "Turtle"),
    Format("nt", GRAPH, "application/n-triples", ("text/plain",), ("ntriples", "n-triples"), _F + "N-Triples"),
    Format("rdf", GRAPH, "application/rdf+xml", ("application/xml", "text/xml"), ("xml", "rdfxml"), _F + "RDF_XML"),
    Format("jsonld", GRAPH, "application/ld+json", ("application/json",), ("json", "json-ld"), _F + "JSON-LD"),
    Format("trig", GRAPH, "application/trig", (), (), _F + "TriG"),
    Format("nq", GRAPH, "application/n-quads", (), ("nquads", "n-quads"), _F + "N-Quads"),
)

_OXIGRAPH = {
    "json": QueryResultsFormat.JSON,
    "xml": QueryResultsFormat.XML,
    "csv": QueryResultsFormat.CSV,
    "tsv": QueryResultsFormat.TSV,
    "ttl": RdfFormat.TURTLE,
    "nt": RdfFormat.N_TRIPLES,
    "rdf": RdfFormat.RDF_XML,
    "jsonld": RdfFormat.JSON_LD,
    "trig": RdfFormat.TRIG,
    "nq": RdfFormat.N_QUADS,
}

FORMAT_KEYS = tuple(f.key for f in RESULT_FORMATS + GRAPH_FORMATS)


class NotAcceptable(Exception):
    """No format of the right kind matches; the message lists what is on offer."""


def formats_for(kind: str) -> tuple[Format, ...]:
    return RESULT_FORMATS if kind == RESULTS else GRAPH_FORMATS


@functools.lru_cache(maxsize=512)  # a pure function of short strings; clients repeat their Accept headers
def choose_format(kind: str, accept: str | None, format_param: str | None = None, offer: tuple[Format, ...] | None = None) -> Format:
    """The format to answer with: ``format=`` wins over Accept; raises `NotAcceptable`."""
    offer = offer or formats_for(kind)
    if format_param:
        wanted = format_param.strip().lower()
        for fmt in offer:
            if wanted in (fmt.key, *fmt.keys, fmt.media_type, *fmt.aliases):
                return fmt
        raise NotAcceptable(
            f"format={format_param!r} is not available for this request; use one of: {', '.join(f.key for f in offer)}."
        )
    if not accept or not accept.strip():
        return offer[0]
    by_type: dict[str, Format] = {fmt.media_type: fmt for fmt in offer}
    for fmt in offer:
        for alias in fmt.aliases:
            by_type.setdefault(alias, fmt)
    # mimeparse prefers the later of equally good candidates: list ours from least to most
    # preferred, aliases before every canonical type.
    canonical = [fmt.media_type for fmt in offer]
    candidates = [t for t in reversed(by_type) if t not in canonical] + list(reversed(canonical))
    try:
        best = mimeparse.best_match(candidates, accept)
    except (ValueError, IndexError):
        raise NotAcceptable(f"Cannot parse the Accept header {accept!r}.") from None
    if not best:
        raise NotAcceptable(
            f"None of the requested media types ({accept}) is available; this request can return: "
            + ", ".join(f.media_type for f in offer)
            + "."
        )
    return by_type[best]


def prefers_html(accept: str | None) -> bool:
    """True when a browser asks: text/html ranks at least as high as every RDF format."""
    if not accept or "html" not in accept:
        return False
    candidates = [f.media_type for f in reversed(GRAPH_FORMATS)] + ["text/html"]
    try:
        return mimeparse.best_match(candidates, accept) == "text/html"
    except (ValueError, IndexError):
        return False


def prefers_json(accept: str | None) -> bool:
    """True when a client asks for JSON by name (application/json or application/problem+json) above plain text:
    a refusal then comes as JSON fields (`app.endpoint_error`). Equal ranks, ``*/*`` and no Accept keep plain text."""
    if not accept or "json" not in accept:
        return False
    try:
        best = mimeparse.best_match(["application/problem+json", "application/json", "text/plain"], accept)
    except (ValueError, IndexError):
        return False
    return best in ("application/json", "application/problem+json")
