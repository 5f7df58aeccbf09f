"""Governance-mapping analyses: SPARQL results as pandas tables, the actor cooperation network, summary metrics.

Everything here reads the built store (``icgraph build``) through SPARQL, so every number can be
checked with a query at the endpoint. The tables are ``pandas.DataFrame`` objects with real dtypes
(see :func:`run_query`); the network is a ``networkx.Graph`` (see :func:`cooperation_network`).
docs/analysis.md explains each metric and how to read it.

Needs the ``analysis`` extra: ``pip install -e '.[analysis]'``.
"""

from __future__ import annotations

import re
import tempfile
from collections import defaultdict
from itertools import combinations
from pathlib import Path

import networkx as nx
import pandas as pd
import pyoxigraph as ox

from icgraph.config import Settings
from icgraph.namespaces import PREFIXES, XSD
from icgraph.queries import LibraryQuery, load_library, parse_query_file
from icgraph import sparql
from icgraph.backends import open_store
from icgraph.store import default_dataset

__all__ = [
    "run_query",
    "cooperation_network",
    "network_for_export",
    "network_tables",
    "level_pairs",
    "level_pair_matrix",
    "multilevel_share",
    "actor_centrality",
    "bridging_networks",
    "practices_by_principle_and_country",
    "practice_timeline",
    "figure_practices_by_principle_and_country",
    "figure_level_pair_matrix",
    "figure_actor_network",
    "figure_practice_timeline",
    "write_figures",
    "LEVELS",
    "LEVEL_COLOURS",
    "FIGURES",
]

#: Governance levels from the most local to the widest (the order of ``icg:rank`` in
#: ontology/vocabularies/levels.ttl). Used only to order rows and columns; the values come from the store.
LEVELS = ("local", "regional", "national", "european", "international")

# --------------------------------------------------------------------------------------------
# Running queries
# --------------------------------------------------------------------------------------------

_INTEGER_TYPES = {
    str(XSD) + name
    for name in (
        "integer", "int", "long", "short", "byte", "nonNegativeInteger", "positiveInteger",
        "nonPositiveInteger", "negativeInteger", "unsignedInt", "unsignedLong", "unsignedShort", "unsignedByte",
    )
}
_FLOAT_TYPES = {str(XSD) + name for name in ("decimal", "double", "float")}
_BOOLEAN = str(XSD) + "boolean"
_YEAR = str(XSD) + "gYear"
_DATETIME = str(XSD) + "dateTime"
_DATE_TYPES = {str(XSD) + name for name in ("date", "dateTime", "dateTimeStamp")}
_DECLARED_PREFIX = re.compile(r"^\s*PREFIX\s+([A-Za-z][\w.-]*)?:", re.IGNORECASE | re.MULTILINE)


def _store(store: ox.Store | None, settings: Settings | None) -> ox.Store:
    if store is not None:
        return store
    return open_store((settings or Settings()).store)


def _with_prefixes(text: str) -> str:
    """Prepend the project's PREFIXES that the query does not declare itself (so ``icg:`` etc. just work)."""
    declared = set(_DECLARED_PREFIX.findall(text))
    prologue = "".join(f"PREFIX {p}: <{iri}>\n" for p, iri in PREFIXES.items() if p not in declared)
    return prologue + text


def _resolve_query(name_or_text: str, settings: Settings) -> LibraryQuery:
    """A library query by name, a ``.rq`` file by path, or ad-hoc SPARQL text (with an optional grlc header)."""
    candidate = name_or_text.strip()
    if re.fullmatch(r"[\w.-]+", candidate):
        library = load_library(settings.queries_dir)
        if candidate in library:
            return library[candidate]
        path = Path(candidate)
        if path.suffix == ".rq" and path.exists():
            return parse_query_file(path)
        raise KeyError(
            f"no query named {candidate!r} in {settings.queries_dir}; `icgraph queries` lists them "
            "(or pass SPARQL text)"
        )
    if candidate.endswith(".rq") and "\n" not in candidate and Path(candidate).exists():
        return parse_query_file(Path(candidate))
    # Ad-hoc text: parse it like a library file, so ?_name parameters and #+ defaults work the same way.
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "adhoc.rq"
        path.write_text(name_or_text, encoding="utf-8")
        return parse_query_file(path)


def _column(terms: list) -> pd.Series:
    """One result column with the dtype its RDF terms call for (see run_query)."""
    datatypes = {t.datatype.value for t in terms if isinstance(t, ox.Literal)}
    others = any(t is not None and not isinstance(t, ox.Literal) for t in terms)
    if not others and datatypes:
        if datatypes <= _INTEGER_TYPES:
            return pd.array([None if t is None else int(t.value) for t in terms], dtype="Int64")
        if datatypes <= _INTEGER_TYPES | _FLOAT_TYPES:
            return pd.array([None if t is None else float(t.value) for t in terms], dtype="Float64").astype(float)
        if datatypes == {_BOOLEAN}:
            return pd.array([None if t is None else t.value in ("true", "1") for t in terms], dtype="boolean")
        if datatypes == {_YEAR}:
            return pd.array([None if t is None else _year(t.value) for t in terms], dtype="Int64")
        if datatypes <= _DATE_TYPES:
            return pd.to_datetime(pd.Series([None if t is None else t.value for t in terms], dtype="object"), utc=_DATETIME in datatypes, format="ISO8601")
    values = [None if t is None else (f"_:{t.value}" if isinstance(t, ox.BlankNode) else t.value) for t in terms]
    return pd.array(values, dtype="string")


def _year(lexical: str) -> int:
    """The year of an ``xsd:gYear`` lexical form ("2022", "2022Z", "2022+01:00", "-0044")."""
    match = re.match(r"-?\d{4,}", lexical)
    if not match:
        raise ValueError(f"not an xsd:gYear: {lexical!r}")
    return int(match.group(0))


def run_query(name_or_text: str, store: ox.Store | None = None, settings: Settings | None = None, **params) -> pd.DataFrame:
    """Run a query of the library (by name, e.g. ``"practice-actors"``) or SPARQL text; return a DataFrame.

    ``params`` are the query's parameters (``country="place:es"``), bound as RDF terms exactly as
    ``icgraph query --param`` does. The prefixes of ``icgraph.namespaces.PREFIXES`` are available to
    ad-hoc text without declaring them. The default graph is the merge of the named graphs.

    Columns follow the SELECT projection, with dtypes from the RDF terms of each column:

    ========================================  =====================================================
    values of the column                      dtype
    ========================================  =====================================================
    xsd:integer (and its derived types)       ``Int64``
    xsd:decimal / xsd:double / xsd:float      ``float64`` (mixed integers and decimals too)
    xsd:boolean                               ``boolean``
    xsd:gYear                                 ``Int64`` (the year)
    xsd:date / xsd:dateTime                   ``datetime64`` (UTC when a dateTime is present)
    IRIs, blank nodes (``_:id``), strings,    ``string`` (IRIs in full, e.g.
    language-tagged labels, mixed columns     ``https://w3id.org/icgraph/id/actor/...``)
    ========================================  =====================================================

    An unbound value is ``<NA>`` (``NaN`` / ``NaT`` in float and datetime columns). An ASK query gives one
    row with the boolean column ``ask``; CONSTRUCT/DESCRIBE give ``subject``, ``predicate``, ``object``.
    Raises KeyError for an unknown query name and ``icgraph.queries.QueryParameterError`` for a bad parameter.
    """
    settings = settings or Settings()
    query = _resolve_query(name_or_text, settings)
    bindings = query.bindings({k: str(v) for k, v in params.items()})
    db = _store(store, settings)
    results = db.query(_with_prefixes(query.text), **default_dataset(db), substitutions=bindings or None)
    if isinstance(results, ox.QueryBoolean):
        return pd.DataFrame({"ask": pd.array([bool(results)], dtype="boolean")})
    if isinstance(results, ox.QueryTriples):
        triples = list(results)
        return pd.DataFrame(
            {name: _column([getattr(t, name) for t in triples]) for name in ("subject", "predicate", "object")}
        )
    names = [v.value for v in results.variables]
    rows = [[solution[name] for name in names] for solution in results]
    return pd.DataFrame({name: _column([row[i] for row in rows]) for i, name in enumerate(names)}, columns=names)


# --------------------------------------------------------------------------------------------
# The cooperation network
# --------------------------------------------------------------------------------------------

#: One row per tie of a named organisation (icg:Actor) to a practice (through a participation, one row
#: per role) or to a partnership (as icg:partner), with the actor's label, kind, level and country.
#: Actor groups ("local authorities") are left out: they are mentions, not organisations, and are never
#: merged across practices. The kind is the most specific icg:Actor subclass the actor belongs to.
ACTOR_TIES_QUERY = sparql.read("analysis-actor-ties")  # src/icgraph/sparql/analysis-actor-ties.rq


def _first(values: pd.Series):
    present = values.dropna()
    return sorted(present)[0] if len(present) else pd.NA


def cooperation_network(
    store: ox.Store | None = None, settings: Settings | None = None, *, partnerships: bool = True
) -> nx.Graph:
    """The actor cooperation network, built from one SPARQL query (``ACTOR_TIES_QUERY``).

    Nodes are the named organisations (``icg:Actor``) with a participation in a practice or, when
    ``partnerships`` is true, a place in a partnership. Node id: the actor IRI. Node attributes:

    - ``label`` (English ``skos:prefLabel``), ``kind`` (most specific class, e.g. ``"LocalAuthority"``),
      ``level`` (``"local"`` ... ``"international"``), ``level_rank`` (1..5), ``country`` (ISO code;
      ``""`` for organisations without a country), ``practices`` (number of practices it takes part in).

    An edge joins two actors that take part in the same practice or are partners in the same partnership.
    Edge attributes:

    - ``practices`` / ``partnerships``: lists of the IRIs they share;
    - ``weight``: number of shared practices plus shared partnerships (``practice_count`` and
      ``partnership_count`` separately);
    - ``from_actor`` / ``to_actor``: the more local end first (lower level rank, then IRI order), as in the
      inferred ``icg:CooperationEdge``; ``from_level`` / ``to_level``; ``level_pair`` (``"local–national"``);
      ``crosses_levels``: true when the two ends work at different levels (vertical cooperation);
    - ``roles``: the distinct role pairs in the shared practices, ``"fromRole/toRole"`` (e.g. ``"lead/partner"``).

    Lists are joined with spaces by :func:`network_for_export` for GraphML / GEXF / CSV.
    """
    ties = run_query(ACTOR_TIES_QUERY, store, settings)
    if not partnerships:
        ties = ties[ties["tie"] == "practice"]
    graph = nx.Graph(name="icgraph actor cooperation network")
    actors = ties.groupby("actor", sort=True)
    for actor, rows in actors:
        rank = rows["levelRank"].dropna()
        graph.add_node(
            actor,
            label=str(_first(rows["label"])) if rows["label"].notna().any() else actor,
            kind=str(_first(rows["kind"])) if rows["kind"].notna().any() else "",
            level=str(_first(rows["level"])) if rows["level"].notna().any() else "",
            level_rank=int(rank.iloc[0]) if len(rank) else 0,
            country=str(_first(rows["country"])) if rows["country"].notna().any() else "",
            practices=int(rows.loc[rows["tie"] == "practice", "via"].nunique()),
        )
    roles: dict[tuple[str, str], dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for (via, tie), rows in ties.groupby(["via", "tie"], sort=True):
        by_actor = rows.groupby("actor")["role"].agg(lambda r: sorted(set(r.dropna())))
        for a, b in combinations(sorted(by_actor.index), 2):
            first, second = sorted((a, b), key=lambda n: (graph.nodes[n]["level_rank"] or 99, n))
            if not graph.has_edge(first, second):
                graph.add_edge(first, second, practices=[], partnerships=[], from_actor=first, to_actor=second)
            edge = graph.edges[first, second]
            edge["practices" if tie == "practice" else "partnerships"].append(via)
            if tie == "practice":
                for role_a in by_actor[first] or ["?"]:
                    for role_b in by_actor[second] or ["?"]:
                        roles[(first, second)]["pairs"].add(f"{role_a}/{role_b}")
    for u, v, edge in graph.edges(data=True):
        first, second = edge["from_actor"], edge["to_actor"]
        edge["practice_count"] = len(edge["practices"])
        edge["partnership_count"] = len(edge["partnerships"])
        edge["weight"] = edge["practice_count"] + edge["partnership_count"]
        edge["from_level"] = graph.nodes[first]["level"]
        edge["to_level"] = graph.nodes[second]["level"]
        edge["level_pair"] = f"{edge['from_level'] or '?'}–{edge['to_level'] or '?'}"
        edge["crosses_levels"] = bool(edge["from_level"] and edge["to_level"] and edge["from_level"] != edge["to_level"])
        edge["roles"] = sorted(roles[(first, second)]["pairs"])
    return graph


def network_for_export(graph: nx.Graph) -> nx.Graph:
    """A copy of the network whose attributes GraphML / GEXF / CSV can hold: lists joined with single spaces."""
    flat = nx.Graph(name=graph.graph.get("name", ""))
    for node, data in graph.nodes(data=True):
        flat.add_node(node, **{k: (" ".join(v) if isinstance(v, list) else v) for k, v in data.items()})
    for u, v, data in graph.edges(data=True):
        flat.add_edge(u, v, **{k: (" ".join(x) if isinstance(x, list) else x) for k, x in data.items()})
    return flat


def network_tables(graph: nx.Graph) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The network as two tables, nodes (column ``id`` first) and edges (``source``, ``target`` first)."""
    flat = network_for_export(graph)
    nodes = pd.DataFrame([{"id": n, **d} for n, d in flat.nodes(data=True)])
    edges = pd.DataFrame([{"source": d["from_actor"], "target": d["to_actor"], **d} for _, _, d in flat.edges(data=True)])
    return nodes, edges


# --------------------------------------------------------------------------------------------
# Which levels work together
# --------------------------------------------------------------------------------------------

#: Level pairs of the inferred cooperation edges (graph:inferred, ontology/rules/41 and 51): agents of
#: both kinds, named organisations and actor groups, since a practice that names "local authorities"
#: and a ministry is local–national cooperation even if no municipality is named.
LEVEL_PAIRS_QUERY = sparql.read("analysis-level-pairs")  # src/icgraph/sparql/analysis-level-pairs.rq


def level_pairs(store: ox.Store | None = None, settings: Settings | None = None) -> pd.DataFrame:
    """Which levels cooperate, as a long table: one row per (from_level, to_level), the more local first.

    Columns: ``from_level``, ``to_level``, ``crosses_levels``, ``practices`` (practices in which agents at
    the two levels take part together), ``partnerships``, ``agent_pairs`` (distinct pairs of agents),
    ``edges`` (inferred ``icg:CooperationEdge`` resources). Counts come from graph:inferred and include
    actor groups as well as named organisations.
    """
    table = run_query(LEVEL_PAIRS_QUERY, store, settings)
    table = table.rename(
        columns={"fromLevel": "from_level", "toLevel": "to_level", "agentPairs": "agent_pairs"}
    ).drop(columns=["fromRank", "toRank"])
    table.insert(2, "crosses_levels", pd.array(table["from_level"] != table["to_level"], dtype="boolean"))
    return table.reset_index(drop=True)


def level_pair_matrix(
    store: ox.Store | None = None, settings: Settings | None = None, *, measure: str = "practices"
) -> pd.DataFrame:
    """Which levels work together, how often: a symmetric level × level matrix (local ... international).

    ``measure`` is a count column of :func:`level_pairs`: ``"practices"`` (default: in how many practices
    agents at the two levels take part together), ``"partnerships"``, ``"agent_pairs"`` or ``"edges"``.
    The diagonal is same-level (horizontal) cooperation; off the diagonal, vertical cooperation, each
    pair shown twice (so do not sum the whole matrix). Levels with no cooperation show zeros.
    """
    pairs = level_pairs(store, settings)
    if measure not in ("practices", "partnerships", "agent_pairs", "edges"):
        raise ValueError(f"measure must be practices, partnerships, agent_pairs or edges, not {measure!r}")
    levels = list(LEVELS) + sorted((set(pairs["from_level"]) | set(pairs["to_level"])) - set(LEVELS))
    matrix = pd.DataFrame(0, index=pd.Index(levels, name="level"), columns=pd.Index(levels, name="level"), dtype="int64")
    for row in pairs.itertuples(index=False):
        value = int(getattr(row, measure))
        matrix.loc[row.from_level, row.to_level] = value
        matrix.loc[row.to_level, row.from_level] = value
    return matrix


# --------------------------------------------------------------------------------------------
# Summary metrics
# --------------------------------------------------------------------------------------------

#: One row per practice: principle, country (or transnational), whether it is multilevel, how many
#: levels its participants span and whether the curation names any participant.
PRACTICE_LEVELS_QUERY = sparql.read("analysis-practice-levels")  # src/icgraph/sparql/analysis-practice-levels.rq


def _practice_levels(store, settings) -> pd.DataFrame:
    table = run_query(PRACTICE_LEVELS_QUERY, store, settings)
    # One row per practice even if a label has several spellings.
    return table.drop_duplicates("practice").reset_index(drop=True)


def multilevel_share(by: str = "principle", store: ox.Store | None = None, settings: Settings | None = None) -> pd.DataFrame:
    """Share of multilevel practices (``icg:MultilevelPractice``: participants at 2+ levels) per group.

    ``by`` is ``"principle"`` (compendium section) or ``"country"`` (ISO code; ``transnational`` for the
    AER entries). Columns: ``label``, ``practices``, ``with_participants`` (practices whose curation names
    at least one participant), ``multilevel``, ``share`` (multilevel / practices) and
    ``share_of_curated`` (multilevel / with_participants). The last row, ``all``, covers every practice.
    """
    if by not in ("principle", "country"):
        raise ValueError(f"by must be 'principle' or 'country', not {by!r}")
    table = _practice_levels(store, settings)
    label = "principleLabel" if by == "principle" else "countryLabel"
    grouped = table.groupby(by, sort=False).agg(
        label=(label, "first"),
        practices=("practice", "count"),
        with_participants=("participants", "sum"),
        multilevel=("multilevel", "sum"),
    )
    total = pd.DataFrame(
        {"label": ["all"], "practices": [len(table)], "with_participants": [int(table["participants"].sum())],
         "multilevel": [int(table["multilevel"].sum())]},
        index=pd.Index(["all"], name=by),
    )
    result = pd.concat([grouped, total])
    result = result.astype({"label": "string", "practices": "Int64", "with_participants": "Int64", "multilevel": "Int64"})
    result["share"] = (result["multilevel"] / result["practices"]).astype(float)
    result["share_of_curated"] = (result["multilevel"] / result["with_participants"].replace(0, pd.NA)).astype(float)
    return result


def actor_centrality(graph: nx.Graph | None = None, top: int | None = 10, *, store=None, settings=None) -> pd.DataFrame:
    """Degree and betweenness centrality of the actors of the cooperation network, highest betweenness first.

    Columns: ``actor`` (IRI), ``label``, ``kind``, ``level``, ``country``, ``degree`` (number of actors it
    cooperates with), ``degree_centrality`` (degree / (n - 1)), ``betweenness`` (normalised betweenness
    centrality, unweighted: the share of shortest paths between other actors that run through it, i.e.
    how much it brokers between otherwise unconnected actors), ``practices``. ``top=None`` gives all actors.
    """
    graph = graph if graph is not None else cooperation_network(store, settings)
    degree = nx.degree_centrality(graph) if len(graph) > 1 else {n: 0.0 for n in graph}
    betweenness = nx.betweenness_centrality(graph, normalized=True)
    table = pd.DataFrame(
        [
            {
                "actor": n, "label": d["label"], "kind": d["kind"], "level": d["level"], "country": d["country"] or pd.NA,
                "degree": graph.degree(n), "degree_centrality": degree[n], "betweenness": betweenness[n],
                "practices": d["practices"],
            }
            for n, d in graph.nodes(data=True)
        ],
        columns=["actor", "label", "kind", "level", "country", "degree", "degree_centrality", "betweenness", "practices"],
    )
    table = table.astype({"actor": "string", "label": "string", "kind": "string", "level": "string", "country": "string",
                          "degree": "Int64", "practices": "Int64", "degree_centrality": float, "betweenness": float})
    table = table.sort_values(["betweenness", "degree", "actor"], ascending=[False, False, True]).reset_index(drop=True)
    return table if top is None else table.head(top)


#: Networks (icg:Network) with the governance levels of the organisations tied to them: their members
#: (org:Membership) and their co-partners in partnerships.
NETWORK_REACH_QUERY = sparql.read("analysis-network-reach")  # src/icgraph/sparql/analysis-network-reach.rq


def bridging_networks(store: ox.Store | None = None, settings: Settings | None = None, *, min_levels: int = 2) -> pd.DataFrame:
    """Networks whose members and partners span several governance levels (``min_levels`` or more).

    A network bridges levels when the organisations tied to it (``org:Membership`` members and co-partners
    in an ``icg:Partnership``) work at different levels: it is a channel between, say, cities and ministries.
    Columns: ``network`` (IRI), ``label``, ``network_level``, ``members``, ``partners``, ``level_count``,
    ``levels`` (space-separated, local first), and one count column per level. Sorted by level_count, then size.
    """
    reach = run_query(NETWORK_REACH_QUERY, store, settings)
    rows = []
    for network, group in reach.groupby("network", sort=True):
        levels = [level for level in LEVELS if level in set(group["otherLevel"])] + sorted(
            set(group["otherLevel"]) - set(LEVELS)
        )
        by_level = group.drop_duplicates(["other", "otherLevel"]).groupby("otherLevel")["other"].nunique()
        rows.append(
            {
                "network": network,
                "label": _first(group["label"]),
                "network_level": _first(group["networkLevel"]),
                "members": group.loc[group["tie"] == "member", "other"].nunique(),
                "partners": group.loc[group["tie"] == "partner", "other"].nunique(),
                "level_count": len(levels),
                "levels": " ".join(levels),
                **{level: int(by_level.get(level, 0)) for level in LEVELS},
            }
        )
    columns = ["network", "label", "network_level", "members", "partners", "level_count", "levels", *LEVELS]
    table = pd.DataFrame(rows, columns=columns)
    table = table.astype({c: "Int64" for c in ("members", "partners", "level_count", *LEVELS)})
    table = table.astype({c: "string" for c in ("network", "label", "network_level", "levels")})
    table = table[table["level_count"] >= min_levels]
    return table.sort_values(["level_count", "members", "partners", "network"], ascending=[False, False, False, True]).reset_index(drop=True)


def practices_by_principle_and_country(store: ox.Store | None = None, settings: Settings | None = None) -> pd.DataFrame:
    """Number of practices per country (rows, most practices first) and principle (columns, compendium order)."""
    table = _practice_levels(store, settings)
    counts = pd.crosstab(table["country"], table["principleLabel"])
    order = table.drop_duplicates("principleLabel").sort_values("principleRank")["principleLabel"].tolist()
    counts = counts.reindex(columns=[p for p in order if p in counts.columns])
    counts = counts.loc[counts.sum(axis=1).sort_values(ascending=False, kind="stable").index]
    counts.index.name, counts.columns.name = "country", "principle"
    return counts.astype("int64")


#: Start, end and ongoing status of each practice as the compendium prints them.
TIMELINE_QUERY = sparql.read("analysis-timeline")  # src/icgraph/sparql/analysis-timeline.rq


def practice_timeline(store: ox.Store | None = None, settings: Settings | None = None) -> pd.DataFrame:
    """Start year, end year (``Int64``, NA when not printed) and ``ongoing`` (boolean, false when not stated)."""
    table = run_query(TIMELINE_QUERY, store, settings).drop_duplicates("practice").reset_index(drop=True)
    table["ongoing"] = table["ongoing"].astype("boolean").fillna(False)
    return table


# --------------------------------------------------------------------------------------------
# Figures (matplotlib's object API on the Agg canvas: no pyplot, no display, no global state)
# --------------------------------------------------------------------------------------------

#: One colour per governance level (colour-blind-safe Okabe–Ito palette), used by every figure.
LEVEL_COLOURS = {
    "local": "#009E73",
    "regional": "#56B4E9",
    "national": "#0072B2",
    "european": "#E69F00",
    "international": "#D55E00",
}
_OTHER_COLOUR = "#999999"
_PRINCIPLE_COLOURS = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#F0E442", "#999999"]

#: The figures ``icgraph figures`` writes, by file stem.
FIGURES = ("practices-by-principle-and-country", "level-pair-matrix", "actor-network", "practice-timeline")


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def figure_practices_by_principle_and_country(store=None, settings=None):
    """Stacked bars: practices per country (most first), one colour per principle (compendium section)."""
    counts = practices_by_principle_and_country(store, settings)
    fig = _figure(9, 4.8)
    ax = fig.add_subplot()
    bottom = pd.Series(0, index=counts.index)
    for i, principle in enumerate(counts.columns):
        label = principle if len(principle) <= 48 else principle[:47] + "…"
        ax.bar(counts.index, counts[principle], bottom=bottom, label=label,
               color=_PRINCIPLE_COLOURS[i % len(_PRINCIPLE_COLOURS)], edgecolor="white", linewidth=0.5)
        bottom += counts[principle]
    ax.set_ylabel("practices")
    ax.set_xlabel("country (ISO 3166-1; transnational = AER entries)")
    ax.set_title(f"{int(counts.to_numpy().sum())} practices of CDADI(2024)39 by country and principle")
    ax.tick_params(axis="x", labelrotation=60, labelsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(title="principle", fontsize=7, title_fontsize=8, frameon=False)
    return fig


def figure_level_pair_matrix(store=None, settings=None, *, measure: str = "practices"):
    """Heatmap of the level × level matrix (lower triangle: each pair once), with the counts written in."""
    matrix = level_pair_matrix(store, settings, measure=measure)
    values = matrix.to_numpy().astype(float)
    n = len(matrix)
    for i in range(n):
        for j in range(i + 1, n):
            values[i, j] = float("nan")
    fig = _figure(6, 5)
    ax = fig.add_subplot()
    image = ax.imshow(values, cmap="Blues", vmin=0)
    top = max(float(pd.Series(values.ravel()).max(skipna=True) or 0), 1.0)
    for i in range(n):
        for j in range(i + 1):
            value = int(matrix.iat[i, j])
            ax.text(j, i, str(value), ha="center", va="center", fontsize=10,
                    color="white" if value > top * 0.6 else "black")
    ax.set_xticks(range(n), matrix.columns, rotation=30, ha="right")
    ax.set_yticks(range(n), matrix.index)
    ax.set_title(f"Which levels work together: {measure.replace('_', ' ')} with agents at both levels", fontsize=10)
    ax.spines[:].set_visible(False)
    fig.colorbar(image, ax=ax, shrink=0.8, label=measure.replace("_", " "))
    return fig


def _packed_layout(graph: nx.Graph, seed: int) -> dict:
    """Spring layout per connected component: the largest on the left, the others in a grid on the right.

    One spring layout of the whole graph pushes the small components to the rim and crushes the
    large one in the middle; laying them out separately keeps both readable.
    """
    components = sorted((sorted(c) for c in nx.connected_components(graph)), key=lambda c: (-len(c), c[0]))
    positions: dict = {}
    if not components:
        return positions
    giant = graph.subgraph(components[0])
    positions.update(nx.spring_layout(giant, seed=seed, k=1.8 / max(len(giant), 1) ** 0.5, iterations=200,
                                      scale=1.0, center=(0.0, 0.0)))
    rest = components[1:]
    columns = max(1, int(len(rest) ** 0.5 + 0.999))
    cell = 2.0 / max(1, (len(rest) + columns - 1) // columns)
    for index, component in enumerate(rest):
        row, column = divmod(index, columns)
        centre = (1.35 + cell * (column + 0.5) * 0.8, 1.0 - cell * (row + 0.5))
        radius = cell * 0.38 * min(1.0, (len(component) / 8) ** 0.5)
        if len(component) == 1:
            positions[component[0]] = centre
        else:
            positions.update(nx.spring_layout(graph.subgraph(component), seed=seed, scale=radius, center=centre))
    return positions


def figure_actor_network(graph: nx.Graph | None = None, store=None, settings=None, *, seed: int = 42, labels: int = 8):
    """The actor cooperation network, nodes coloured by level, sized by degree; the top brokers labelled.

    The layout is networkx's spring layout with a fixed ``seed``, so the picture is the same on every run.
    """
    from matplotlib.lines import Line2D

    graph = graph if graph is not None else cooperation_network(store, settings)
    positions = _packed_layout(graph, seed)
    fig = _figure(10, 7.5)
    ax = fig.add_subplot()
    ax.set_axis_off()
    for crosses, colour, width in ((False, "#BBBBBB", 0.4), (True, "#888888", 0.5)):
        edges = [(u, v) for u, v, d in graph.edges(data=True) if d["crosses_levels"] is crosses]
        nx.draw_networkx_edges(graph, positions, edgelist=edges, ax=ax, edge_color=colour, width=width, alpha=0.6)
    nodes = list(graph.nodes)
    nx.draw_networkx_nodes(
        graph, positions, nodelist=nodes, ax=ax, linewidths=0.3, edgecolors="white",
        node_color=[LEVEL_COLOURS.get(graph.nodes[n]["level"], _OTHER_COLOUR) for n in nodes],
        node_size=[12 + 4 * graph.degree(n) for n in nodes],
    )
    brokers = actor_centrality(graph, top=labels)
    nx.draw_networkx_labels(
        graph, positions, ax=ax, font_size=7,
        labels={row.actor: (row.label if len(row.label) <= 40 else row.label[:39] + "…") for row in brokers.itertuples()},
        bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.7, "pad": 0.5},
    )
    handles = [Line2D([], [], marker="o", linestyle="", color=c, label=level) for level, c in LEVEL_COLOURS.items()]
    ax.legend(handles=handles, title="governance level", loc="lower left", fontsize=8, frameon=False)
    vertical = sum(1 for *_, d in graph.edges(data=True) if d["crosses_levels"])
    ax.set_title(
        f"Actor cooperation network: {graph.number_of_nodes()} organisations, {graph.number_of_edges()} ties "
        f"({vertical} across levels); labels: top {labels} by betweenness",
        fontsize=10,
    )
    return fig


def figure_practice_timeline(store=None, settings=None):
    """Each practice with a printed start year as a bar to its end year; ongoing ones run off to the right."""
    table = practice_timeline(store, settings)
    dated = table[table["start"].notna()].copy()
    dated["sort_end"] = dated["end"].fillna(dated["start"])
    dated = dated.sort_values(["start", "sort_end", "title"]).reset_index(drop=True)
    printed = [int(v) for v in pd.concat([table["start"], table["end"]]).dropna()]
    open_end = (max(printed) if printed else 2024) + 1
    fig = _figure(9, max(3.0, 1.2 + 0.11 * len(dated)))
    ax = fig.add_subplot()
    kinds = {"ended / ends": "#0072B2", "ongoing": "#009E73", "end not printed": "#E69F00"}
    for y, row in dated.iterrows():
        start = int(row["start"])
        if pd.notna(row["end"]):
            ax.plot([start, int(row["end"]) + 0.9], [y, y], color=kinds["ended / ends"], linewidth=2.5, solid_capstyle="butt")
        elif row["ongoing"]:
            ax.plot([start, open_end], [y, y], color=kinds["ongoing"], linewidth=2.5, solid_capstyle="butt")
            ax.plot([open_end], [y], marker=">", color=kinds["ongoing"], markersize=4)
        else:
            ax.plot([start + 0.45], [y], marker="o", color=kinds["end not printed"], markersize=3.5)
    ax.set_yticks(range(len(dated)), [t if len(t) <= 60 else t[:59] + "…" for t in dated["title"]], fontsize=5.5)
    ax.invert_yaxis()
    ax.set_xlabel("year")
    ax.grid(axis="x", color="#DDDDDD", linewidth=0.5)
    ax.spines[["top", "right"]].set_visible(False)
    undated = table[table["start"].isna()]
    ax.set_title(
        f"Practices by printed duration ({len(dated)} with a start year; {len(undated)} without, "
        f"{int(undated['ongoing'].sum())} of them ongoing)",
        fontsize=10,
    )
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=c, linewidth=2.5, label=k) for k, c in list(kinds.items())[:2]]
    handles.append(Line2D([], [], color=kinds["end not printed"], marker="o", linestyle="", label="end not printed"))
    ax.legend(handles=handles, fontsize=7, loc="lower left", frameon=False)
    return fig


def write_figures(output: Path, store: ox.Store | None = None, settings: Settings | None = None,
                  formats: tuple[str, ...] = ("png", "svg")) -> list[Path]:
    """Write every figure of ``FIGURES`` into ``output`` as PNG and SVG; return the paths written.

    The files are reproducible: fixed layout seed, no creation date in the metadata, fixed SVG ids.
    """
    import matplotlib

    store = _store(store, settings)
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    graph = cooperation_network(store, settings)
    makers = {
        "practices-by-principle-and-country": lambda: figure_practices_by_principle_and_country(store, settings),
        "level-pair-matrix": lambda: figure_level_pair_matrix(store, settings),
        "actor-network": lambda: figure_actor_network(graph),
        "practice-timeline": lambda: figure_practice_timeline(store, settings),
    }
    written = []
    with matplotlib.rc_context({"svg.hashsalt": "icgraph", "svg.fonttype": "none", "font.family": "DejaVu Sans"}):
        for name in FIGURES:
            fig = makers[name]()
            for fmt in formats:
                path = output / f"{name}.{fmt}"
                metadata = {"Date": None} if fmt == "svg" else {"Software": None}
                fig.savefig(path, format=fmt, dpi=110 if fmt == "png" else None, metadata=metadata,
                            facecolor="white")
                written.append(path)
    return written
