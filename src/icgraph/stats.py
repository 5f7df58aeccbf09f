"""Counts that describe a store: triples per named graph, entities per class."""

from __future__ import annotations

from dataclasses import dataclass

import pyoxigraph as ox

from icgraph.results import compact

_TRIPLES_PER_GRAPH = "SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g ORDER BY ?g"
_DEFAULT_GRAPH_TRIPLES = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
_ENTITIES_PER_CLASS = """
SELECT ?class (COUNT(DISTINCT ?s) AS ?n) WHERE { ?s a ?class }
GROUP BY ?class ORDER BY DESC(?n) ?class
"""


@dataclass
class StoreStatistics:
    triples_per_graph: dict[str, int]
    default_graph_triples: int
    entities_per_class: dict[str, int]

    @property
    def total_triples(self) -> int:
        return sum(self.triples_per_graph.values()) + self.default_graph_triples


def store_statistics(store: ox.Store) -> StoreStatistics:
    per_graph = {row["g"].value: int(row["n"].value) for row in store.query(_TRIPLES_PER_GRAPH)}
    default = int(next(iter(store.query(_DEFAULT_GRAPH_TRIPLES)))["n"].value)
    per_class = {
        compact(row["class"]): int(row["n"].value)
        for row in store.query(_ENTITIES_PER_CLASS, use_default_graph_as_union=True)
    }
    return StoreStatistics(per_graph, default, per_class)
