"""The release an accept publishes, written from the previous release: only what contributions change is new.

Each file of a release is laid out as a *head*, what the build wrote from the sources and
curation, followed by a *tail*, what accepted contributions add since: their triples in
graph:contributions and the triples of graph:inferred they imply. The manifest's ``head``
holds the head's length in bytes of every file (`head_of`; a build's release is all head). An
accept keeps the head of every file byte for byte, so the graphs derived from the sources are
the same bytes in every release, and writes only the tail again:

- ``store/``: Oxigraph's backup of the previous store (hard links to its files, which RocksDB
  never changes), then the old tail's quads out and the new tail's in, in their named graphs
  and in the default graph (the merge: a triple leaves it only when no named graph holds it);
- ``dumps/icgraph.nq``, ``.trig``, ``.ttl`` and ``graphs/<name>.nt``: the head, then the tail in
  the same format. N-Quads and N-Triples are one statement a line; TriG and Turtle may declare
  prefixes again and name a graph twice. So each file holds the dataset (or the merge) it
  would hold if written at once;
- ``icgraph.nq.gz``: the head's gzip member(s), then a member with the tail: RFC 1952 makes a
  gzip file a series of members that gunzip, zcat and Python's gzip read as one stream;
- ``icgraph.jsonld``: the head up to the end of its ``@graph`` list, then the tail's node
  objects, each with its own ``@context`` (JSON-LD 1.1 embedded contexts); readers merge node
  objects of the same ``@id``;
- a file whose head is unchanged and whose tail is empty is a hard link to the previous one.

- ``void.ttl`` and the manifest's counts: the previous release's counts changed by the quads the
  accept removed and added, each looked up for the terms those quads touch (`icgraph.void.updated_counts`).

- ``search.sqlite``: the previous index with the documents that read a changed node read again, and
  the similar practices of the new ones, entered in the lists they belong to
  (`icgraph.search.update_search_index`: similar practices are weighed by the build's statistics).

The aggregates (``aggregates.sqlite``: the pages' answers, the facet index, the precomputed library
queries) are computed from the new store as the build computes them, but after publication, by a
process of their own, into the published release's folder (`icgraph.precompute.complete_release`):
until the file appears, the server runs those queries live under its limits, never with another
release's answers.
"""

from __future__ import annotations

import gzip
import os
import shutil
from pathlib import Path
from typing import Any

import pyoxigraph as ox

from icgraph.aggregates import AGGREGATES
from icgraph.namespaces import PREFIXES
from icgraph.publish import ReleaseWriter
from icgraph.release import DUMPS, Release, graph_slug

#: The manifest entry with the head's length of each file (None: this release cannot be extended).
HEAD_KEY = "head"
#: How a compacted JSON-LD dump (`icgraph.jsonld.compact`) ends: its @graph list, then the document.
JSONLD_END = b"\n ]\n}"
_JSONLD = "dumps/icgraph.jsonld"


def head_of(release: Release) -> dict[str, int] | None:
    """The head's length of each file of ``release``, or None if an accept cannot extend it."""
    if HEAD_KEY in release.manifest:
        return release.manifest[HEAD_KEY]
    head = {f"dumps/{name}": release.dump(name).stat().st_size for name in DUMPS}
    with release.dump("icgraph.jsonld").open("rb") as document:
        document.seek(max(0, head[_JSONLD] - 16))
        ending = document.read()
    end = _jsonld_end(ending)
    if end is None:
        return None  # not a list of node objects (an empty graph): nothing to append to
    head[_JSONLD] -= len(end)
    for path in sorted((release.path / "graphs").glob("*.nt")):
        head[f"graphs/{path.name}"] = path.stat().st_size
    return head


def _jsonld_end(ending: bytes) -> bytes | None:
    """How a JSON-LD dump ends after its last node object: the compacted document's ``@graph`` list closed
    (the build's), or the top-level array closed (expanded JSON-LD, as ``icgraph load`` writes it); None if neither."""
    if ending.endswith(b"}" + JSONLD_END):
        return JSONLD_END
    if ending.rstrip().endswith(b"}]"):
        return ending[len(ending.rstrip()) - 1:]
    return None


def tail_of(release: Release, head: dict[str, int]) -> list[ox.Quad]:
    """The quads of the previous accepts, as ``release``'s N-Quads dump holds them after its head."""
    with release.dump("icgraph.nq").open("rb") as dump:
        dump.seek(head["dumps/icgraph.nq"])
        return list(ox.parse(dump.read(), format=ox.RdfFormat.N_QUADS))


def next_tail(source: ox.Store, old_tail: list[ox.Quad], added: list[ox.Triple], *, ontology_dir: Path | None = None,
              cache_dir: Path | None = None) -> list[ox.Quad] | None:
    """The tail of the release that adds the triples ``added`` to graph:contributions of the release whose store is
    ``source`` and whose tail is ``old_tail``; None when the change takes back a triple the build inferred (the
    release must then be written whole).

    What `icgraph.contributions.publication` computes from the whole inferred graph, from the change alone: the
    rules run on its neighbourhood (`icgraph.infer.infer_change`) and each triple they gain or lose is looked up.
    """
    from icgraph.infer import infer_change
    from icgraph.namespaces import CONTRIBUTIONS_GRAPH, INFERRED_GRAPH

    contributions, inferred = ox.NamedNode(str(CONTRIBUTIONS_GRAPH)), ox.NamedNode(str(INFERRED_GRAPH))
    asserted = [g for g in source.named_graphs() if isinstance(g, ox.NamedNode) and g != inferred]
    gained, lost = infer_change(source, asserted, added, ontology_dir=ontology_dir, cache_dir=cache_dir)
    old_inferred = {q.triple for q in old_tail if q.graph_name == inferred}
    if any(t not in old_inferred and ox.Quad(t.subject, t.predicate, t.object, inferred) in source for t in lost):
        return None
    new_contributions = [ox.Quad(t.subject, t.predicate, t.object, contributions) for t in dict.fromkeys(added)
                         if ox.Quad(t.subject, t.predicate, t.object, contributions) not in source]
    implied_tail = (old_inferred - lost) | {t for t in gained if ox.Quad(t.subject, t.predicate, t.object, inferred) not in source
                                            or t in old_inferred}
    tail = [q for q in old_tail if q.graph_name == contributions] + new_contributions
    return tail + [ox.Quad(t.subject, t.predicate, t.object, inferred) for t in sorted(implied_tail, key=str)]


class DeltaReleaseWriter(ReleaseWriter):
    """A release written from ``previous``: its head kept, ``tail`` written after it (replacing ``old_tail``)."""

    def write_delta(self, previous: Release, head: dict[str, int], old_tail: list[ox.Quad], tail: list[ox.Quad]) -> dict[str, int]:
        """Write store, dumps and graph files; returns the manifest's ``head`` (the same lengths as ``head``)."""
        with self._timed("store copy"):
            removed, added = _update_store(previous, self.folder / "store", old_tail, tail)
        with self._timed("dumps"):
            self._write_dumps(previous, head, tail)
        store = ox.Store.read_only(str(self.folder / "store"))
        self._describe(previous, store, removed, added)
        return head

    def _write_dumps(self, previous: Release, head: dict[str, int], tail: list[ox.Quad]) -> None:
        from icgraph.jsonld import compact

        dumps, graphs = self.folder / "dumps", self.folder / "graphs"
        dumps.mkdir()
        graphs.mkdir()
        nquads = ox.serialize(tail, None, ox.RdfFormat.N_QUADS)
        triples = list(dict.fromkeys(q.triple for q in tail))  # the merge's new triples, each once
        appended = {
            "dumps/icgraph.nq": nquads,
            "dumps/icgraph.nq.gz": gzip.compress(nquads, compresslevel=6, mtime=0) if tail else b"",
            "dumps/icgraph.trig": ox.serialize(tail, None, ox.RdfFormat.TRIG, prefixes=PREFIXES) if tail else b"",
            "dumps/icgraph.ttl": ox.serialize(triples, None, ox.RdfFormat.TURTLE, prefixes=PREFIXES) if tail else b"",
            _JSONLD: _jsonld_items(compact(triples)) if tail else b"",
        }
        by_graph: dict[str, list[ox.Triple]] = {}
        for quad in tail:
            by_graph.setdefault(f"graphs/{graph_slug(quad.graph_name.value)}.nt", []).append(quad.triple)
        names = {f"graphs/{p.name}" for p in (previous.path / "graphs").glob("*.nt")} | set(by_graph)
        for name in sorted(names):
            appended[name] = ox.serialize(by_graph[name], None, ox.RdfFormat.N_TRIPLES) if name in by_graph else b""
        for name, added in appended.items():
            kept = head.get(name, 0)
            source, target = previous.path / name, self.folder / name
            if not added and source.is_file() and kept == source.stat().st_size:
                _link_or_copy(source, target)
                continue
            with target.open("wb") as out:
                if kept:
                    with source.open("rb") as stream:
                        _copy_bytes(stream, out, kept)
                if name == _JSONLD:
                    with source.open("rb") as stream:
                        stream.seek(max(0, source.stat().st_size - 16))
                        end = _jsonld_end(stream.read())
                    out.write((b",\n" + added if added else b"") + end)
                else:
                    out.write(added)

    def _describe(self, previous: Release, store: ox.Store, removed: list[ox.Quad], added: list[ox.Quad]) -> None:
        """The search index, VoID and service description of the new store (as `ReleaseWriter.write_data`).

        VoID's counts (and the manifest's, the service description's) are the previous release's, changed by
        the quads ``removed`` and ``added`` (`icgraph.void.updated_counts`): each looked up for the terms they touch.
        """
        from icgraph.backends import is_remote
        from icgraph.queries import load_library
        from icgraph.search import build_search_index, update_search_index
        from icgraph.server.service_description import describe
        from icgraph.void import describe_void, statistics_of_counts

        with self._timed("search index"):
            changed = [q.subject for q in (*removed, *added)]
            index, target = previous.path / "search.sqlite", self.folder / "search.sqlite"
            # The new store holds the merge of its graphs (`_update_store`): ``{}`` reads it without the scan that proves it.
            if not index.is_file() or update_search_index(index, target, store, changed, dataset={}) is None:
                build_search_index(store, target, dataset={})  # an index this code cannot extend: written whole
        with self._timed("describe"):
            from icgraph.publish import _now

            counts = _void_counts(previous, store, removed, added)
            self.statistics = statistics_of_counts(counts)
            describe_void(counts, self.folder / "dumps", version=self.id, issued=_now(), base=self.base).serialize(
                self.folder / "void.ttl", format="turtle")
            describe(
                self.base + "sparql", self.statistics, updates_enabled=False,
                examples=load_library(self.settings.queries_dir).values(), extension_functions=not is_remote(self.location),
            ).serialize(self.folder / "service-description.ttl", format="turtle")
        del store
        # The aggregates follow publication (`finish`): an accept at 100x would otherwise wait minutes for them.
        self.aggregates = {"file": AGGREGATES, "after publication": True}

    def finish(self, validation=None, timings=None, progress=None, extra=None) -> Release:
        """`ReleaseWriter.finish`, then the aggregates of the published release started in a process of their own
        (`icgraph.precompute.start_after_publication`; ``self.after_publication`` is that process)."""
        from icgraph.precompute import start_after_publication

        release = super().finish(validation, timings, progress, extra)
        self.after_publication = start_after_publication(release, self.settings)
        return release


def _void_counts(previous: Release, store: ox.Store, removed: list[ox.Quad], added: list[ox.Quad]) -> dict:
    """VoID's counts of ``store``: the previous release's (its void.ttl) changed by the quads ``removed`` and ``added``."""
    from rdflib import Graph

    from icgraph.void import counts_of_void, updated_counts, void_counts

    try:
        counts = counts_of_void(Graph().parse(previous.path / "void.ttl", format="turtle"))
    except (OSError, TypeError, ValueError, SyntaxError):  # no VoID, or none this code wrote: count everything
        return void_counts(store, {})  # the new store holds the merge of its graphs
    before = ox.Store.read_only(str(previous.store))
    return updated_counts(counts, before, store, removed, added)


def _update_store(previous: Release, target: Path, old_tail: list[ox.Quad], tail: list[ox.Quad]) -> tuple[list[ox.Quad], list[ox.Quad]]:
    """Copy the previous store to ``target`` with ``old_tail`` replaced by ``tail``; the named-graph quads (removed, added)."""
    source = ox.Store.read_only(str(previous.store))
    source.backup(str(target))
    del source
    store = ox.Store(str(target))
    default = ox.DefaultGraph()
    keep, had = set(tail), set(old_tail)
    removed = [q for q in old_tail if q not in keep]
    for quad in removed:
        store.remove(quad)
    for triple in dict.fromkeys(q.triple for q in removed):
        named = (q for q in store.quads_for_pattern(triple.subject, triple.predicate, triple.object, None) if q.graph_name != default)
        if next(named, None) is None:
            store.remove(ox.Quad(triple.subject, triple.predicate, triple.object, default))
    added = [q for q in tail if q not in had]
    store.extend(added + [ox.Quad(q.subject, q.predicate, q.object, default) for q in added])
    store.flush()
    del store
    return removed, added


def _jsonld_items(document: bytes) -> bytes:
    """The node objects of a compacted JSON-LD document, each with the document's context, as @graph list members."""
    import json

    parsed: Any = json.loads(document)
    context = parsed.pop("@context", {})
    nodes = parsed.get("@graph", [parsed] if parsed else [])
    lines = []
    for node in nodes:
        text = json.dumps({"@context": context, **node}, ensure_ascii=False, indent=1)
        lines.append("\n".join("  " + line for line in text.splitlines()))
    return ",\n".join(lines).encode("utf-8")


def _copy_bytes(source, target, length: int) -> None:
    """The first ``length`` bytes of ``source`` into ``target`` (in the kernel where it can)."""
    remaining = length
    target.flush()
    try:
        while remaining:
            copied = os.copy_file_range(source.fileno(), target.fileno(), remaining)
            if not copied:
                break
            remaining -= copied
    except (AttributeError, OSError):
        source.seek(length - remaining)
    while remaining:
        block = source.read(min(remaining, 1 << 20))
        if not block:
            raise OSError(f"{source.name} is shorter than its recorded head ({length} bytes)")
        target.write(block)
        remaining -= len(block)
    target.seek(0, os.SEEK_END)


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)
