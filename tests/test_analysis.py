"""Governance-mapping analyses (icgraph.analysis): tables, the cooperation network, exports, figures, the example."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET

import networkx as nx
import pandas as pd
import pytest
from click.testing import CliRunner

from icgraph import analysis
from icgraph.cli import main
from icgraph.config import PROJECT_DIR
from icgraph.queries import QueryParameterError


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def count(store, sparql: str) -> int:
    return int(analysis.run_query(sparql, store)["n"].iloc[0])


@pytest.fixture(scope="module")
def network(store) -> nx.Graph:
    return analysis.cooperation_network(store)


@pytest.fixture(scope="module")
def practice_network(store) -> nx.Graph:
    return analysis.cooperation_network(store, partnerships=False)


# --- run_query: dtypes -------------------------------------------------------------------------


def test_run_query_gives_the_documented_dtypes(store):
    table = analysis.run_query(
        """SELECT ?integer ?decimal ?flag ?year ?date ?iri ?label ?unbound WHERE {
             VALUES (?integer ?decimal ?flag ?year ?date ?iri ?label) {
               (1 1.5 true "2022"^^xsd:gYear "2024-03-01"^^xsd:date icg:Practice "first"@en)
               (UNDEF 2.0 false "2019"^^xsd:gYear UNDEF icg:Actor UNDEF)
             } }""",
        store,
    )
    assert list(table.columns) == ["integer", "decimal", "flag", "year", "date", "iri", "label", "unbound"]
    assert str(table["integer"].dtype) == "Int64" and table["integer"].isna().tolist() == [False, True]
    assert table["decimal"].dtype == "float64" and table["decimal"].tolist() == [1.5, 2.0]
    assert str(table["flag"].dtype) == "boolean" and table["flag"].tolist() == [True, False]
    assert str(table["year"].dtype) == "Int64" and table["year"].tolist() == [2022, 2019]
    assert pd.api.types.is_datetime64_any_dtype(table["date"]) and table["date"].iloc[0].year == 2024
    assert pd.isna(table["date"].iloc[1])
    assert str(table["iri"].dtype) == "string" and table["iri"].iloc[0] == "https://w3id.org/icgraph/def#Practice"
    assert str(table["label"].dtype) == "string" and table["label"].iloc[0] == "first" and pd.isna(table["label"].iloc[1])
    assert table["unbound"].isna().all()


def test_run_query_counts_are_integers(store):
    table = analysis.run_query("SELECT (COUNT(*) AS ?n) WHERE { ?p a icg:Practice }", store)
    assert str(table["n"].dtype) == "Int64" and table["n"].iloc[0] == 83


def test_run_query_binds_parameters_as_terms(store):
    table = analysis.run_query(
        "SELECT ?practice ?_country_iri WHERE { ?practice icg:country ?_country_iri }", store, country="place:es"
    )
    assert len(table) > 0 and set(table["_country_iri"]) == {"https://w3id.org/icgraph/id/place/es"}
    with pytest.raises(QueryParameterError):
        analysis.run_query("SELECT ?practice ?_country_iri WHERE { ?practice icg:country ?_country_iri }", store)


def test_run_query_by_library_name(store, built):
    """The canonical practices view, by name: one row per practice, its fixed columns."""
    table = analysis.run_query("practices", store, built)
    assert isinstance(table, pd.DataFrame)
    assert list(table.columns) == [
        "practice", "title", "principle", "country", "countryCode", "place", "type", "start", "end", "ongoing"
    ]
    assert len(table) == 83 and table["practice"].is_unique


def test_unknown_query_name_says_where_it_looked(store):
    with pytest.raises(KeyError, match="no query named"):
        analysis.run_query("no-such-query", store)


# --- the cooperation network ---------------------------------------------------------------------

ACTORS_IN_PRACTICES = """SELECT (COUNT(DISTINCT ?actor) AS ?n) WHERE {
  ?practice a icg:Practice ; icg:hasParticipation ?p . ?p icg:agent ?actor . ?actor a icg:Actor }"""
PAIRS_IN_PRACTICES = """SELECT (COUNT(*) AS ?n) WHERE { SELECT DISTINCT ?a ?b WHERE {
  ?practice a icg:Practice ; icg:hasParticipation ?pa , ?pb . ?pa icg:agent ?a . ?pb icg:agent ?b .
  ?a a icg:Actor . ?b a icg:Actor . FILTER (STR(?a) < STR(?b)) } }"""
ACTORS_WITH_TIES = """SELECT (COUNT(DISTINCT ?actor) AS ?n) WHERE {
  { ?x a icg:Practice ; icg:hasParticipation/icg:agent ?actor . ?actor a icg:Actor }
  UNION { ?x a icg:Partnership ; icg:partner ?actor . ?actor a icg:Actor } }"""
PAIRS_WITH_TIES = """SELECT (COUNT(*) AS ?n) WHERE { SELECT DISTINCT ?a ?b WHERE {
  { ?x a icg:Practice ; icg:hasParticipation ?pa , ?pb . ?pa icg:agent ?a . ?pb icg:agent ?b .
    ?a a icg:Actor . ?b a icg:Actor . FILTER (STR(?a) < STR(?b)) }
  UNION
  { ?x a icg:Partnership ; icg:partner ?a , ?b . ?a a icg:Actor . ?b a icg:Actor . FILTER (STR(?a) < STR(?b)) } } }"""


def test_practice_network_has_one_node_per_participating_actor(store, practice_network):
    assert practice_network.number_of_nodes() == count(store, ACTORS_IN_PRACTICES) > 100


def test_practice_network_has_one_edge_per_actor_pair_sharing_a_practice(store, practice_network):
    assert practice_network.number_of_edges() == count(store, PAIRS_IN_PRACTICES) > 100


def test_full_network_adds_partnership_ties(store, network, practice_network):
    assert network.number_of_nodes() == count(store, ACTORS_WITH_TIES) >= practice_network.number_of_nodes()
    assert network.number_of_edges() == count(store, PAIRS_WITH_TIES) >= practice_network.number_of_edges()


def test_network_edges_agree_with_inferred_cooperation(store, network):
    """graph:inferred's icg:cooperatesWith (rules 40 and 50) links exactly the actor pairs of the network."""
    inferred = count(store, """SELECT (COUNT(*) AS ?n) WHERE { SELECT DISTINCT ?a ?b WHERE {
        ?a icg:cooperatesWith ?b . ?a a icg:Actor . ?b a icg:Actor . FILTER (STR(?a) < STR(?b)) } }""")
    assert network.number_of_edges() == inferred


def test_network_nodes_carry_label_kind_level_country(store, network):
    for _, data in network.nodes(data=True):
        assert data["label"] and data["kind"] and data["level"] in analysis.LEVELS
        assert isinstance(data["country"], str)
    local = sorted(n for n, d in network.nodes(data=True) if d["kind"] == "LocalAuthority")[0]
    direct = analysis.run_query(
        f"""SELECT ?label ?level ?iso WHERE {{ <{local}> a icg:LocalAuthority ; skos:prefLabel ?label ;
              icg:governanceLevel/skos:notation ?level ; icg:country/icg:isoCode ?iso FILTER (LANG(?label) = "en") }}""",
        store,
    ).iloc[0]
    node = network.nodes[local]
    assert (node["label"], node["level"], node["country"]) == (direct["label"], direct["level"], direct["iso"])


def test_network_edges_carry_practices_weight_roles_and_levels(network):
    for u, v, data in network.edges(data=True):
        assert data["weight"] == len(data["practices"]) + len(data["partnerships"]) >= 1
        assert {data["from_actor"], data["to_actor"]} == {u, v}
        assert data["from_level"] == network.nodes[data["from_actor"]]["level"]
        assert analysis.LEVELS.index(data["from_level"]) <= analysis.LEVELS.index(data["to_level"])
        assert data["level_pair"] == f"{data['from_level']}–{data['to_level']}"
        assert data["crosses_levels"] is (data["from_level"] != data["to_level"])
        assert bool(data["roles"]) == bool(data["practices"])
    assert any(d["crosses_levels"] for *_, d in network.edges(data=True))


# --- levels, metrics -----------------------------------------------------------------------------


def test_level_pair_matrix_is_symmetric_and_ordered_local_first(store):
    matrix = analysis.level_pair_matrix(store)
    assert list(matrix.index) == list(matrix.columns) == list(analysis.LEVELS)
    assert (matrix.to_numpy() == matrix.to_numpy().T).all()
    assert all(str(t) == "int64" for t in matrix.dtypes)


def test_level_pair_counts_match_a_direct_count(store):
    """local–national practices, counted from the participations without the inferred edges."""
    direct = count(store, """SELECT (COUNT(DISTINCT ?practice) AS ?n) WHERE {
        ?practice icg:hasParticipation/icg:agent/icg:governanceLevel level:local ;
                  icg:hasParticipation/icg:agent/icg:governanceLevel level:national }""")
    assert analysis.level_pair_matrix(store).loc["local", "national"] == direct > 0


def test_level_pairs_table_dtypes(store):
    pairs = analysis.level_pairs(store)
    assert str(pairs["from_level"].dtype) == "string" and str(pairs["crosses_levels"].dtype) == "boolean"
    assert all(str(pairs[c].dtype) == "Int64" for c in ("practices", "partnerships", "agent_pairs", "edges"))


@pytest.mark.parametrize("by", ["principle", "country"])
def test_multilevel_share_adds_up(store, by):
    share = analysis.multilevel_share(by, store)
    total = share.loc["all"]
    assert total["practices"] == count(store, "SELECT (COUNT(?p) AS ?n) WHERE { ?p a icg:Practice }")
    assert total["multilevel"] == count(store, "SELECT (COUNT(?p) AS ?n) WHERE { ?p a icg:MultilevelPractice }")
    assert share.drop("all")["practices"].sum() == total["practices"]
    assert share["share"].between(0, 1).all() and share["share"].dtype == "float64"
    assert str(share["multilevel"].dtype) == "Int64"


def test_actor_centrality_ranks_brokers(network):
    top = analysis.actor_centrality(network, top=5)
    assert len(top) == 5 and top["betweenness"].is_monotonic_decreasing
    assert top["betweenness"].between(0, 1).all() and top["betweenness"].iloc[0] > 0
    assert str(top["degree"].dtype) == "Int64" and str(top["label"].dtype) == "string"
    assert len(analysis.actor_centrality(network, top=None)) == network.number_of_nodes()


def test_bridging_networks_span_two_levels_or_more(store):
    bridges = analysis.bridging_networks(store)
    assert len(bridges) > 0 and (bridges["level_count"] >= 2).all()
    for row in bridges.itertuples():
        levels = row.levels.split()
        assert len(levels) == row.level_count and all(getattr(row, level) > 0 for level in levels)


# --- exports -------------------------------------------------------------------------------------


def test_exported_graphml_reloads_with_the_same_nodes_edges_and_attributes(built, network, tmp_path):
    path = tmp_path / "network.graphml"
    result = run("export", "network", "--store", str(built.store), "--format", "graphml", "--output", str(path))
    assert result.exit_code == 0, result.output
    reloaded = nx.read_graphml(path)
    expected = analysis.network_for_export(network)
    assert set(reloaded.nodes) == set(expected.nodes)
    assert {frozenset(e) for e in reloaded.edges} == {frozenset(e) for e in expected.edges}
    for node, data in expected.nodes(data=True):
        assert reloaded.nodes[node] == data
    for u, v, data in expected.edges(data=True):
        assert reloaded.edges[u, v] == data


def test_exported_gexf_and_csv_hold_the_network(built, network, tmp_path):
    assert run("export", "network", "--store", str(built.store), "--format", "gexf", "-o", str(tmp_path / "n.gexf")).exit_code == 0
    gexf = nx.read_gexf(tmp_path / "n.gexf")
    assert (gexf.number_of_nodes(), gexf.number_of_edges()) == (network.number_of_nodes(), network.number_of_edges())
    assert run("export", "network", "--store", str(built.store), "--format", "csv", "-o", str(tmp_path / "csv")).exit_code == 0
    nodes = pd.read_csv(tmp_path / "csv" / "nodes.csv")
    edges = pd.read_csv(tmp_path / "csv" / "edges.csv")
    assert set(nodes["id"]) == set(network.nodes) and len(edges) == network.number_of_edges()
    assert {"source", "target", "weight", "practices", "level_pair", "crosses_levels", "roles"} <= set(edges.columns)


TIMELINE = "SELECT ?practice ?start ?ongoing WHERE { ?practice a icg:Practice OPTIONAL { ?practice icg:startYear ?start } OPTIONAL { ?practice icg:ongoing ?ongoing } } ORDER BY ?practice"


def test_table_export_round_trips_through_parquet(built, store, tmp_path):
    query = tmp_path / "timeline.rq"
    query.write_text(TIMELINE)
    out = tmp_path / "timeline.parquet"
    result = run("export", "table", str(query), "--store", str(built.store), "--output", str(out))
    assert result.exit_code == 0, result.output
    pd.testing.assert_frame_equal(pd.read_parquet(out), analysis.run_query(TIMELINE, store))


def test_table_export_round_trips_through_csv(built, store, tmp_path):
    query = tmp_path / "timeline.rq"
    query.write_text(TIMELINE)
    out = tmp_path / "timeline.csv"
    result = run("export", "table", str(query), "--store", str(built.store), "--format", "csv", "--output", str(out))
    assert result.exit_code == 0, result.output
    expected = analysis.run_query(TIMELINE, store)
    again = pd.read_csv(out, dtype={"practice": "string", "start": "Int64", "ongoing": "boolean"})
    pd.testing.assert_frame_equal(again, expected)


def test_table_export_passes_parameters(built, tmp_path):
    query = tmp_path / "by-country.rq"
    query.write_text("SELECT ?practice ?_country_iri WHERE { ?practice icg:country ?_country_iri }")
    out = tmp_path / "es.csv"
    result = run("export", "table", str(query), "--store", str(built.store), "--param", "country=place:es", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert len(pd.read_csv(out)) > 0


def test_export_without_subcommand_still_dumps_the_dataset(built, tmp_path):
    for args in (["export"], ["export", "dataset"]):
        out = tmp_path / "dump.nq"
        result = run(*args, "--store", str(built.store), "--format", "nq", "--output", str(out))
        assert result.exit_code == 0, result.output
        assert "<https://w3id.org/icgraph/graph/compendium>" in out.read_text()


def test_export_options_before_a_subcommand_are_refused():
    result = CliRunner().invoke(main, ["export", "--format", "nq", "network"])
    assert result.exit_code == 2 and "after the subcommand" in result.output


# --- figures -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def figures(built, tmp_path_factory):
    folder = tmp_path_factory.mktemp("figures")
    result = run("figures", "--store", str(built.store), "--output", str(folder))
    assert result.exit_code == 0, result.output
    return folder


@pytest.mark.parametrize("name", analysis.FIGURES)
def test_figure_is_written_as_a_non_blank_png_and_an_svg(figures, name):
    from matplotlib.image import imread

    png, svg = figures / f"{name}.png", figures / f"{name}.svg"
    assert 0 < png.stat().st_size < 300_000, "PNG figures must stay small enough to commit"
    pixels = imread(png)
    assert pixels.shape[0] > 100 and pixels.shape[1] > 100
    assert pixels.var() > 0, "the PNG is a blank image"
    assert svg.stat().st_size > 0 and ET.parse(svg).getroot().tag.endswith("svg")


def test_figures_are_reproducible(built, figures, tmp_path):
    """Same store, same SVG: fixed layout seed, no dates, fixed ids (so committed figures only change with the data)."""
    assert run("figures", "--store", str(built.store), "--output", str(tmp_path)).exit_code == 0
    for name in analysis.FIGURES:
        assert (tmp_path / f"{name}.svg").read_bytes() == (figures / f"{name}.svg").read_bytes(), name


# --- the worked example and the documentation ----------------------------------------------------


def test_worked_example_runs_and_writes_its_figure(built, tmp_path):
    figure = tmp_path / "multilevel-cooperation.png"
    completed = subprocess.run(
        [sys.executable, str(PROJECT_DIR / "examples" / "multilevel_cooperation.py"),
         "--store", str(built.store), "--output", str(figure)],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert "local–national" in completed.stdout
    assert figure.stat().st_size > 10_000


def test_every_analysis_function_and_command_is_documented():
    text = (PROJECT_DIR / "docs" / "analysis.md").read_text(encoding="utf-8")
    missing = [name for name in analysis.__all__ if f"`{name}" not in text]
    missing += [cmd for cmd in ("icgraph export network", "icgraph export table", "icgraph figures") if cmd not in text]
    assert not missing, f"document these in docs/analysis.md: {missing}"
