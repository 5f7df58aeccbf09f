"""The competency-query library as every system can run it: one text, defaults inlined.

Library queries take their parameters as Oxigraph ``substitutions``; a peer endpoint only
takes text, so the defaults go in as a ``VALUES`` block at the start of the outermost
``WHERE`` (the same join the substitution makes). `library_count` runs the library's own
way (substitutions) on the floor store, and `python -m bench` refuses to time a system
whose answer has a different number of rows.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pyoxigraph as ox

from icgraph.queries import LibraryQuery, load_library
from icgraph.server.query_api import query_form
from icgraph.store import default_dataset

ACCEPT = {
    "SELECT": "application/sparql-results+json",
    "ASK": "application/sparql-results+json",
    "CONSTRUCT": "text/turtle",
    "DESCRIBE": "text/turtle",
}
_WHERE = re.compile(r"\bWHERE\s*\{", re.IGNORECASE)


@dataclass(frozen=True)
class BenchQuery:
    name: str
    text: str  # runnable as is: defaults inlined
    form: str
    library: LibraryQuery

    @property
    def accept(self) -> str:
        return ACCEPT[self.form]


def inline_defaults(query: LibraryQuery) -> str:
    bindings = query.bindings({})
    if not bindings:
        return query.text
    lines = query.text.splitlines(keepends=True)
    # Find WHERE outside comment lines.
    offset = 0
    for line in lines:
        if not line.lstrip().startswith("#"):
            match = _WHERE.search(line)
            if match:
                variables = " ".join(str(v) for v in bindings)
                values = " ".join(str(t) for t in bindings.values())
                at = offset + match.end()
                return query.text[:at] + f"\n  VALUES ({variables}) {{ ({values}) }}" + query.text[at:]
        offset += len(line)
    raise ValueError(f"{query.path}: no WHERE {{ to bind the defaults in")


def bench_queries(folder: Path, names: list[str] | None = None) -> list[BenchQuery]:
    library = load_library(folder)
    unknown = set(names or []) - set(library)
    if unknown:
        raise SystemExit(f"no such queries in {folder}: {', '.join(sorted(unknown))}")
    chosen = [library[n] for n in names] if names else list(library.values())
    return [BenchQuery(q.name, inline_defaults(q), query_form(q), q) for q in chosen]


#: `default_dataset` of each store measured, asked once: it runs a query over the whole store
#: (does the default graph hold the merge?) that the floor must not pay on every request.
_DATASETS: dict[int, tuple[ox.Store, dict]] = {}


def dataset_of(store: ox.Store) -> dict:
    if id(store) not in _DATASETS:
        _DATASETS[id(store)] = (store, default_dataset(store))  # the store is held, so its id is not reused
    return _DATASETS[id(store)][1]


def run_in_process(store: ox.Store, query: BenchQuery) -> bytes:
    """Evaluate and serialise, as an endpoint must: the floor of what any endpoint can do."""
    results = store.query(query.text, **dataset_of(store))
    if query.form in ("SELECT", "ASK"):
        return results.serialize(format=ox.QueryResultsFormat.JSON)
    return results.serialize(format=ox.RdfFormat.TURTLE)


def count(body: bytes, form: str) -> int:
    """Rows of a SPARQL JSON result, or triples of a Turtle graph."""
    if form == "ASK":
        return 1
    if form == "SELECT":
        return len(json.loads(body)["results"]["bindings"])
    return sum(1 for _ in ox.parse(body, format=ox.RdfFormat.TURTLE))


def library_count(store: ox.Store, query: BenchQuery) -> int:
    """Rows the library itself gives (parameters as substitutions)."""
    results = store.query(
        query.library.text, **dataset_of(store), substitutions=query.library.bindings({}) or None
    )
    if query.form == "ASK":
        return 1
    return sum(1 for _ in results)
