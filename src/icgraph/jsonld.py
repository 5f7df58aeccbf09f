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

    from rdflib.plugins.serializers.jsonld import from_rdf

    from icgraph.mapping.context import publication_context

    graph = _Triples(triples)
    context = publication_context()
    document = _sorted(from_rdf(graph, context, None, _NATIVE_TYPES, False, auto_compact=True))
    if isinstance(document, dict):
        document["@context"] = _used(context, document)
    return json.dumps(document, ensure_ascii=False, indent=1).encode("utf-8")


class _Triples:
    """The triples as rdflib's JSON-LD converter (`from_rdf`) reads a graph, without an rdflib store.

    The converter asks only for the subjects, a subject's predicates and objects, whether a node is
    an object, and a list node's ``rdf:first``; indexing the triples for those in plain dictionaries
    costs about a third of filling an rdflib ``Graph`` (its store keeps three indexes and each triple's
    contexts), which was half of a compaction. Each subject's predicates and objects come in the order
    they were given, as from an rdflib ``Graph``; a triple given twice is held once.
    """

    context_aware = False

    def __init__(self, triples: Iterable[ox.Triple]):
        from rdflib import BNode

        from icgraph.terms import from_ox

        self.identifier = BNode()  # what an rdflib Graph() is named: not a URIRef, so no "@id" for the graph
        self._by_subject: dict = {}
        self._objects: set = set()
        for triple in triples:
            s, p, o = from_ox(triple.subject), from_ox(triple.predicate), from_ox(triple.object)
            self._by_subject.setdefault(s, {}).setdefault(p, {})[o] = None
            self._objects.add(o)

    def subjects(self, predicate=None, object=None):
        """Every subject, or (``subjects(None, o)``) whether ``o`` is an object: the converter asks only that of it."""
        if predicate is None and object is None:
            return iter(self._by_subject)
        if predicate is None:
            # Only asked as ``any(graph.subjects(None, o))``: one subject stands for all of them.
            return iter((True,) if object in self._objects else ())
        raise NotImplementedError("subjects(predicate, ...) is not read by the JSON-LD converter")

    def predicate_objects(self, subject):
        for predicate, objects in self._by_subject.get(subject, {}).items():
            for obj in objects:
                yield predicate, obj

    def value(self, subject, predicate):
        objects = self._by_subject.get(subject, {}).get(predicate)
        return next(iter(objects)) if objects else None


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
