"""The dumps of a release written from its store as streams, in memory that does not grow with the graph (`icgraph load`).

`icgraph build` writes the dumps of the real graph from quads it holds in memory (`icgraph.publish`).
A dump given to `icgraph load` can be 1,000 times larger (45 million triples at 1000x), so here each
dump is read out of the written store and serialised as it is read:

- ``icgraph.nq``: the loaded file itself, hard-linked into the release when both lie on one file
  system (no copy of gigabytes), else copied;
- ``icgraph.trig``: the named graphs, graph by graph, quad by quad (`named_graph_quads`; ``Store.dump``
  would add the default graph);
- ``icgraph.ttl``: the default graph (the merge), written by the store (`Store.dump`), each
  subject's triples grouped as a whole-graph serialisation would;
- ``icgraph.jsonld``: the default graph compacted with the project's context one batch of subjects
  at a time (`json_ld_nodes`), each node object written as it comes into one ``@graph`` array under
  the whole publication context.

Above `Settings.dump_max_quads` quads the derived copies (TriG, Turtle, JSON-LD and the per-graph
N-Triples files) are not written at all (`skipped_dumps`): at 1000x they would take about 25 GB of
disk beside the store and hours of serialisation, and the N-Quads dump holds the same data. The
release's manifest says why each one is missing, and the server answers 404 with that reason.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Iterable, Iterator

import pyoxigraph as ox

from icgraph.namespaces import PREFIXES

#: The derived files `skipped_dumps` may leave out; "graphs" stands for the per-graph N-Triples files.
DERIVED = ("icgraph.trig", "icgraph.ttl", "icgraph.jsonld", "graphs")
#: Triples compacted at once for the JSON-LD dump (a batch ends only where a subject ends).
JSON_LD_BATCH = 50_000


def link_or_copy(source: Path, target: Path) -> None:
    """``target`` as a hard link to ``source`` (same file system), else a copy."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def skipped_dumps(quads: int, max_quads: int | None) -> dict[str, str]:
    """{derived file: why it is not written} for a release of ``quads`` quads (none when under ``max_quads``)."""
    if not max_quads or quads <= max_quads:
        return {}
    reason = (f"not written for this release: it holds {quads:,} quads, more than ICGRAPH_DUMP_MAX_QUADS "
              f"({max_quads:,}); /downloads/icgraph.nq.gz holds the same data")
    return {name: reason for name in DERIVED}


def default_triples(store: ox.Store) -> Iterator[ox.Triple]:
    """The triples of the store's default graph (the merge), grouped by subject."""
    return (quad.triple for quad in store.quads_for_pattern(None, None, None, ox.DefaultGraph()))


def named_graph_quads(store: ox.Store) -> Iterator[ox.Quad]:
    """The quads of the named graphs, graph by graph (the merge in the default graph is not read at all)."""
    for graph in store.named_graphs():
        yield from store.quads_for_pattern(None, None, None, graph)


def write_trig(store: ox.Store, target: Path) -> None:
    """The named graphs as TriG, streamed, each graph in one block."""
    ox.serialize(named_graph_quads(store), str(target), ox.RdfFormat.TRIG, prefixes=PREFIXES)


def write_turtle(store: ox.Store, target: Path) -> None:
    """The default graph (the merge of the named graphs) as Turtle, streamed by the store itself (no Python per triple)."""
    store.dump(str(target), ox.RdfFormat.TURTLE, from_graph=ox.DefaultGraph(), prefixes=PREFIXES)


def subject_batches(triples: Iterable[ox.Triple], size: int) -> Iterator[list[ox.Triple]]:
    """Lists of about ``size`` triples, each subject's triples in one list (``triples`` grouped by subject)."""
    batch: list[ox.Triple] = []
    for triple in triples:
        if len(batch) >= size and triple.subject != batch[-1].subject:
            yield batch
            batch = []
        batch.append(triple)
    if batch:
        yield batch


def json_ld_nodes(triples: list[ox.Triple], context: dict) -> list[dict]:
    """The node objects of ``triples`` compacted with ``context`` (rdflib, as `icgraph.jsonld.compact` does)."""
    from rdflib import Graph

    from icgraph.terms import from_ox

    graph = Graph()
    graph.addN((from_ox(t.subject), from_ox(t.predicate), from_ox(t.object), graph) for t in triples)
    document = json.loads(graph.serialize(format="json-ld", context=context, auto_compact=True))
    if isinstance(document, list):
        return document
    document.pop("@context", None)
    if "@graph" in document:
        return document["@graph"]
    return [document] if document else []


def write_json_ld(store_folder: Path, target: Path, batch: int | None = None) -> float:
    """The JSON-LD dump of the store's default graph, one batch of subjects at a time; its seconds.

    Opens the store read-only (it runs in a process of its own, `icgraph.publish._beside`).
    """
    from icgraph.mapping.context import publication_context

    started = time.perf_counter()
    store = ox.Store.read_only(str(store_folder))
    context = publication_context()
    with open(target, "w", encoding="utf-8") as out:
        out.write('{\n "@context": ' + json.dumps(context, ensure_ascii=False, indent=1) + ',\n "@graph": [')
        separator = "\n"
        for triples in subject_batches(default_triples(store), batch or JSON_LD_BATCH):
            for node in json_ld_nodes(triples, context):
                out.write(separator + json.dumps(node, ensure_ascii=False, indent=1))
                separator = ",\n"
        out.write("\n ]\n}\n")
    return time.perf_counter() - started
