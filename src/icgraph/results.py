"""Render Oxigraph query results for the terminal and for files (Oxigraph's own writers do the formats)."""

from __future__ import annotations

import pyoxigraph as ox

from icgraph.namespaces import PREFIXES, compact as compact_iri

_RESULT_FORMATS = {
    "csv": ox.QueryResultsFormat.CSV,
    "tsv": ox.QueryResultsFormat.TSV,
    "json": ox.QueryResultsFormat.JSON,
    "xml": ox.QueryResultsFormat.XML,
}
_GRAPH_FORMATS = {"ttl": ox.RdfFormat.TURTLE, "nt": ox.RdfFormat.N_TRIPLES, "table": ox.RdfFormat.TURTLE}


def compact(term) -> str:
    """A term as a person reads it: a prefixed name for IRIs we know, the lexical form for literals."""
    if term is None:
        return ""
    if isinstance(term, ox.NamedNode):
        return compact_iri(term)
    if isinstance(term, ox.Literal):
        return term.value
    return str(term)


def format_results(results, fmt: str) -> bytes:
    """Serialise SELECT/ASK/CONSTRUCT results in ``fmt`` (table, csv, tsv, json, xml, ttl, nt)."""
    if isinstance(results, ox.QueryTriples):
        if fmt not in _GRAPH_FORMATS:
            raise ValueError(f"a CONSTRUCT/DESCRIBE result can be written as ttl or nt, not {fmt}")
        return ox.serialize(results, format=_GRAPH_FORMATS[fmt], prefixes=PREFIXES if fmt != "nt" else None) or b""
    if isinstance(results, ox.QueryBoolean):
        if fmt == "table":
            return (b"true" if bool(results) else b"false") + b"\n"
        return results.serialize(format=_RESULT_FORMATS.get(fmt, ox.QueryResultsFormat.JSON))
    if fmt == "table":
        return _table(results).encode("utf-8")
    if fmt not in _RESULT_FORMATS:
        raise ValueError(f"a SELECT result can be written as table, csv, tsv, json or xml, not {fmt}")
    return results.serialize(format=_RESULT_FORMATS[fmt])


def _table(solutions: ox.QuerySolutions, max_width: int = 60) -> str:
    names = [v.value for v in solutions.variables]
    rows = [[compact(solution[name]) for name in names] for solution in solutions]
    clipped = [[c if len(c) <= max_width else c[: max_width - 1] + "…" for c in row] for row in rows]
    widths = [max([len(n)] + [len(r[i]) for r in clipped]) for i, n in enumerate(names)]
    line = "  ".join(n.ljust(w) for n, w in zip(names, widths))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in clipped]
    out.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(out) + "\n"
