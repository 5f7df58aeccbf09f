"""The practice browser's facet index (icgraph.server.facet_index): the release keeps it, and what
the browser computes from it equals what the facet queries count under the same selection."""

from __future__ import annotations

from array import array

import pytest
from pyroaring import BitMap

from conftest import pooled_client
from icgraph.server.app import create_app
from icgraph.server.facet_index import FacetIndex, build_index, index_state, stored_index
from icgraph.server.facets import FACETS, FACETS_BY_NAME, PAGE_SIZE, Selection, browse
from icgraph.server.prepared import values as values_block, with_groups

SELECTIONS = [
    {},
    {"country": ["es"]},
    {"country": ["es", "it"]},
    {"level": ["regional"]},
    {"country": ["es"], "level": ["regional"], "role": ["lead"]},
    {"level": ["national"], "role": ["funder"]},
    {"kind": ["NationalAuthority"], "role": ["funder"]},
    {"principle": ["diversity"], "period": ["2015-2019"]},
    {"area": ["education"], "target": ["migrants"]},
]


@pytest.fixture(scope="module")
def client(built):
    with pooled_client(create_app(built), built) as client:
        yield client


@pytest.fixture(scope="module")
def index(client) -> FacetIndex:
    return client.portal.call(build_index, client.app.state.pool)


def test_the_release_keeps_the_index_the_facet_queries_give(client, index, built):
    stored = stored_index(client.app.state.pool)
    assert stored is not None
    assert index_state(stored) == index_state(index)
    # the practices of each participation facet's values, kept with the index, are those its participations give
    participation_facets = [f for f in FACETS if f.per_participation]
    assert participation_facets and set(stored._practices_of) == {f.name for f in participation_facets}
    for facet in participation_facets:
        for token, participations in stored.by_value[facet.name].items():
            assert set(stored._practices_of[facet.name][token]) == set(stored.practices_of(participations)), (facet.name, token)
    assert built.build_result.release.manifest["aggregates"]["indexes"]["facet-index"] > 0
    assert len(index.practices) >= len(index.listing) > 50
    assert {row["kind"].value for row in client.portal.call(client.app.state.pool.prepared, "actor-kinds")} == set(index.kinds)


async def _by_queries(pool, selection: Selection, kinds) -> dict[str, dict[str, int]]:
    """Every facet's counts under ``selection``, by the queries alone (facet-NAME.rq, facet-values.rq)."""
    sets, shared = {}, {}
    for name, tokens in selection.chosen.items():
        facet = FACETS_BY_NAME[name]
        rows = await pool.prepared(facet.pairs(tokens, kinds=kinds))
        if facet.per_participation:
            shared[name] = {row["participation"]: row["practice"] for row in rows}
        else:
            sets[name] = {row["practice"] for row in rows}
    counts = {}
    for facet in FACETS:
        kept = [found for name, found in sets.items() if name != facet.name]
        others = [found for name, found in shared.items() if name != facet.name]
        participations = set.intersection(*[set(found) for found in others]) if others else None
        if participations is not None:
            of_practice = {p: practice for found in shared.values() for p, practice in found.items()}
            kept.append({of_practice[p] for p in participations})
        practices = set.intersection(*kept) if kept else None
        rows = await pool.prepared(facet.count_query(practices, participations, kinds=kinds))
        counts[facet.name] = {facet.token(row["value"]): int(row["count"].value) for row in rows
                              if row["value"] is not None and facet.token(row["value"]) is not None}
    return counts


@pytest.mark.parametrize("chosen", SELECTIONS, ids=lambda c: "&".join(f"{k}={'+'.join(v)}" for k, v in c.items()) or "none")
def test_counts_from_the_index_equal_the_facet_queries(client, index, chosen):
    pool = client.app.state.pool
    selection = Selection(chosen)
    result = browse(selection, index)
    expected = client.portal.call(_by_queries, pool, selection, index.kind_terms())
    for facet in result["facets"]:
        got = {v.token: v.count for v in facet["values"] if v.count}
        assert got == expected[facet["name"]], facet["name"]
        assert all(v.count == 0 for v in facet["values"] if v.token not in expected[facet["name"]])


#: Selections of at most one participation facet: their practices are those of each facet's pairs.
ONE_PARTICIPANT = [SELECTIONS[i] for i in (0, 1, 2, 3, 7, 8)]


@pytest.mark.parametrize("chosen", SELECTIONS, ids=lambda c: "&".join(f"{k}={'+'.join(v)}" for k, v in c.items()) or "none")
def test_the_stored_index_browses_as_the_built_one(client, index, chosen):
    """The release's index keeps its numbers as sorted arrays (they unpickle faster than sets), read back as
    bitmaps: browsing it gives what browsing the index built from the queries gives."""
    stored = stored_index(client.app.state.pool)
    kept = index_state(stored)
    assert all(isinstance(ids, array) for values in kept["by_value"].values() for ids in values.values())
    assert all(list(ids) == sorted(ids) for values in kept["by_value"].values() for ids in values.values())
    assert all(isinstance(ids, BitMap) for values in stored.by_value.values() for ids in values.values())
    selection = Selection.from_params([(k, v) for k, values in chosen.items() for v in values], limit=50)
    assert browse(selection, stored, 1) == browse(selection, index, 1)


@pytest.mark.parametrize("chosen", ONE_PARTICIPANT, ids=str)
def test_the_listed_practices_equal_the_practices_page_query(client, index, chosen):
    pool = client.app.state.pool
    result = browse(Selection(chosen), index)
    matching = None
    for name, tokens in chosen.items():
        rows = client.portal.call(pool.prepared, FACETS_BY_NAME[name].pairs(tokens, kinds=index.kind_terms()))
        found = {row["practice"] for row in rows}
        matching = found if matching is None else matching & found
    query = "practices-page" if matching is None else with_groups("practices-page", values_block("practice", sorted(matching, key=str)))
    rows = client.portal.call(pool.prepared, query)
    assert result["count"] == len(rows)
    assert [p["iri"] for p in result["practices"]] == [row["practice"].value for row in rows][:PAGE_SIZE]


def test_a_long_list_is_paged_with_a_link_to_the_next_page(client, index):
    everything = browse(Selection(), index)
    assert everything["pages"] == -(-everything["count"] // PAGE_SIZE)
    response = client.get("/practices?format=json&page=999")
    assert response.status_code == 200 and response.json()["page"] == everything["pages"]  # past the end: the last page
    assert client.get("/practices?page=two").status_code == 400
    assert Selection({"country": ["es"]}).url(2) == "/practices?country=es&page=2"


def test_the_kind_facet_follows_the_served_release(client, index):
    """The actor kinds come with the release's index, not from a value kept for the process's lifetime."""
    assert not hasattr(FACETS_BY_NAME["kind"], "kinds")
    assert index.kinds and all(k.startswith("https://w3id.org/icgraph/def#") for k in index.kinds)
