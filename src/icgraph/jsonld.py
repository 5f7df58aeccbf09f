"""JSON-LD documents compacted with the project's context (`icgraph.mapping.context.publication_context`).

Oxigraph writes JSON-LD expanded (full IRIs, no ``@context``); the release's JSON-LD dump and the
/id/ documents served as JSON-LD are compacted here, with rdflib, so they read as the terms of
ontology/context.jsonld (``"title"``, ``"country": "place:es"``). Each document carries the context
it needs inline (the prefixes and the terms it uses), so any JSON-LD reader turns it back into the
same triples without fetching anything; the whole context is also served at /context.jsonld.
"""

from __future__ import annotations

from typing import Any, Iterable

import pyoxigraph as ox

#: What rdflib's JSON-LD serializer hands `from_rdf` for ``use_native_types`` when it is not given: a
#: one-element tuple, which is true (numbers and booleans are written as JSON's own).
_NATIVE_TYPES = (False,)

#: Where the server serves the whole context (`icgraph.server.documents`).
CONTEXT_PATH = "/context.jsonld"


def compact(triples: Iterable[ox.Triple]) -> bytes:
    """The triples as a compacted JSON-LD document (UTF-8) with its context inline."""
    import json

    from rdflib import Graph
    from rdflib.plugins.serializers.jsonld import from_rdf

    from icgraph.mapping.context import publication_context

    from icgraph.terms import from_ox

    graph = Graph()  # a set: a triple given twice (the quads of two graphs) is held once
    # Term by term: a third faster than writing N-Triples for rdflib's parser to read back.
    graph.addN((from_ox(t.subject), from_ox(t.predicate), from_ox(t.object), graph) for t in triples)
    context = publication_context()
    document = _sorted(from_rdf(graph, context, None, _NATIVE_TYPES, False, auto_compact=True))
    if isinstance(document, dict):
        document["@context"] = _used(context, document)
    return json.dumps(document, ensure_ascii=False, indent=1).encode("utf-8")


def _sorted(node: Any) -> Any:
    """``node`` as rdflib's JSON-LD serializer writes it and `json.loads` reads it back: every object's
    keys in order, lists for tuples. The same document as that round trip, without writing and parsing
    the whole text once more."""
    if isinstance(node, dict):
        return {key: _sorted(node[key]) for key in sorted(node)}
    if isinstance(node, (list, tuple)):
        return [_sorted(item) for item in node]
    return node


def _used(context: dict, document: Any) -> dict:
    """The part of ``context`` that ``document`` uses: every prefix, and the terms it names."""
    names: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "@context":
                    continue
                names.add(key)
                if key in ("@type", "type"):
                    names.update(v for v in (value if isinstance(value, list) else [value]) if isinstance(v, str))
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(document)
    return {term: definition for term, definition in context.items()
            if term in names or (isinstance(definition, str) and definition.endswith(("/", "#")))}
