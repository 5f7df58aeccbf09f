"""The embedded Oxigraph store: open it, and publish a new build into it atomically.

A store path is a symbolic link to one complete build (``PATH.builds/<build id>``).
``publish`` loads a new build beside the current one and then swaps the link in
one ``rename``, so a reader never sees a half-loaded store and a failed build
leaves the previous one in place.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pyoxigraph as ox

#: How many complete builds to keep beside the current one (for a server still reading an older one).
KEEP_PREVIOUS_BUILDS = 1


class StoreError(RuntimeError):
    """The store cannot be opened or written; the message says what to do."""


def open_store(path: Path, read_only: bool = True) -> ox.Store:
    """Open the store at ``path`` (read-only by default, so several processes can share it).

    A ``sparql+http://`` location (`icgraph.backends.RemoteEndpoint`) gives a `icgraph.backends.RemoteStore`,
    which answers the same calls.
    """
    from icgraph import backends

    if backends.is_remote(path):
        return backends.open_store(path)
    path = Path(path)
    if not path.exists():
        raise StoreError(f"no store at {path}; run `icgraph build` first, or pass --store / set ICGRAPH_STORE")
    try:
        return ox.Store.read_only(str(path)) if read_only else ox.Store(str(path))
    except OSError as error:
        raise StoreError(f"cannot open the store at {path}: {error}") from error


def publish(nquads: Path, path: Path) -> Path:
    """Bulk-load an N-Quads file into a new build directory and make ``path`` point at it.

    Returns the directory of the new build. If anything fails before the swap, the new
    directory is removed and ``path`` still serves the previous build.
    """
    build_dir = stage(nquads, path)
    activate(path, build_dir)
    return build_dir


def stage(nquads: Path, path: Path) -> Path:
    """The first half of `publish`: load the build into a new directory beside the store at ``path``.

    Nothing serves it until `activate` (or `discard` removes it). Returns its directory.
    """
    path = Path(path).absolute()
    builds = path.parent / (path.name + ".builds")
    builds.mkdir(parents=True, exist_ok=True)
    build_dir = builds / time.strftime("%Y%m%dT%H%M%S")
    suffix = 0
    while build_dir.exists():
        suffix += 1
        build_dir = builds / f"{time.strftime('%Y%m%dT%H%M%S')}-{suffix}"
    try:
        store = ox.Store(str(build_dir))
        store.bulk_load(path=str(nquads), format=ox.RdfFormat.N_QUADS)
        store.flush()
        store.optimize()
        del store
    except BaseException:
        discard(build_dir)
        raise
    return build_dir


def activate(path: Path, build_dir: Path) -> None:
    """The second half of `publish`: make ``path`` serve the staged ``build_dir``, in one rename."""
    path = Path(path).absolute()
    _swap_link(path, build_dir)
    _prune(build_dir.parent, keep={build_dir})


def discard(build_dir: Path) -> None:
    """Remove a staged build that will not be served."""
    shutil.rmtree(build_dir, ignore_errors=True)


def _swap_link(path: Path, target: Path) -> None:
    if path.exists() and not path.is_symlink():
        raise StoreError(
            f"{path} is a store directory that icgraph did not create; move it away or choose another --store"
        )
    temporary = path.parent / f".{path.name}.link-{os.getpid()}"
    if temporary.is_symlink():
        temporary.unlink()
    temporary.symlink_to(target)
    os.replace(temporary, path)  # atomic on POSIX


def _prune(builds: Path, keep: set[Path]) -> None:
    older = sorted((d for d in builds.iterdir() if d.is_dir() and d not in keep), reverse=True)
    for stale in older[KEEP_PREVIOUS_BUILDS:]:
        shutil.rmtree(stale, ignore_errors=True)
