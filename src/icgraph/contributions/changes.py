"""What each release added, changed or removed, per entity: the /changes page and its Atom feed.

Two consecutive releases (a release's manifest names its ``previous``) are compared entity by
entity: an entity is an IRI of icgraph's ``id/`` namespace with the nodes it owns
(``practice:x#p-1`` belongs to ``practice:x``), and it changed when the set of triples about it
(in every named graph, blank-node objects left aside) differs. Only the releases still kept on
disk can be compared; the comparison of a pair is made once per process.

An accepted correction (a practice with ``prov:wasRevisionOf`` a published one) is listed as a
change of the practice it corrects, with the corrected version beside it, not as a practice
added: graph:contributions also says ``practice:x dct:isReplacedBy`` the correction, so the
corrected practice's own triples differ too.
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
    #: Corrected practice -> the corrections of it this release added (also in ``changed``).
    corrected: dict[str, list[str]] = field(default_factory=dict)

    @property
    def accepted(self) -> dict | None:
        """The contribution this release was made for (submission, reviewer), if it was."""
        return self.release.manifest.get("accepted")


def _owner(iri: str) -> str:
    return iri.split("#", 1)[0]


_REVISION_OF = "http://www.w3.org/ns/prov#wasRevisionOf"


@lru_cache(maxsize=16)
def _fingerprints(release_path: str) -> tuple[dict[str, str], dict[str, str]]:
    """Entity IRI -> digest of the sorted triples about it and the nodes it owns; and revision -> what it revises."""
    lines: dict[str, list[str]] = {}
    revisions: dict[str, str] = {}
    for graph_file in sorted((Path(release_path) / "graphs").glob("*.nt")):
        for triple in ox.parse(path=str(graph_file), format=ox.RdfFormat.N_TRIPLES):
            if not isinstance(triple.subject, ox.NamedNode) or not triple.subject.value.startswith(str(ID)):
                continue
            if isinstance(triple.object, ox.BlankNode):
                continue  # labelled anew by every load; an entity's own nodes are IRIs
            lines.setdefault(_owner(triple.subject.value), []).append(str(triple))
            if triple.predicate.value == _REVISION_OF and isinstance(triple.object, ox.NamedNode):
                revisions[triple.subject.value] = triple.object.value
    digests = {entity: hashlib.sha256("\n".join(sorted(found)).encode()).hexdigest() for entity, found in lines.items()}
    return digests, revisions


@lru_cache(maxsize=16)
def _compare(new_path: str, old_path: str) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], tuple[tuple[str, str], ...]]:
    (new, revisions), (old, _) = _fingerprints(new_path), _fingerprints(old_path)
    added = set(new) - set(old)
    # A new correction of a practice the previous release has: a change of that practice.
    corrections = {(revision, revisions[revision]) for revision in added if revisions.get(revision) in old}
    added -= {revision for revision, _ in corrections}
    removed = tuple(sorted(set(old) - set(new)))
    changed = {e for e in set(new) & set(old) if new[e] != old[e]} | {original for _, original in corrections}
    return tuple(sorted(added)), tuple(sorted(changed)), removed, tuple(sorted(corrections))


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
            added, changed, removed, corrections = _compare(str(release.path), str(previous.path))
            entry.added, entry.changed, entry.removed = list(added), list(changed), list(removed)
            for revision, original in corrections:
                entry.corrected.setdefault(original, []).append(revision)
        found.append(entry)
    return found
