"""SPARQL extension functions of icgraph's endpoint: text search inside a query (docs/sparql.md).

``PREFIX icgf: <https://w3id.org/icgraph/def/function#>``

- ``icgf:match(?text, "roma")``: ``true`` when every word of the query occurs in ``?text`` as a
  whole word (case and accents ignored; ``"a b"`` in the query is a phrase, ``word*`` a
  prefix); ``false`` otherwise.
- ``icgf:score(?text, "roma")``: an ``xsd:double``, 0 when it does not match, else the number of
  occurrences of the query's terms, plus 10 when its words occur together as a phrase.

The words are those of `icgraph.words`, the same as ``/search``'s. The reader processes pass
`CUSTOM_FUNCTIONS` to every ``Store.query`` (`icgraph.server.workers`); a remote store
(Virtuoso) does not know them. A call with an argument that is not a literal is an error
(``None``: the expression is unbound, so a FILTER drops the row).
"""

from __future__ import annotations

import pyoxigraph as ox

from icgraph import words

#: The namespace of the functions (not an ontology: these are operations, not terms of the data).
FUNCTIONS = "https://w3id.org/icgraph/def/function#"
MATCH = ox.NamedNode(FUNCTIONS + "match")
SCORE = ox.NamedNode(FUNCTIONS + "score")

_BOOLEAN = ox.NamedNode("http://www.w3.org/2001/XMLSchema#boolean")
_DOUBLE = ox.NamedNode("http://www.w3.org/2001/XMLSchema#double")


def _texts(*arguments) -> tuple[str, str] | None:
    if len(arguments) != 2 or not all(isinstance(a, ox.Literal) for a in arguments):
        return None
    return arguments[0].value, arguments[1].value


def match(*arguments) -> ox.Literal | None:
    texts = _texts(*arguments)
    if texts is None:
        return None
    return ox.Literal("true" if words.matches(*texts) else "false", datatype=_BOOLEAN)


def score(*arguments) -> ox.Literal | None:
    texts = _texts(*arguments)
    if texts is None:
        return None
    return ox.Literal(repr(words.score(*texts)), datatype=_DOUBLE)


#: For ``Store.query(..., custom_functions=CUSTOM_FUNCTIONS)``.
CUSTOM_FUNCTIONS = {MATCH: match, SCORE: score}

#: (IRI, one-line description) of each function, for the service description and the docs.
DESCRIPTIONS = (
    (MATCH.value, "icgf:match(text, query): true when every word of the query occurs in the text as a whole word."),
    (SCORE.value, "icgf:score(text, query): occurrences of the query's words in the text (0 if one is missing), +10 for the phrase."),
)
