"""What each release added, changed or removed, per entity: the /changes page and its Atom feed.

Two consecutive releases (a release's manifest names its ``previous``) are compared entity by
entity: an entity is an IRI of icgraph's ``id/`` namespace with the nodes it owns
(``practice:x#p-1`` belongs to ``practice:x``), and it changed when the set of triples about it
(in every named graph, blank-node objects left aside) differs. Only the releases still kept on
disk can be compared; the comparison of a pair is made once per process.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import pyoxigraph as ox

from icgraph.namespaces import ID
from icgraph.release import Release, list_releases


@dataclass
class ReleaseChanges:
    release: Release
    previous_id: str | None
    compared: bool  #: False when the previous release is no longer kept (or this is the first)
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    @property
    def accepted(self) -> dict | None:
        """The contribution this release was made for (submission, reviewer), if it was."""
        return self.release.manifest.get("accepted")


def _owner(iri: str) -> str:
    return iri.split("#", 1)[0]


@lru_cache(maxsize=16)
def _fingerprints(release_path: str) -> dict[str, str]:
    """Entity IRI -> digest of the sorted triples about it and the nodes it owns."""
    lines: dict[str, list[str]] = {}
    for graph_file in sorted((Path(release_path) / "graphs").glob("*.nt")):
        for triple in ox.parse(path=str(graph_file), format=ox.RdfFormat.N_TRIPLES):
            if not isinstance(triple.subject, ox.NamedNode) or not triple.subject.value.startswith(str(ID)):
                continue
            if isinstance(triple.object, ox.BlankNode):
                continue  # labelled anew by every load; an entity's own nodes are IRIs
            lines.setdefault(_owner(triple.subject.value), []).append(str(triple))
    return {entity: hashlib.sha256("\n".join(sorted(found)).encode()).hexdigest() for entity, found in lines.items()}


@lru_cache(maxsize=16)
def _compare(new_path: str, old_path: str) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    new, old = _fingerprints(new_path), _fingerprints(old_path)
    added = tuple(sorted(set(new) - set(old)))
    removed = tuple(sorted(set(old) - set(new)))
    changed = tuple(sorted(e for e in set(new) & set(old) if new[e] != old[e]))
    return added, changed, removed


def release_changes(location, build_dir: Path) -> list[ReleaseChanges]:
    """Every kept release, newest first, with what it changed since the one before it."""
    kept = list_releases(location, build_dir)
    by_id = {r.id: r for r in kept}
    found = []
    for release in kept:
        previous_id = release.manifest.get("previous")
        previous = by_id.get(previous_id) if previous_id else None
        entry = ReleaseChanges(release, previous_id, compared=previous is not None)
        if previous is not None:
            added, changed, removed = _compare(str(release.path), str(previous.path))
            entry.added, entry.changed, entry.removed = list(added), list(changed), list(removed)
        found.append(entry)
    return found
