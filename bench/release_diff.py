"""Compare two releases file by file: does a change to the build change what it publishes?

``python -m bench.release_diff OLD NEW`` (two release folders, or two store links such as
``PATH`` of ``ICGRAPH_STORE``) prints one line per file, ``same`` or what differs, and exits 1
if anything differs. What a build may change from one run to the next is left out first: the
release id, the moments in it (the build's ``prov:endedAtTime``, the VoID's ``dct:modified``,
the manifest's ``created``), the seconds things took (report, aggregates, manifest timings) and
the checksums and sizes of dumps (the dumps are compared themselves), and the shadow tables
of a full-text index (its rows are compared).

Files are compared byte for byte once so normalised. Those that may differ in bytes only
(blank node labels in the SHACL report, rows in another order) are then compared as what they
mean: RDF as graphs (isomorphic), SQLite tables as sets of rows. The line says which held.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sqlite3
import sys
from pathlib import Path

_RELEASE_ID = re.compile(rb"\d{8}T\d{9}Z-[0-9a-f]{8}")
_MOMENT = re.compile(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)?")
_RDF_FORMATS = {".nq": "nquads", ".nt": "nt", ".ttl": "turtle", ".trig": "trig", ".jsonld": "json-ld"}
#: Columns that hold seconds or checksums of timed content: left out of the row comparison.
_TIMED_COLUMNS = {"seconds"}


#: The dumps' sizes in the VoID: the Turtle, TriG and gzip dumps' sizes change with the order of the triples
#: in them, which is not fixed from one build to the next (the dumps themselves are compared).
_BYTE_SIZE = re.compile(rb'(dcat:byteSize|#byteSize>) "\d+"')


def normalised(data: bytes) -> bytes:
    """``data`` with every release id, moment and dump size replaced by one fixed value of the same form."""
    data = _MOMENT.sub(b"2000-01-01T00:00:00Z", _RELEASE_ID.sub(b"20000101T000000000Z-00000000", data))
    return _BYTE_SIZE.sub(rb'\1 "0"', data)


def _untimed(value):
    """A JSON value without the seconds things took."""
    if isinstance(value, dict):
        # "dumps": their sizes and checksums change with the order of the triples in them (compared themselves)
        return {k: _untimed(v) for k, v in value.items()
                if k not in ("seconds", "timings", "dumps", "created", "id", "previous")}
    if isinstance(value, list):
        return [_untimed(v) for v in value]
    return value


_OX_FORMATS = {".nq": "N_QUADS", ".nt": "N_TRIPLES", ".ttl": "TURTLE", ".trig": "TRIG", ".jsonld": "JSON_LD"}


def _quads(data: bytes, suffix: str) -> tuple[set[str], list]:
    """The quads of ``data``: those without blank nodes as N-Quads lines, and those with them."""
    import pyoxigraph as ox

    ground, blank = set(), []
    for quad in ox.parse(data, getattr(ox.RdfFormat, _OX_FORMATS[suffix])):
        if any(isinstance(term, ox.BlankNode) for term in (quad.subject, quad.object)):
            blank.append(quad)
        else:
            ground.add(str(quad))
    return ground, blank


def _same_rdf(old: bytes, new: bytes, suffix: str) -> str:
    """Whether two RDF documents hold the same quads: the ground ones as sets, those with blank nodes
    as isomorphic graphs (per named graph)."""
    import pyoxigraph as ox
    from rdflib import Dataset
    from rdflib.compare import isomorphic

    (ground_a, blank_a), (ground_b, blank_b) = _quads(old, suffix), _quads(new, suffix)
    if ground_a != ground_b:
        return f"DIFFERENT quads: {len(ground_a - ground_b)} only in old, {len(ground_b - ground_a)} only in new"
    if len(blank_a) != len(blank_b):
        return f"DIFFERENT quads with blank nodes: {len(blank_a)} old, {len(blank_b)} new"

    def dataset(quads) -> Dataset:
        dataset = Dataset()
        dataset.parse(data=ox.serialize(quads, format=ox.RdfFormat.N_QUADS).decode("utf-8"), format="nquads")
        return dataset

    a, b = dataset(blank_a), dataset(blank_b)
    names = {g.identifier for g in a.graphs()} | {g.identifier for g in b.graphs()}
    differing = [str(n) for n in sorted(names) if not isomorphic(a.graph(n), b.graph(n))]
    if differing:
        return f"DIFFERENT quads with blank nodes in {', '.join(differing)}"
    return f"same quads ({len(ground_a) + len(blank_a)}, {len(blank_a)} with blank nodes)"


def compare_file(old: Path, new: Path) -> tuple[bool, str]:
    """(same, what was found) for one file present in both releases."""
    name = old.name
    if name.endswith(".sqlite"):
        return _compare_sqlite(old, new)
    read = (lambda p: gzip.decompress(p.read_bytes())) if name.endswith(".gz") else (lambda p: p.read_bytes())
    a, b = read(old), read(new)
    if name.endswith(".json"):
        a_json, b_json = _untimed(json.loads(a)), _untimed(json.loads(b))
        return (a_json == b_json, "same" if a_json == b_json else "DIFFERENT (as JSON, seconds left out)")
    if normalised(a) == normalised(b):
        return True, "same bytes" if a == b else "same bytes but for the release id and moments"
    suffix = Path(name.removesuffix(".gz")).suffix
    if suffix in _RDF_FORMATS:
        found = _same_rdf(normalised(a), normalised(b), suffix)
        return not found.startswith("DIFFERENT"), f"bytes differ; {found}"
    return False, "DIFFERENT bytes"


def _rows(path: Path) -> dict[str, list[tuple]]:
    database = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        listed = list(database.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table' ORDER BY name"))
        virtual = [name for name, sql in listed if sql.upper().startswith("CREATE VIRTUAL TABLE")]
        # An FTS table's shadow tables hold its index in segments whose bytes depend on the order of the
        # rows' words; the table itself is compared.
        tables = [name for name, _ in listed if not any(name.startswith(v + "_") for v in virtual)]
        rows = {}
        for table in tables:
            columns = [row[1] for row in database.execute(f'PRAGMA table_info("{table}")')]
            kept = [c for c in columns if c not in _TIMED_COLUMNS]
            selected = ", ".join(f'"{c}"' for c in kept) or "*"
            rows[table] = list(database.execute(f'SELECT {selected} FROM "{table}"'))
        return rows
    finally:
        database.close()


def _as_sets(row: tuple) -> str:
    """A row with each text read as a set of its " · "-separated parts (the search index's GROUP_CONCATs,
    whose order the store does not fix from one build to the next)."""
    return repr(tuple(tuple(sorted(cell.split(" · "))) if isinstance(cell, str) else cell for cell in row))


def _compare_sqlite(old: Path, new: Path) -> tuple[bool, str]:
    a, b = _rows(old), _rows(new)
    if a.keys() != b.keys():
        return False, f"DIFFERENT tables: {sorted(a.keys() ^ b.keys())}"
    unordered, as_sets = [], []
    for table in a:
        if a[table] == b[table]:
            continue
        if sorted(map(repr, a[table])) == sorted(map(repr, b[table])):
            unordered.append(table)
        elif sorted(map(_as_sets, a[table])) == sorted(map(_as_sets, b[table])):
            as_sets.append(table)
        else:
            return False, f"DIFFERENT rows in {table}: {len(a[table])} old, {len(b[table])} new"
    notes = ([f"rows in another order in {', '.join(unordered)}"] if unordered else []) + (
        [f"' · ' lists in another order in {', '.join(as_sets)}"] if as_sets else [])
    return True, "same rows" + (f" ({'; '.join(notes)})" if notes else "")


def _release(path: Path) -> Path:
    path = Path(path)
    return path.resolve() if path.is_symlink() else path


def compare(old: Path, new: Path) -> list[tuple[str, bool, str]]:
    old, new = _release(old), _release(new)
    names = {p.relative_to(old) for p in old.rglob("*") if p.is_file() and "store" not in p.relative_to(old).parts}
    names |= {p.relative_to(new) for p in new.rglob("*") if p.is_file() and "store" not in p.relative_to(new).parts}
    lines = []
    for name in sorted(names):
        if not (old / name).exists() or not (new / name).exists():
            lines.append((str(name), False, "only in " + ("new" if (new / name).exists() else "old")))
            continue
        same, found = compare_file(old / name, new / name)
        lines.append((str(name), same, found))
    lines.append(("store/", *_compare_stores(old / "store", new / "store")))
    return lines


def _compare_stores(old: Path, new: Path) -> tuple[bool, str]:
    """Every quad of both stores (the named graphs and the default graph that holds their merge)."""
    import pyoxigraph as ox

    def dump(path: Path) -> bytes:
        return normalised(ox.Store.read_only(str(path)).dump(format=ox.RdfFormat.N_QUADS))

    found = _same_rdf(dump(old), dump(new), ".nq")
    return not found.startswith("DIFFERENT"), found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.release_diff", description=__doc__.splitlines()[0])
    parser.add_argument("old", type=Path)
    parser.add_argument("new", type=Path)
    args = parser.parse_args(argv)
    lines = compare(args.old, args.new)
    width = max(len(name) for name, _, _ in lines)
    for name, same, found in lines:
        sys.stdout.write(f"{name:<{width}}  {found}\n")
    differing = [name for name, same, _ in lines if not same]
    sys.stdout.write(f"{len(lines) - len(differing)} of {len(lines)} the same" + (f"; differ: {', '.join(differing)}\n" if differing else "\n"))
    return 1 if differing else 0


if __name__ == "__main__":
    sys.exit(main())
