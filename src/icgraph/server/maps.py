"""The data behind /map: actors in tiers by governance level, and practices placed on a map.

`load_map_data(pool)` reads everything once, with the map-*.rq queries of icgraph/sparql run by
the server's pool (the store of a running server never changes);
`governance_map(data, ...)` and `practice_places(data, ...)` filter it in Python, so the
same filters serve the JSON API, the page and the tests.

The map without filters, as drawn, is computed when the release is made (`map_indexes`, kept in the
release's aggregates.sqlite, table ``indexes``): the drawings' JSON and the page's summary, so the
map's first view reads its answer (`stored_map`) and neither runs a query nor reads the whole data
(at 100x: 59 MB of query rows, 16 s). A filtered map is computed in Python from the map's data, which the release
also keeps (`MAP_DATA`, `data_to_bytes`): its first view reads that instead of running the nine queries (at 100x
they took 10.6 s before a filtered map's first answer).
"""

from __future__ import annotations

import json
import pickle
from collections import defaultdict
from dataclasses import dataclass, field, fields

import pycountry

from icgraph.namespaces import ACTOR, LEVEL, PARTNERSHIP, PLACE, PRACTICE, PRINCIPLE, local_name

#: Nodes per row of a tier before the tier wraps onto another row.
ROW_CAPACITY = 48
#: How many actors, and places, the map page lists in its text (the drawings read every one from the JSON).
MAP_LISTED = 200
#: The side indexes of a release that hold the map without filters (`map_indexes`): the governance map's
#: JSON (/api/map), the practices by place (/api/map/places) and the page's summary with the filters' values.
MAP_GRAPH, MAP_PLACES, MAP_PAGE = "map-graph", "map-places", "map-page"
#: The side index of a release that holds the map without filters as the page draws it (`drawing`: /api/map/drawing).
MAP_DRAWING = "map-drawing"
#: What each node and each edge of a `drawing` holds, in the order of its rows.
NODE_FIELDS = ("id", "label", "level", "countryLabel", "url", "tier", "row", "x", "degree")
EDGE_FIELDS = ("source", "target", "kind", "practices", "partnerships")
#: The side index of a release that holds the map's data (`MapData`, `data_to_bytes`), from which filtered maps are drawn.
MAP_DATA = "map-data"
#: The version of `data_to_bytes`' layout: one stored by another version is not read (the queries run instead).
MAP_DATA_VERSION = 1

def _local(iri: str, namespace) -> str:
    return local_name(iri, namespace) or iri


def _value(row, name: str) -> str | None:
    term = row[name]
    return term.value if term is not None else None


@dataclass
class MapData:
    levels: list[dict] = field(default_factory=list)  # broadest first
    actors: dict[str, dict] = field(default_factory=dict)  # slug -> actor
    edges: list[tuple[str, str, str | None, str | None]] = field(default_factory=list)  # from, to, practice, partnership
    practices: dict[str, dict] = field(default_factory=dict)  # slug -> practice
    partnership_practice: dict[str, str] = field(default_factory=dict)
    members: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))  # network -> member slugs
    networks: dict[str, str] = field(default_factory=dict)  # slug -> label
    principles: dict[str, str] = field(default_factory=dict)  # slug -> label
    places: dict[str, dict] = field(default_factory=dict)  # place slug -> place with its practice slugs
    #: Where each filter's edges are (`EdgeIndex`), made at the first filtered map; not stored, not compared.
    edge_index: EdgeIndex | None = field(default=None, compare=False, repr=False)


class EdgeIndex:
    """The positions in `MapData.edges` of the edges each filter value may keep: by country (of either actor), by
    principle (of the edge's practice) and by actor, each in the edges' order. `governance_map` then looks at the
    shortest list of the filters given instead of every edge (at 100x: 170,800, 0.08 s before any edge is kept)."""

    def __init__(self, data: MapData):
        self.by_country: dict[str, list[int]] = defaultdict(list)
        self.by_principle: dict[str, list[int]] = defaultdict(list)
        self.by_actor: dict[str, list[int]] = defaultdict(list)
        country_of = {slug: actor["country"] for slug, actor in data.actors.items()}
        principle_of: dict[tuple, str | None] = {}  # an edge's principle by (practice, partnership): many edges share one
        for position, (a, b, practice, partnership) in enumerate(data.edges):
            from_country, to_country = country_of[a], country_of[b]
            if from_country:
                self.by_country[from_country].append(position)
            if to_country and to_country != from_country:
                self.by_country[to_country].append(position)
            via = (practice, partnership)
            if via not in principle_of:
                principle_of[via] = _principle_of_edge(data, practice, partnership)
            self.by_principle[principle_of[via]].append(position)
            self.by_actor[a].append(position)

    def candidates(self, country: str | None, principle: str | None, members: set[str] | None) -> list[int] | None:
        """Positions, in order, among which are all the edges kept under these filters; None: every edge."""
        lists = []
        if country:
            lists.append(self.by_country.get(country, []))
        if principle:
            lists.append(self.by_principle.get(principle, []))
        if members is not None:
            lists.append(sorted(position for member in members for position in self.by_actor.get(member, ())))
        return min(lists, key=len) if lists else None


MAP_QUERIES = ("levels", "actors", "edges", "practices", "partnerships", "memberships", "networks", "principles", "places")


async def load_map_data(pool) -> MapData:
    """The map's data, read by the pool (one query per kind of thing: sparql/map-*.rq)."""
    return map_data({name: await pool.prepared(f"map-{name}") for name in MAP_QUERIES})


def map_data(results: dict[str, list[dict]]) -> MapData:
    """MapData from the rows of each map query (``{"levels": rows, ...}``)."""

    def rows(name: str) -> list[dict]:
        return results[name]

    data = MapData()
    for row in rows("levels"):
        data.levels.append(
            {"id": row["notation"].value, "label": _value(row, "label") or row["notation"].value, "rank": int(row["rank"].value)}
        )
    for row in rows("actors"):
        slug = _local(row["actor"].value, ACTOR)
        if "#" in slug or slug in data.actors:
            continue
        country = _value(row, "country")
        data.actors[slug] = {
            "id": slug,
            "label": row["label"].value,
            "level": _local(row["level"].value, LEVEL),
            "country": _local(country, PLACE) if country else None,
            "countryLabel": _value(row, "countryLabel"),
            "url": f"/id/actor/{slug}",
        }
    for row in rows("edges"):
        a, b = _local(row["from"].value, ACTOR), _local(row["to"].value, ACTOR)
        if a in data.actors and b in data.actors and a != b:
            practice = _value(row, "practice")
            partnership = _value(row, "partnership")
            data.edges.append(
                (a, b, _local(practice, PRACTICE) if practice else None, _local(partnership, PARTNERSHIP) if partnership else None)
            )
    for row in rows("practices"):
        slug = _local(row["practice"].value, PRACTICE)
        country = _value(row, "country")
        principle = _value(row, "principle")
        data.practices[slug] = {
            "id": slug,
            "title": row["title"].value,
            "principle": _local(principle, PRINCIPLE) if principle else None,
            "country": _local(country, PLACE) if country else None,
            "countryLabel": _value(row, "countryLabel"),
            "url": f"/id/practice/{slug}",
        }
    for row in rows("partnerships"):
        data.partnership_practice[_local(row["partnership"].value, PARTNERSHIP)] = _local(row["practice"].value, PRACTICE)
    for row in rows("memberships"):
        member, network = _local(row["member"].value, ACTOR), _local(row["network"].value, ACTOR)
        if member in data.actors and network in data.actors:
            data.members[network].add(member)
    for row in rows("networks"):
        slug = _local(row["network"].value, ACTOR)
        if slug in data.actors:
            data.networks[slug] = row["label"].value
    for row in rows("principles"):
        data.principles[_local(row["principle"].value, PRINCIPLE)] = row["label"].value
    for row in rows("places"):
        slug = _local(row["place"].value, PLACE)
        place = data.places.setdefault(
            slug,
            {"id": slug, "label": _value(row, "label") or slug, "lat": float(row["lat"].value),
             "lon": float(row["lon"].value), "practices": []},
        )
        practice = _local(row["practice"].value, PRACTICE)
        if practice not in place["practices"]:
            place["practices"].append(practice)
    return data


def _principle_of_edge(data: MapData, practice: str | None, partnership: str | None) -> str | None:
    if practice is None and partnership is not None:
        practice = data.partnership_practice.get(partnership)
    return data.practices.get(practice, {}).get("principle") if practice else None


def governance_map(data: MapData, country: str | None = None, principle: str | None = None, network: str | None = None) -> dict:
    """Actors (nodes, placed in tiers) and their cooperation (edges), under the given filters.

    country: edges with at least one actor of that country (place slug, e.g. ``es``);
    principle: edges through a practice (or a partnership set up by a practice) under that principle;
    network: the network, its members, their cooperation and their membership edges.
    """
    pairs: dict[tuple[str, str], dict] = {}
    members = data.members.get(network, set()) | {network} if network else None
    edges = data.edges
    if country or principle or members is not None:
        if data.edge_index is None:
            data.edge_index = EdgeIndex(data)
        edges = [data.edges[position] for position in data.edge_index.candidates(country, principle, members)]
    for a, b, practice, partnership in edges:
        if country and country not in (data.actors[a]["country"], data.actors[b]["country"]):
            continue
        if principle and _principle_of_edge(data, practice, partnership) != principle:
            continue
        if members is not None and not (a in members and b in members):
            continue
        key = (a, b) if a < b else (b, a)
        edge = pairs.setdefault(key, {"source": key[0], "target": key[1], "kind": "cooperation", "practices": [], "partnerships": []})
        if practice and practice not in edge["practices"]:
            edge["practices"].append(practice)
        if partnership and partnership not in edge["partnerships"]:
            edge["partnerships"].append(partnership)
    edges = list(pairs.values())
    for edge in edges:
        edge["kind"] = "practice" if edge["practices"] else "partnership"
    if network:
        for member in sorted(data.members.get(network, ())):
            if not country or data.actors[member]["country"] == country:
                edges.append({"source": member, "target": network, "kind": "membership", "practices": [], "partnerships": []})
    used = {e["source"] for e in edges} | {e["target"] for e in edges}
    if network and network in data.actors:
        used.add(network)
    nodes = [dict(data.actors[slug]) for slug in used]
    degree: dict[str, int] = defaultdict(int)
    for edge in edges:
        degree[edge["source"]] += 1
        degree[edge["target"]] += 1
    tiers = []
    ranks = {level["id"]: index for index, level in enumerate(data.levels)}
    for level in data.levels:
        tier = sorted(
            (n for n in nodes if n["level"] == level["id"]),
            key=lambda n: (n["countryLabel"] or "", n["label"].lower()),
        )
        rows = max(1, -(-len(tier) // ROW_CAPACITY))
        for index, node in enumerate(tier):
            row, column = index % rows, index // rows
            columns = -(-len(tier) // rows)
            node["tier"] = ranks[level["id"]]
            node["row"] = row
            node["x"] = round((column + 0.5) / columns, 4)
            node["degree"] = degree[node["id"]]
        tiers.append({**level, "rows": rows, "count": len(tier)})
    nodes.sort(key=lambda n: (n["tier"], n["x"], n["row"]))
    return {
        "filters": {"country": country, "principle": principle, "network": network},
        #: What the numbers count: the nodes are the actors linked to another (under the filters),
        #: out of every actor named (the home page's count).
        "counts": {"linked_actors": len(nodes), "actors": len(data.actors), "links": len(edges)},
        "tiers": tiers,
        "nodes": nodes,
        "edges": edges,
    }


def filter_options(data: MapData) -> dict:
    """The values the map's filters offer: countries with actors, principles, networks with members."""
    countries = {a["country"]: a["countryLabel"] or a["country"] for a in data.actors.values() if a["country"]}
    return {
        "countries": sorted(({"id": k, "label": v} for k, v in countries.items()), key=lambda c: c["label"]),
        "principles": [{"id": k, "label": v} for k, v in sorted(data.principles.items(), key=lambda kv: kv[1])],
        "networks": sorted(
            ({"id": k, "label": v, "members": len(data.members.get(k, ()))} for k, v in data.networks.items() if data.members.get(k)),
            key=lambda n: n["label"].lower(),
        ),
    }


def iso_numeric(country_slug: str) -> str | None:
    """The ISO 3166-1 numeric code (the ids of world-atlas) of a place slug such as ``es``."""
    record = pycountry.countries.get(alpha_2=country_slug.upper())
    return record.numeric if record else None


def practice_places(data: MapData, country: str | None = None, principle: str | None = None) -> dict:
    """Practices per country (for shading) and per city or region (points), under the given filters."""

    def keep(slug: str) -> bool:
        practice = data.practices[slug]
        return (not country or practice["country"] == country) and (not principle or practice["principle"] == principle)

    chosen = [slug for slug in data.practices if keep(slug)]
    per_country: dict[str, dict] = {}
    for slug in chosen:
        practice = data.practices[slug]
        if practice["country"]:
            entry = per_country.setdefault(
                practice["country"],
                {"id": practice["country"], "label": practice["countryLabel"] or practice["country"],
                 "numeric": iso_numeric(practice["country"]), "count": 0, "url": f"/practices?country={practice['country']}"},
            )
            entry["count"] += 1
    places = []
    for place in data.places.values():
        practices = [data.practices[p] for p in place["practices"] if p in data.practices and keep(p)]
        if practices:
            places.append(
                {**{k: place[k] for k in ("id", "label", "lat", "lon")},
                 "practices": [{"id": p["id"], "title": p["title"], "url": p["url"]} for p in practices]}
            )
    places.sort(key=lambda p: p["label"])
    return {
        "filters": {"country": country, "principle": principle},
        "practices": len(chosen),
        "countries": sorted(per_country.values(), key=lambda c: c["label"]),
        "places": places,
    }


def allowed_filters(data: MapData) -> dict[str, list[str]]:
    """The values each filter of the map accepts (any other value is ignored: the map is drawn without it)."""
    options = filter_options(data)
    return {
        "country": sorted({c["id"] for c in options["countries"]} | {p["country"] for p in data.practices.values() if p["country"]}),
        "principle": sorted(p["id"] for p in options["principles"]),
        "network": sorted(n["id"] for n in options["networks"]),
    }


def page_summary(graph: dict, places: dict, listed: int = MAP_LISTED) -> dict:
    """What the map page shows in its text: the counts, the first ``listed`` actors and places (the drawings
    fetch the whole JSON)."""
    return {
        "graph": {"filters": graph["filters"], "counts": graph["counts"], "nodes": graph["nodes"][:listed]},
        "places": {"filters": places["filters"], "practices": places["practices"], "count": len(places["places"]),
                   "places": places["places"][:listed]},
    }


def json_body(value) -> bytes:
    """``value`` as the JSON of a response (written as Starlette's JSONResponse writes it)."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")).encode("utf-8")


def map_indexes(data: MapData) -> dict[str, bytes]:
    """The map as the release keeps it: without filters as drawn (`MAP_GRAPH`, `MAP_PLACES`, `MAP_PAGE`), and its
    data (`MAP_DATA`), from which a filtered map is drawn."""
    graph, places = governance_map(data), practice_places(data)
    page = {**page_summary(graph, places), "options": filter_options(data), "allowed": allowed_filters(data)}
    return {MAP_GRAPH: json_body(graph), MAP_PLACES: json_body(places), MAP_PAGE: json_body(page),
            MAP_DRAWING: json_body(drawing(graph)), MAP_DATA: data_to_bytes(data)}


def drawing(graph: dict) -> dict:
    """A `governance_map` as the page draws it: the same filters, counts, tiers, nodes and edges, each node and edge a row
    of `NODE_FIELDS` / `EDGE_FIELDS`, an edge's ends given by their nodes' positions in ``nodes`` and its practices and
    partnerships by their number (their ids stay in /api/map). At 100x /api/map is 31.5 MB, mostly field names
    and the ids of the practices behind each of 125,500 links, which the drawing does not show."""
    position = {node["id"]: index for index, node in enumerate(graph["nodes"])}
    return {
        "filters": graph["filters"], "counts": graph["counts"], "tiers": graph["tiers"],
        "nodes": {"fields": list(NODE_FIELDS), "rows": [[node[name] for name in NODE_FIELDS] for node in graph["nodes"]]},
        "edges": {"fields": list(EDGE_FIELDS),
                  "rows": [[position[e["source"]], position[e["target"]], e["kind"], len(e["practices"]), len(e["partnerships"])]
                           for e in graph["edges"]]},
    }


def data_to_bytes(data: MapData) -> bytes:
    """``data`` as the release keeps it (`MAP_DATA`): plain containers, pickled (the release's own file, as its answers)."""
    state = {f.name: getattr(data, f.name) for f in fields(MapData) if f.compare}
    state["members"] = {network: sorted(members) for network, members in sorted(data.members.items())}
    return pickle.dumps({"version": MAP_DATA_VERSION, **state}, protocol=pickle.HIGHEST_PROTOCOL)


def data_from_bytes(body: bytes) -> MapData | None:
    """The `MapData` stored by `data_to_bytes`; None when it is of another version."""
    from icgraph.aggregates import unpickle_index

    state = unpickle_index(body, MAP_DATA_VERSION)
    if state is None:
        return None
    members = defaultdict(set, {network: set(slugs) for network, slugs in state.pop("members").items()})
    return MapData(**state, members=members)


def stored_map_data(pool) -> MapData | None:
    """The map's data as the served release keeps it (`MAP_DATA`); None without it (the map's queries run instead)."""
    body = stored_map(pool, MAP_DATA)
    return data_from_bytes(body) if body is not None else None


def stored_map(pool, name: str) -> bytes | None:
    """One of the `map_indexes` the release writer kept in the served release; None without it."""
    aggregates = pool.aggregates()  # None for a plain or written store
    return aggregates.index(name) if aggregates is not None else None
