"""Releases: what one build publishes, complete and immutable, and which one is served.

For a store location ``PATH`` (``--store`` / ``ICGRAPH_STORE``; a remote store keeps its
releases under the build directory instead, see `releases_root`)::

    PATH                          symbolic link -> PATH.releases/<id>   (the current release)
    PATH.releases/<id>/           one release, never changed once listed:
        manifest.json             id, date, input hashes, triples per graph, SHACL counts, stage timings
        store/                    the Oxigraph store
        dumps/                    icgraph.trig, .nq, .nq.gz (the hand-off to other stores), .ttl, .jsonld
        graphs/<name>.nt          each named graph on its own (the /graph/{name} documents)
        report/shacl.ttl, .json   the SHACL report of the gate
        void.ttl                  VoID + DCAT, with the counts
        service-description.ttl   the SPARQL service description, with the counts
        search.sqlite             the full-text index
        aggregates.sqlite         answers computed once per release (icgraph.aggregates)
    PATH.releases/.partial-<id>-<pid>/   a release being written: never listed, never served
    PATH.releases/.leases/<pid>   the release a running server has open (pruning keeps it)

A build writes everything into a partial folder, renames it to ``<id>`` (one rename), then
moves the ``PATH`` link to it (one rename): a build killed at any moment leaves the previous
release served and intact, and the next build removes what the killed one left.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Iterable

#: How many releases to keep (the current one included); a release a server has open is never removed.
KEEP_RELEASES = 3
MANIFEST = "manifest.json"
PARTIAL_PREFIX = ".partial-"
LEASES = ".leases"
#: Builds before releases kept their stores in PATH.builds/; the first release build removes it.
LEGACY_BUILDS_SUFFIX = ".builds"

#: The dumps of a release: file name -> (format key of `icgraph.server.negotiation`, media type, description).
DUMPS = {
    "icgraph.trig": ("trig", "application/trig", "TriG: every named graph, with its name"),
    "icgraph.nq": ("nq", "application/n-quads", "N-Quads: every named graph, one quad per line"),
    "icgraph.nq.gz": ("nq", "application/n-quads", "N-Quads, gzipped: the file to load into another triple store"),
    "icgraph.ttl": ("ttl", "text/turtle", "Turtle: the union of the graphs (what SPARQL queries see)"),
    "icgraph.jsonld": ("jsonld", "application/ld+json", "JSON-LD: the union of the graphs"),
}


class ReleaseError(RuntimeError):
    """A release cannot be found, published or rolled back; the message says what to do."""


@dataclass(frozen=True)
class Release:
    """One published release folder."""

    path: Path

    @property
    def id(self) -> str:
        return self.path.name

    @cached_property
    def manifest(self) -> dict[str, Any]:
        return json.loads((self.path / MANIFEST).read_text(encoding="utf-8"))

    @property
    def store(self) -> Path:
        return self.path / "store"

    @property
    def dumps(self) -> Path:
        return self.path / "dumps"

    def dump(self, name: str) -> Path:
        return self.dumps / name

    def graph_file(self, graph_iri: str) -> Path:
        return self.path / "graphs" / (graph_slug(graph_iri) + ".nt")

    @property
    def report_ttl(self) -> Path:
        return self.path / "report" / "shacl.ttl"

    @property
    def report_json(self) -> Path:
        return self.path / "report" / "shacl.json"

    @property
    def void(self) -> Path:
        return self.path / "void.ttl"

    @property
    def service_description(self) -> Path:
        return self.path / "service-description.ttl"

    @property
    def search_index(self) -> Path:
        return self.path / "search.sqlite"

    @property
    def aggregates(self) -> Path:
        return self.path / "aggregates.sqlite"

    @property
    def created(self) -> str:
        return self.manifest.get("created", "")


def graph_slug(graph_iri: str) -> str:
    return graph_iri.rstrip("/").rsplit("/", 1)[-1]


# --------------------------------------------------------------------------- where releases live


def current_link(location, build_dir: Path) -> Path:
    """The symbolic link that names the current release of a store location."""
    if _is_remote(location):
        return Path(build_dir).absolute() / "current"
    return Path(location).absolute()


def _is_remote(location) -> bool:
    """A remote store location (`icgraph.backends.RemoteEndpoint`, or its ``sparql+http`` text)."""
    if isinstance(location, Path):
        return False
    return not isinstance(location, str) or location.startswith(("sparql+http://", "sparql+https://"))


def releases_root(location, build_dir: Path) -> Path:
    link = current_link(location, build_dir)
    return link.with_name(link.name + ".releases")


def is_release(path: Path) -> bool:
    return (Path(path) / MANIFEST).is_file()


def current_release(location, build_dir: Path) -> Release | None:
    """The release the location's link points to, or None (no build yet, or a plain store folder)."""
    link = current_link(location, build_dir)
    if not link.is_symlink():
        return None
    target = link.resolve()
    return Release(target) if is_release(target) else None


def store_path(location) -> Path:
    """The Oxigraph folder behind an embedded location: the current release's store, or the folder itself."""
    location = Path(location)
    if is_release(location):
        return location.resolve() / "store"
    return location


def release_of_dump(dump: Path) -> Release | None:
    """The release a dump file belongs to (``<release>/dumps/icgraph.nq``), or None for any other file."""
    folder = Path(dump).resolve().parent.parent
    return Release(folder) if Path(dump).resolve().parent.name == "dumps" and is_release(folder) else None


def list_releases(location, build_dir: Path) -> list[Release]:
    """Every complete release of a location, newest first (partial folders are never listed)."""
    root = releases_root(location, build_dir)
    if not root.is_dir():
        return []
    found = [Release(p) for p in root.iterdir() if p.is_dir() and not p.name.startswith(".") and is_release(p)]
    return sorted(found, key=lambda r: r.id, reverse=True)


# --------------------------------------------------------------------------- writing a release


def new_release_id(inputs_digest: str) -> str:
    now = dt.datetime.now(dt.timezone.utc)
    return f"{now.strftime('%Y%m%dT%H%M%S')}{now.microsecond // 1000:03d}Z-{inputs_digest[:8]}"


def partial_folder(location, build_dir: Path, release_id: str) -> Path:
    """A fresh folder to write a release into (unlisted until `finish`)."""
    root = releases_root(location, build_dir)
    root.mkdir(parents=True, exist_ok=True)
    folder = root / f"{PARTIAL_PREFIX}{release_id}-{os.getpid()}"
    folder.mkdir()
    return folder


def finish(partial: Path, manifest: dict[str, Any]) -> Release:
    """Write the manifest last, then rename the partial folder to its release id: it is listed from now on."""
    manifest_file = partial / MANIFEST
    temporary = partial / (MANIFEST + ".tmp")
    temporary.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    _fsync(temporary)
    temporary.replace(manifest_file)
    final = partial.parent / manifest["id"]
    partial.replace(final)
    _fsync(final.parent)
    return Release(final)


def activate(location, build_dir: Path, release: Release) -> None:
    """Make ``release`` the current one: one rename of a symbolic link, atomic on POSIX."""
    link = current_link(location, build_dir)
    if link.exists() and not link.is_symlink():
        raise ReleaseError(
            f"{link} is a store folder that is not a release link; move it away or choose another --store"
        )
    link.parent.mkdir(parents=True, exist_ok=True)
    temporary = link.with_name(f".{link.name}.link-{os.getpid()}")
    if temporary.is_symlink() or temporary.exists():
        temporary.unlink()
    temporary.symlink_to(release.path)
    os.replace(temporary, link)
    _fsync(link.parent)


def rollback(location, build_dir: Path, to: str | None = None) -> Release:
    """Serve an earlier release again: ``to`` (an id), or the one before the current one."""
    releases = list_releases(location, build_dir)
    current = current_release(location, build_dir)
    if to is not None:
        chosen = next((r for r in releases if r.id == to), None)
        if chosen is None:
            known = ", ".join(r.id for r in releases) or "none"
            raise ReleaseError(f"no release {to!r}; the releases kept are: {known} (`icgraph releases`)")
    else:
        older = [r for r in releases if current is None or r.id < current.id]
        if not older:
            raise ReleaseError("there is no release older than the current one to roll back to (`icgraph releases`)")
        chosen = older[0]
    activate(location, build_dir, chosen)
    return chosen


# --------------------------------------------------------------------------- housekeeping


def hold(location, build_dir: Path, release: Release | None) -> Path | None:
    """Record that this process serves ``release`` (pruning keeps it while the process lives)."""
    if release is None:
        return None
    leases = releases_root(location, build_dir) / LEASES
    leases.mkdir(parents=True, exist_ok=True)
    lease = leases / str(os.getpid())
    temporary = lease.with_suffix(".tmp")
    temporary.write_text(release.id, encoding="utf-8")
    temporary.replace(lease)
    return lease


def let_go(lease: Path | None) -> None:
    if lease is not None:
        lease.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def held(location, build_dir: Path) -> set[str]:
    """Ids of releases that running servers have open (leases of dead processes are removed)."""
    leases = releases_root(location, build_dir) / LEASES
    ids = set()
    if not leases.is_dir():
        return ids
    for lease in leases.iterdir():
        if not lease.name.isdigit():
            continue
        if _alive(int(lease.name)):
            try:
                ids.add(lease.read_text(encoding="utf-8").strip())
            except FileNotFoundError:
                pass
        else:
            lease.unlink(missing_ok=True)
    return ids


def clean_partials(location, build_dir: Path) -> list[Path]:
    """Remove folders of builds that died before finishing (their process is gone)."""
    root = releases_root(location, build_dir)
    removed = []
    if not root.is_dir():
        return removed
    for folder in root.iterdir():
        if not folder.name.startswith(PARTIAL_PREFIX):
            continue
        pid = folder.name.rsplit("-", 1)[-1]
        if pid.isdigit() and _alive(int(pid)) and int(pid) != os.getpid():
            continue  # another build is writing it now
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    link = current_link(location, build_dir)
    for stale_link in link.parent.glob(f".{link.name}.link-*"):
        pid = stale_link.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not _alive(int(pid)):
            stale_link.unlink(missing_ok=True)
    legacy = link.with_name(link.name + LEGACY_BUILDS_SUFFIX)
    if legacy.is_dir() and not (link.is_symlink() and legacy in link.resolve().parents):
        shutil.rmtree(legacy, ignore_errors=True)
        removed.append(legacy)
    return removed


def prune(location, build_dir: Path, keep: int = KEEP_RELEASES) -> list[Release]:
    """Remove releases beyond the newest ``keep``, never the current one nor one a server has open."""
    current = current_release(location, build_dir)
    protected = held(location, build_dir) | ({current.id} if current else set())
    removed = []
    for index, release in enumerate(list_releases(location, build_dir)):
        if index < keep or release.id in protected:
            continue
        shutil.rmtree(release.path, ignore_errors=True)
        removed.append(release)
    return removed


# --------------------------------------------------------------------------- inputs


def digest_files(paths: Iterable[Path], root: Path) -> dict[str, str]:
    """SHA-256 of each input file, by its path relative to the project."""
    hashes = {}
    for path in sorted(paths):
        hashes[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return hashes


def combined_digest(hashes: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(hashes, sort_keys=True).encode()).hexdigest()


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fsync(path: Path) -> None:
    """Flush a file or a folder entry to disk, so a crash after a rename cannot undo it."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
