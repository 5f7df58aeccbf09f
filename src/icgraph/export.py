"""Dumps of the whole dataset, written by Oxigraph's serialisers."""

from __future__ import annotations

from typing import BinaryIO

import pyoxigraph as ox

from icgraph import sparql
from icgraph.namespaces import PREFIXES
from icgraph.store import default_dataset, named_quads

#: format name -> (Oxigraph format, keeps named graphs)
EXPORT_FORMATS = {
    "trig": (ox.RdfFormat.TRIG, True),
    "nq": (ox.RdfFormat.N_QUADS, True),
    "ttl": (ox.RdfFormat.TURTLE, False),
    "nt": (ox.RdfFormat.N_TRIPLES, False),
    "jsonld": (ox.RdfFormat.JSON_LD, False),
}


def export_store(store: ox.Store, fmt: str, stream: BinaryIO) -> None:
    """Write the store in ``fmt``: the named graphs' quads for dataset formats, their merge otherwise."""
    rdf_format, keeps_graphs = EXPORT_FORMATS[fmt]
    prefixes = PREFIXES if rdf_format in (ox.RdfFormat.TRIG, ox.RdfFormat.TURTLE, ox.RdfFormat.JSON_LD) else None
    if keeps_graphs:
        ox.serialize(named_quads(store), stream, rdf_format, prefixes=prefixes)
        return
    triples = store.query(sparql.load("union-construct"), **default_dataset(store))
    ox.serialize(triples, stream, rdf_format, prefixes=prefixes)
