"""Dumps of the whole dataset, written by Oxigraph's serialisers."""

from __future__ import annotations

from typing import BinaryIO

import pyoxigraph as ox

from icgraph import sparql
from icgraph.namespaces import PREFIXES

#: format name -> (Oxigraph format, keeps named graphs)
EXPORT_FORMATS = {
    "trig": (ox.RdfFormat.TRIG, True),
    "nq": (ox.RdfFormat.N_QUADS, True),
    "ttl": (ox.RdfFormat.TURTLE, False),
    "nt": (ox.RdfFormat.N_TRIPLES, False),
    "jsonld": (ox.RdfFormat.JSON_LD, False),
}


def export_store(store: ox.Store, fmt: str, stream: BinaryIO) -> None:
    """Write the store in ``fmt``: quads for dataset formats, the union of the graphs (deduplicated) otherwise."""
    rdf_format, keeps_graphs = EXPORT_FORMATS[fmt]
    prefixes = PREFIXES if rdf_format in (ox.RdfFormat.TRIG, ox.RdfFormat.TURTLE, ox.RdfFormat.JSON_LD) else None
    if keeps_graphs:
        store.dump(stream, rdf_format, prefixes=prefixes)
        return
    triples = store.query(sparql.load("union-construct"), use_default_graph_as_union=True)
    ox.serialize(triples, stream, rdf_format, prefixes=prefixes)
