"""The SPARQL the server runs for itself: ``icgraph/sparql/*.rq``, bound with RDF terms, run by the pool.

Pages, facets, the map, linked-data descriptions, search and the query library never query a
store in the web server's process: they ``await pool.prepared(query, bindings)`` (`StorePool`,
`RemotePool`), which runs on a reader under the same time limit, memory ceiling and admission
(queue, 503 when busy) as ``/sparql``, and answers with Python values (`as_values`).

Each query is a file with the header of ``queries/`` (``#+ summary``, ``#+ tags``; its
parameters are its ``?_name_type`` variables, bound through Oxigraph's ``substitutions``):
`load(name)` reads one (through `icgraph.sparql`, the one loader of icgraph's own queries).
User input reaches a query only as RDF terms made by pyoxigraph's constructors, as
substitutions or, for several values of one variable (a facet's selection), as the VALUES
block of `values` (`one_of` where Virtuoso 7.2 needs a FILTER IN instead). `nested` and `with_groups` join one file's query into another
(a facet's pattern into the count query), so no query text is written in Python.
"""

from __future__ import annotations

import re
from typing import Iterable, Mapping

import pyoxigraph as ox

from icgraph import sparql
from icgraph.queries import LibraryQuery

#: Where the queries are (package data).
QUERIES_DIR = sparql.FOLDER

Term = ox.NamedNode | ox.Literal | ox.BlankNode
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")


def load(name: str) -> LibraryQuery:
    """The query ``sparql/{name}.rq`` with its header (read once)."""
    if not _NAME.match(name):
        raise LookupError(f"{name!r} is not the name of a query file")
    return sparql.query(name)


def query_names() -> list[str]:
    return sparql.names()


def values(variable: str, terms: Iterable[Term]) -> str:
    """``VALUES ?variable { <a> <b> }`` of RDF terms, each written by pyoxigraph (N-Triples syntax).

    The one way several values of a variable enter a query: the terms come from pyoxigraph's
    constructors (which refuse what is not an IRI or a literal), never from request text.
    """
    return f"VALUES {ox.Variable(variable)} {{ {' '.join(_written(variable, terms))} }}"


def one_of(variable: str, terms: Iterable[Term]) -> str:
    """``FILTER (?variable IN (<a>, <b>))`` of RDF terms written by pyoxigraph: `values` for a store that
    answers a VALUES block of several rows wrongly (Virtuoso 7.2 joined with a UNION: see linked_data.describe)."""
    return f"FILTER ({ox.Variable(variable)} IN ({', '.join(_written(variable, terms))}))"


def _written(variable: str, terms: Iterable[Term]) -> list[str]:
    """Each term in N-Triples syntax, as pyoxigraph writes it; anything but an IRI or a literal is refused."""
    written = []
    for term in terms:
        if not isinstance(term, (ox.NamedNode, ox.Literal)):
            raise TypeError(f"?{variable}: only IRIs and literals can be listed, not {term!r}")
        written.append(str(term))
    return written


def _body_start(text: str) -> int:
    """Where the query form (SELECT, CONSTRUCT, ...) starts, after the prologue (PREFIX, BASE)."""
    from icgraph.sparql.text import scan_tokens

    for offset, token, braces, _ in scan_tokens(text):
        if braces == 0 and token.upper() in ("SELECT", "ASK", "CONSTRUCT", "DESCRIBE"):
            return offset
    raise SyntaxError("not a SPARQL query")


def nested(name: str, *groups: str) -> str:
    """The SELECT of ``icgraph/sparql/{name}.rq`` as a sub-query group, ``{ SELECT ... }``, without its prologue,
    and with the group patterns (or VALUES blocks) ``groups`` opening its WHERE clause.

    The composed query carries every prefix of `icgraph.namespaces.PREFIXES` (see `compose`).
    """
    text = load(name).text
    body = "\n".join(line for line in text[_body_start(text):].splitlines() if not line.lstrip().startswith("#"))
    return "{ " + with_groups(body, *groups) + " }"


def body(name: str) -> str:
    """The query of ``icgraph/sparql/{name}.rq`` without its header and prologue (for a page that adds every prefix)."""
    text = load(name).text
    return text[_body_start(text):]


def with_groups(query: str | LibraryQuery, *groups: str) -> str:
    """The query with the group patterns (or VALUES blocks) ``groups`` opening its WHERE clause."""
    from icgraph.sparql.text import insert_in_where

    text = query.text if isinstance(query, LibraryQuery) else load(query).text if _NAME.match(query) else query
    return insert_in_where(text, "\n  ".join(groups)) if groups else text


def compose(name: str, *groups: str) -> str:
    """`with_groups` for a file whose WHERE clause receives `nested` groups of other files: every prefix declared."""
    from icgraph.namespaces import sparql_prefixes

    return sparql_prefixes() + with_groups(body(name), *groups)


def substitutions(query: str | LibraryQuery, bindings: Mapping[str, Term] | None) -> tuple[str, dict[str, Term]]:
    """The text of ``query`` (a server query's name, a LibraryQuery or SPARQL text) and its bindings by variable.

    A binding is named after a parameter of the query (``entity`` for ``?_entity_iri``) or after a variable.
    """
    if isinstance(query, LibraryQuery):
        library = query
    elif _NAME.match(query):
        library = load(query)
    else:
        library = None
    text = library.text if library is not None else query
    by_variable: dict[str, Term] = {}
    parameters = {p.name: p.variable for p in library.parameters} if library is not None else {}
    for name, term in (bindings or {}).items():
        name = name.value if isinstance(name, ox.Variable) else str(name).lstrip("?$")
        if not isinstance(term, (ox.NamedNode, ox.Literal, ox.BlankNode)):
            raise TypeError(f"binding {name}: an RDF term is needed, not {term!r}")
        by_variable[parameters.get(name, name)] = term
    return text, by_variable


def written(query: str | LibraryQuery, bindings: Mapping[str, Term]) -> str:
    """The query with each bound variable replaced by its term, written by pyoxigraph: a query to *show*
    (the "query that regenerates this page" link), runnable as it stands. The server itself binds by
    substitutions (`StorePool.prepared`); only a CONSTRUCT, ASK or a query that does not project the
    variables can be written out this way."""
    from icgraph.sparql.text import scan_tokens

    text, by_variable = substitutions(query, bindings)
    pieces, last = [], 0
    for offset, token, _, _ in scan_tokens(text):
        if token[:1] in "?$" and token[1:] in by_variable:
            pieces += [text[last:offset], str(by_variable[token[1:]])]
            last = offset + len(token)
    return "".join(pieces) + text[last:]
