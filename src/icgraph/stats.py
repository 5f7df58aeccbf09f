"""Counts that describe a store: triples per named graph, entities per class."""

from __future__ import annotations

from dataclasses import dataclass

import pyoxigraph as ox

from icgraph import sparql

from icgraph.results import compact
from icgraph.store import default_dataset



@dataclass
class StoreStatistics:
    triples_per_graph: dict[str, int]
    default_graph_triples: int
    entities_per_class: dict[str, int]

    @property
    def total_triples(self) -> int:
        return sum(self.triples_per_graph.values()) + self.default_graph_triples


def store_statistics(store: ox.Store) -> StoreStatistics:
    per_graph = {row["g"].value: int(row["n"].value) for row in store.query(sparql.load("graph-triple-counts"))}
    default = int(next(iter(store.query(sparql.load("default-graph-triples"))))["n"].value)
    per_class = {
        compact(row["class"]): int(row["n"].value)
        for row in store.query(sparql.load("entities-per-class"), **default_dataset(store))
    }
    return StoreStatistics(per_graph, default, per_class)
