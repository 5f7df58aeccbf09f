"""The practice browser's facets as one index per release: which practice (or participation) has
which value of each facet, and the listing row of each practice.

At 100x (8,300 practices, 4.6 million triples) one SPARQL ``GROUP BY`` per facet and request took
longer than the query time limit. The index is read from the same queries the browser ran per
request (each facet's ``facet-NAME.rq``, unfiltered; ``facet-values.rq`` for the labels and ranks
of the values; ``practices-page.rq`` for the listing), once per release: the release writer
keeps it in ``aggregates.sqlite`` (`icgraph.precompute`), and a server whose release has none
builds it from those queries on first use. A selection's results and every facet's counts are
then set operations on Roaring bitmaps (pyroaring; `FacetIndex.counts`, `FacetIndex.selected`), equal to what
``facet-counts.rq`` counts under the same selection (tests/test_facet_index.py holds them equal).
"""

from __future__ import annotations

import pickle
from array import array
from dataclasses import dataclass, field
from typing import Any

import pyoxigraph as ox
from pyroaring import BitMap

#: The version of the stored form (`FacetIndex.to_bytes`); a release with another is rebuilt live.
INDEX_VERSION = 1
#: The name of the index in the release's aggregates (`icgraph.aggregates.Aggregates.index`).
INDEX_NAME = "facet-index"


def _bitmaps(sets: dict[str, dict[str, Any]]) -> dict[str, dict[str, BitMap]]:
    """facet name -> token -> numbers, as bitmaps (from sets, stored arrays or bitmaps)."""
    return {name: {token: ids if isinstance(ids, BitMap) else BitMap(ids) for token, ids in values.items()}
            for name, values in sets.items()}


def _arrays(bitmaps: dict[str, dict[str, BitMap]]) -> dict[str, dict[str, array]]:
    """The stored form of `_bitmaps`: sorted arrays (a bitmap iterates in order)."""
    return {name: {token: array("I", ids) for token, ids in values.items()} for name, values in bitmaps.items()}


def _text(row, name: str) -> str | None:
    return row[name].value if row[name] is not None else None


@dataclass
class FacetIndex:
    #: The IRIs of the kinds of actor the kind facet offers (actor-kinds.rq).
    kinds: tuple[str, ...]
    #: Practice IRIs; a practice's number in the lists below is its position here.
    practices: list[str]
    #: participation number -> practice number (the participation facets: level, kind, role).
    participation_practice: list[int] | array
    #: facet name -> token -> the practice numbers (participation numbers for a participation facet) with it,
    #: as bitmaps. Stored as sorted arrays (`to_bytes`: at 100x they unpickle in 50-70 ms, sets took 250-290 ms
    #: of the first /practices), made bitmaps on loading (the whole index loads in 175 ms at 1000x). At 1000x a
    #: selection of three facets took 170 ms to count over sets and arrays, 33 ms over bitmaps.
    by_value: dict[str, dict[str, BitMap]]
    #: facet name -> token -> (label, rank or None), from the unfiltered facet-values.rq.
    labels: dict[str, dict[str, tuple[str, int | None]]]
    #: The listing rows of practices-page.rq as the page shows them, in its order, and each one's practice number.
    listing: list[dict]
    listed: list[int]
    #: facet name -> token -> practice numbers, for the participation facets without a selection (derived from
    #: ``by_value``: `build_index` fills it and `to_bytes` keeps it, as sorted arrays; at 100x deriving it took
    #: 30-156 ms of the first /practices).
    _practices_of: dict[str, dict[str, BitMap]] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.by_value = _bitmaps(self.by_value)
        self._practices_of = _bitmaps(self._practices_of)

    # -- reading ---------------------------------------------------------------------------

    def kind_terms(self) -> list[ox.NamedNode]:
        return [ox.NamedNode(k) for k in self.kinds]

    def selected(self, facet, tokens: list[str]) -> BitMap:
        """The practices (participations, for a participation facet) having at least one of ``tokens``."""
        values = self.by_value.get(facet.name, {})
        return BitMap.union(BitMap(), *(values[token] for token in tokens if token in values))

    def practices_of(self, participations) -> BitMap:
        practice = self.participation_practice
        return BitMap(practice[p] for p in participations)

    def counts(self, facet, practices: BitMap | None, participations: BitMap | None) -> dict[str, int]:
        """Practices per token of ``facet`` among ``practices`` (None: all) and, for a participation facet,
        counting only the ``participations`` given (None: all): what facet-counts.rq counts."""
        counts = {}
        for token, ids in self.by_value.get(facet.name, {}).items():
            if facet.per_participation:
                if participations is None:
                    held = self._unfiltered(facet.name, token, ids)
                else:
                    held = self.practices_of(participations & ids)
            else:
                held = ids
            count = len(held) if practices is None else practices.intersection_cardinality(held)
            if count:
                counts[token] = count
        return counts

    def _unfiltered(self, name: str, token: str, ids) -> BitMap:
        cached = self._practices_of.setdefault(name, {})
        if token not in cached:
            cached[token] = self.practices_of(ids)
        return cached[token]

    # -- storing ---------------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        state = {name: getattr(self, name) for name in ("kinds", "practices", "labels", "listing", "listed")}
        state["participation_practice"] = array("I", self.participation_practice)
        state["by_value"] = _arrays(self.by_value)
        state["practices_of"] = _arrays(self._practices_of)
        return pickle.dumps({"version": INDEX_VERSION, **state}, protocol=pickle.HIGHEST_PROTOCOL)

    @classmethod
    def from_bytes(cls, body: bytes) -> FacetIndex | None:
        """The index stored by `to_bytes` (our own release file); None when it is of another version."""
        from icgraph.aggregates import unpickle_index

        state = unpickle_index(body, INDEX_VERSION)
        if state is None:
            return None
        unfiltered = state.pop("practices_of", None) or {}  # an index stored before it was kept: derived on use
        return cls(**state, _practices_of=unfiltered)


async def build_index(pool) -> FacetIndex:
    """The index, from the facet queries run unfiltered on ``pool`` (the release's aggregates answer them when they hold them)."""
    from icgraph.server.facets import FACETS, listing_row

    kinds = tuple(row["kind"].value for row in await pool.prepared("actor-kinds"))
    kind_terms = [ox.NamedNode(k) for k in kinds]
    practice_number: dict[str, int] = {}
    participation_number: dict[str, int] = {}
    participation_practice: list[int] = []

    def practice_id(term) -> int:
        return practice_number.setdefault(term.value, len(practice_number))

    by_value: dict[str, dict[str, set[int]]] = {}
    labels: dict[str, dict[str, tuple[str, int | None]]] = {}
    for facet in FACETS:
        values: dict[str, set[int]] = {}
        for row in await pool.prepared(facet.pairs(kinds=kind_terms)):
            token = facet.token(row["value"])
            if token is None:
                continue
            number = practice_id(row["practice"])
            if facet.per_participation:
                key = row["participation"].value
                if key not in participation_number:
                    participation_number[key] = len(participation_practice)
                    participation_practice.append(number)
                number = participation_number[key]
            values.setdefault(token, set()).add(number)
        by_value[facet.name] = values
        named = {}
        for row in await pool.prepared(facet.count_query(kinds=kind_terms)):
            token = facet.token(row["value"]) if row["value"] is not None else None
            if token is not None:
                named[token] = (_text(row, "label") or token, int(row["rank"].value) if row["rank"] is not None else None)
        labels[facet.name] = named
    listing, listed = [], []
    for row in await pool.prepared("practices-page"):
        listing.append(listing_row(row))
        listed.append(practice_id(row["practice"]))
    practices = sorted(practice_number, key=practice_number.__getitem__)
    index = FacetIndex(kinds, practices, participation_practice, by_value, labels, listing, listed)
    for facet in FACETS:  # the participation facets' practices without a selection, kept with the index
        if facet.per_participation:
            for token, ids in by_value[facet.name].items():
                index._unfiltered(facet.name, token, ids)
    return index


def stored_index(pool) -> FacetIndex | None:
    """The index the release writer kept in the served release's aggregates; None without one."""
    aggregates = pool.aggregates()  # None for a plain or written store
    body = aggregates.index(INDEX_NAME) if aggregates is not None else None
    return FacetIndex.from_bytes(body) if body is not None else None


def index_state(index: FacetIndex) -> dict[str, Any]:
    """The stored state of ``index`` (to compare two indexes)."""
    return pickle.loads(index.to_bytes())
