"""The embedded Oxigraph store: open the one behind a location, and the writable copy a server keeps.

A location ``PATH`` is either a release link (`icgraph.release`: the store is
``PATH/store`` of the current release, read-only) or a plain Oxigraph folder (a store made
by hand or by the tests, served as it is).

Updates (``icgraph serve --update-token-file``) never write into a release: on a release
location the server's writer works on ``PATH.writable``, a copy of the release's store made
once (hard links, `Store.backup`) that remembers which release it started from. A build
refuses to publish while that copy exists (its updates would be hidden), and a server refuses
to start on it once another release has become current.
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


def open_graph(location, union: bool = True):
    """The release at ``location`` as an rdflib ``Dataset`` backed by Oxigraph (oxrdflib), read-only.

    For Python users who work with rdflib (and pySHACL, which accepts it as a data graph):
    nothing is parsed or copied into memory; each triple pattern is answered by the store.
    ``union``: the default graph is the union of the named graphs, as SPARQL sees it here.
    """
    from oxrdflib import OxigraphStore
    from rdflib import Dataset

    return Dataset(store=OxigraphStore(store=open_store(location)), default_union=union)
