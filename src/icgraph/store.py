"""The embedded Oxigraph store: open the one behind a location, and the writable copy a server keeps.

A location ``PATH`` is either a release link (`icgraph.release`: the store is
``PATH/store`` of the current release, read-only) or a plain Oxigraph folder (a store made
by hand or by the tests, served as it is).

Updates (``icgraph serve --update-token-file``) never write into a release: on a release
location the server's writer works on ``PATH.writable``, a copy of the release's store made
once (hard links, `Store.backup`) that remembers which release it started from. A build
refuses to publish while that copy exists (its updates would be hidden), and a server refuses
to start on it once another release has become current.

**The default graph is the RDF merge of the named graphs.** Oxigraph's union default graph
(``use_default_graph_as_union``) is a multiset: a triple stated in two named graphs would be
matched twice by ``{ ?s ?p ?o }``. So every store icgraph serves holds the merge *in* its real
default graph, each distinct triple once (`merge_named_graphs`): a release gets it when it is
written (`icgraph.publish`), the server's writer keeps it after every write, and a plain store
folder gets it when a server opens it. Queries then read the real default graph
(`default_dataset`); ``GRAPH`` patterns, named-graph listings and the dataset dumps see the
named graphs only, as they are.
"""

from __future__ import annotations

from pathlib import Path

import pyoxigraph as ox

from icgraph.release import is_release, store_path

WRITABLE_SUFFIX = ".writable"
_BASE_FILE = "icgraph-base-release"


class StoreError(RuntimeError):
    """The store cannot be opened or written; the message says what to do."""


def open_store(path: Path, read_only: bool = True) -> ox.Store:
    """Open the embedded store at ``path`` (read-only by default, so several processes can share it)."""
    path = Path(path)
    if not path.exists():
        raise StoreError(f"no store at {path}; run `icgraph build` first, or pass --store / set ICGRAPH_STORE")
    if is_release(path) and not read_only:
        raise StoreError(f"{path} is a published release and never changes; serve it with an update token to write a copy")
    try:
        folder = store_path(path)
        return ox.Store.read_only(str(folder)) if read_only else ox.Store(str(folder))
    except OSError as error:
        raise StoreError(f"cannot open the store at {path}: {error}") from error


def writable_copy(location: Path) -> Path:
    """Where a server with updates keeps its copy of a release location's store."""
    location = Path(location).absolute()
    return location.with_name(location.name + WRITABLE_SUFFIX)


def read_base(copy: Path) -> str | None:
    """The id of the release a writable copy was made from."""
    marker = Path(copy).parent / (Path(copy).name + "." + _BASE_FILE)
    return marker.read_text(encoding="utf-8").strip() if marker.is_file() else None


def prepare_writable(location: Path) -> Path:
    """The folder a writer may open read-write for ``location``.

    A plain store folder is written in place. For a release location, the copy
    ``PATH.writable`` (made now if missing, from the current release); a StoreError if the
    copy was made from a release that is no longer current.
    """
    location = Path(location)
    if not is_release(location):
        return location
    current = location.resolve().name
    copy = writable_copy(location)
    marker = copy.parent / (copy.name + "." + _BASE_FILE)
    if copy.exists():
        base = read_base(copy)
        if base != current:
            raise StoreError(
                f"{copy} holds updates made on release {base or '?'}, but release {current} is current now. "
                f"Export them (`icgraph export --store {copy}`), remove {copy}, and start the server again."
            )
        return copy
    partial = copy.with_name(copy.name + ".partial")
    if partial.exists():
        import shutil

        shutil.rmtree(partial)
    source = ox.Store.read_only(str(store_path(location)))
    source.backup(str(partial))
    del source
    marker.write_text(current, encoding="utf-8")
    partial.replace(copy)
    return copy


def holds_merge(store: ox.Store) -> bool:
    """Whether the default graph of ``store`` holds every triple of its named graphs."""
    from icgraph import sparql

    return not bool(store.query(sparql.load("merge-missing")))


def release_holds_merge(store: ox.Store) -> bool:
    """Whether the default graph of a release's store holds the merge of its named graphs, without `holds_merge`'s scan.

    The release writer (`icgraph.publish.ReleaseWriter.write_data`) loads the merge with the data; a
    release written before it did has an empty default graph. So for a release's store the merge is
    there exactly when the default graph holds anything. `holds_merge` proves it triple by triple:
    at 100x (4.6 million triples) that took over a minute at every reader's first query.
    """
    return next(iter(store.quads_for_pattern(None, None, None, ox.DefaultGraph())), None) is not None


def default_dataset(store) -> dict:
    """The ``query()`` options under which ``store``'s default graph is the merge of its named graphs.

    A store that holds the merge is read as it is (each distinct triple once). Anything else
    (a store made before the merge was written, a `icgraph.backends.RemoteStore`, which
    resolves the option itself) falls back to the union of the graphs.
    """
    if isinstance(store, ox.Store) and holds_merge(store):
        return {}
    return {"use_default_graph_as_union": True}


def bulk_load_with_merge(store: ox.Store, nquads: Path) -> int:
    """Bulk-load an N-Quads file into a store being written (a release), each triple also into the default graph.

    One streamed pass over the file feeds the bulk loader both the quad and its triple in the
    default graph (the merge of the named graphs; the store keeps each distinct triple once), so
    memory does not grow with the file. Cheaper than ``bulk_load`` followed by loading the merge out of the store, which reads
    everything back (0.73 against 1.03 CPU s per 100,000 quads). Blank nodes keep the file's
    labels. Returns how many quads the file held.
    """
    read = 0

    def with_merge(quads):
        nonlocal read
        for quad in quads:
            read += 1
            yield quad
            if not isinstance(quad.graph_name, ox.DefaultGraph):
                yield ox.Quad(quad.subject, quad.predicate, quad.object)

    store.bulk_extend(with_merge(ox.parse(path=str(nquads), format=ox.RdfFormat.N_QUADS)))
    return read


def merge_named_graphs(store: ox.Store, before: ox.Store | None = None) -> None:
    """Make the default graph of ``store`` the merge of its named graphs again (after a write).

    Adds every named graph's triples (a set: each once). With ``before``, a copy of the store
    as it was before the write, also removes from the default graph the triples that a named
    graph stated then and none states now; triples written to the default graph itself stay
    (one that a write both unstated in its last graph and wrote to the default graph is removed).
    """
    from icgraph import sparql

    store.update(sparql.load("merge-named-graphs"))
    if before is None:
        return
    stale = []
    for row in store.query(sparql.load("default-graph-unstated")):
        s, p, o = row["s"], row["p"], row["o"]
        if any(not isinstance(q.graph_name, ox.DefaultGraph) for q in before.quads_for_pattern(s, p, o, None)):
            stale.append(ox.Quad(s, p, o, ox.DefaultGraph()))
    for quad in stale:
        store.remove(quad)


def named_quads(store: ox.Store):
    """The quads of the named graphs (the dataset as stated, without the merge in the default graph)."""
    return (q for q in store.quads_for_pattern(None, None, None, None) if not isinstance(q.graph_name, ox.DefaultGraph))


def open_graph(location, union: bool = True):
    """The release at ``location`` as an rdflib ``Dataset`` backed by Oxigraph (oxrdflib), read-only.

    For Python users who work with rdflib (and pySHACL, which accepts it as a data graph):
    nothing is parsed or copied into memory; each triple pattern is answered by the store.
    ``union``: the default graph is the merge of the named graphs, as SPARQL sees it here (a
    release holds it in its real default graph; rdflib's union would match each graph again).
    """
    from oxrdflib import OxigraphStore
    from rdflib import Dataset

    store = open_store(location)
    return Dataset(store=OxigraphStore(store=store), default_union=union and not holds_merge(store))
