"""The browsing pages over plain HTTP (no browser): facets, search, maps, home counts, quality, editor."""

from __future__ import annotations

import re

import pyoxigraph as ox
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from icgraph.namespaces import sparql_prefixes
from conftest import pooled_client
from icgraph.search import MATCHES, build_search_index, fts_query, search
from icgraph.server import web
from icgraph.server.facets import FACETS, Selection
from icgraph.server.templating import HERE as SERVER_DIR

VENDOR = SERVER_DIR / "static" / "vendor"


def count(store: ox.Store, where: str) -> int:
    query = f"{sparql_prefixes()} SELECT (COUNT(DISTINCT ?practice) AS ?n) WHERE {{ {where} }}"
    return int(next(iter(store.query(query)))["n"].value)


@pytest.fixture(scope="module")
def app(built, store, tmp_path_factory) -> FastAPI:
    """The web router over the session's build; the pages query it through a pool and read the files of its release."""
    application = FastAPI()
    application.state.settings = built
    web.install(application)
    return application


@pytest.fixture(scope="module")
def client(app) -> TestClient:
    with pooled_client(app) as client:
        yield client


# --------------------------------------------------------------------------- practice browser


def test_practices_without_selection_lists_every_practice(client, store):
    data = client.get("/practices?format=json").json()
    assert data["count"] == count(store, "?practice a icg:Practice") == len(data["practices"])
    assert all(p["url"] == f"/id/practice/{p['slug']}" for p in data["practices"])
    assert [f["name"] for f in data["facets"]] == [f.name for f in FACETS]


def test_two_facets_combine_with_and(client, store):
    one = client.get("/practices", params={"country": "es"}, headers={"Accept": "application/json"}).json()
    two = client.get("/practices", params=[("country", "es"), ("level", "regional")], headers={"Accept": "application/json"}).json()
    assert one["count"] == count(store, "?practice a icg:Practice ; icg:country place:es")
    assert two["count"] == count(
        store, "?practice a icg:Practice ; icg:country place:es ; icg:hasParticipation/icg:agent/icg:governanceLevel level:regional"
    )
    assert 0 < two["count"] < one["count"]
    assert two["url"] == "/practices?country=es&level=regional"


def test_values_of_one_facet_combine_with_or(client, store):
    both = client.get("/practices", params=[("country", "es"), ("country", "it")], headers={"Accept": "application/json"}).json()
    assert both["count"] == count(store, "?practice a icg:Practice ; icg:country place:es") + count(
        store, "?practice a icg:Practice ; icg:country place:it"
    )


def test_facet_counts_follow_the_other_facets_selection(client, store):
    data = client.get("/practices?level=regional&format=json").json()
    countries = next(f for f in data["facets"] if f["name"] == "country")["values"]
    assert countries, "the country facet has values"
    for value in countries[:5]:
        expected = count(
            store,
            f"?practice a icg:Practice ; icg:country place:{value['value']} ; icg:hasParticipation/icg:agent/icg:governanceLevel level:regional",
        )
        assert value["count"] == expected, value
        # a value's link adds it to the selection, and following the link gives that many practices
        followed = client.get(value["url"], headers={"Accept": "application/json"}).json()
        assert followed["count"] == value["count"]


def test_selected_value_links_back_to_the_selection_without_it(client):
    data = client.get("/practices?country=es&level=regional&format=json").json()
    level = next(f for f in data["facets"] if f["name"] == "level")
    regional = next(v for v in level["values"] if v["value"] == "regional")
    assert regional["selected"] and regional["url"] == "/practices?country=es"


def test_every_facet_count_query_runs(client):
    pool = client.app.state.pool
    kinds = [row["kind"] for row in client.portal.call(pool.prepared, "actor-kinds")]
    for facet in FACETS:
        rows = client.portal.call(pool.prepared, facet.count_query(kinds=kinds))
        assert rows, f"facet {facet.name} has no values"
        assert facet.label


def test_period_facet_buckets_cover_every_practice(client, store):
    data = client.get("/practices?format=json").json()
    period = next(f for f in data["facets"] if f["name"] == "period")
    assert sum(v["count"] for v in period["values"]) == data["count"]


def test_facet_values_cannot_inject_sparql(client, store):
    hostile = 'es> } ; DROP ALL ; { <x'
    data = client.get("/practices", params={"country": hostile, "period": "1900-1901"}, headers={"Accept": "application/json"}).json()
    assert data["selection"] == {} and data["count"] == count(store, "?practice a icg:Practice")
    assert Selection.from_params([("country", hostile)]).chosen == {}


def test_practices_page_links_each_result_and_encodes_state(client):
    html = client.get("/practices?country=es&level=regional").text
    assert 'href="/practices?country=es"' in html  # unselect regional
    assert re.search(r'href="/id/practice/[a-z0-9-]+"', html)
    assert 'id="result-count"' in html


# --------------------------------------------------------------------------- search


def test_search_index_ranks_title_hits_first(store, tmp_path):
    path = build_search_index(store, tmp_path / "search.sqlite")
    assert path.exists() and not list(tmp_path.glob("*.partial"))
    hits = search(path, "anti-rumours strategy")
    assert hits and "rumours" in hits[0].title.lower()
    tiers = [MATCHES.index(h.match) for h in hits]
    assert tiers == sorted(tiers)  # phrase hits, then all-word hits, ...
    for tier in set(tiers):  # ... each tier by relevance
        scores = [h.score for h in hits if MATCHES.index(h.match) == tier]
        assert scores == sorted(scores, reverse=True)
    assert "<mark>" in hits[0].snippet


def test_search_index_holds_actors_by_alias(store, tmp_path):
    path = build_search_index(store, tmp_path / "search.sqlite")
    row = next(iter(store.query(
        sparql_prefixes() + "SELECT ?a ?alias WHERE { ?a a icg:Actor ; skos:altLabel ?alias FILTER(LANG(?alias) = 'en') } LIMIT 1",
    )))
    hits = search(path, row["alias"].value, kind="actor")
    assert row["a"].value in {h.iri for h in hits}


def test_search_rebuild_replaces_the_index(store, tmp_path):
    path = tmp_path / "search.sqlite"
    path.write_text("not a database")
    build_search_index(store, path)
    assert search(path, "Bilbao")


def test_search_query_syntax_is_quoted():
    assert fts_query('NEAR(a b) OR "x"') == '"near" "a" "b" "or" "x"*'
    assert fts_query("  ") is None


def test_search_api_and_page(client):
    data = client.get("/api/search", params={"q": "Bilbao"}).json()
    assert data["count"] > 0 and all(r["url"].startswith(("/id/practice/", "/id/actor/", "/id/place/")) for r in data["results"])
    html = client.get("/search", params={"q": "<script>alert(1)</script> Bilbao"}).text
    assert "<script>alert(1)</script>" not in html
    assert "<mark>" in html


def test_search_reads_the_index_the_build_wrote_into_the_release(app, client, built):
    path = built.build_result.release.search_index
    hits = client.get("/api/search", params={"q": "refugees"}).json()
    assert path.exists() and hits["results"]
    assert {h["iri"] for h in hits["results"]} <= {h.iri for h in search(path, "refugees")}


# --------------------------------------------------------------------------- maps


def test_map_json_nodes_and_edges(client):
    data = client.get("/api/map").json()
    ids = {n["id"] for n in data["nodes"]}
    assert data["nodes"] and data["edges"]
    assert all(e["source"] in ids and e["target"] in ids for e in data["edges"])
    assert all(n["url"] == f"/id/actor/{n['id']}" for n in data["nodes"])
    assert [t["id"] for t in data["tiers"]] == ["international", "european", "national", "regional", "local"]
    assert all(0 < n["x"] < 1 for n in data["nodes"])


def test_map_country_filter(client, store):
    data = client.get("/api/map?country=es").json()
    actors = {n["id"]: n for n in data["nodes"]}
    assert data["edges"]
    assert all("es" in (actors[e["source"]]["country"], actors[e["target"]]["country"]) for e in data["edges"])
    assert data["filters"]["country"] == "es"
    assert client.get("/api/map?country=not-a-country").json()["filters"]["country"] is None


def test_map_principle_filter_keeps_edges_of_that_principle(client, store):
    everything = client.get("/api/map").json()
    diversity = client.get("/api/map?principle=diversity").json()
    assert 0 < len(diversity["edges"]) < len(everything["edges"])
    principled = {
        row["p"].value.rsplit("/", 1)[-1]
        for row in store.query(sparql_prefixes() + "SELECT ?p WHERE { ?p icg:principle principle:diversity }")
    }
    for edge in diversity["edges"]:
        assert set(edge["practices"]) <= principled


def test_map_network_filter(client):
    network = client.get("/map?format=json").json()  # the page's JSON twin
    assert network["nodes"]
    options = web.filter_options(client.portal.call(web.load_map_data, client.app.state.pool))
    biggest = max(options["networks"], key=lambda n: n["members"])
    data = client.get(f"/api/map?network={biggest['id']}").json()
    memberships = [e for e in data["edges"] if e["kind"] == "membership"]
    assert len(memberships) == biggest["members"]
    assert biggest["id"] in {n["id"] for n in data["nodes"]}


@pytest.mark.parametrize("query", ["", "?country=es", "?principle=diversity", "?country=es&principle=participation"])
def test_map_drawing_is_the_map_json_in_rows(client, query):
    """/api/map/drawing (what the page draws) holds /api/map's nodes and edges under the same filters, as rows of
    named fields, an edge's ends as positions in the nodes and its practices and partnerships counted."""
    graph, drawn = client.get("/api/map" + query).json(), client.get("/api/map/drawing" + query).json()
    assert {k: drawn[k] for k in ("filters", "counts", "tiers")} == {k: graph[k] for k in ("filters", "counts", "tiers")}
    nodes = [dict(zip(drawn["nodes"]["fields"], row)) for row in drawn["nodes"]["rows"]]
    assert nodes == [{k: n[k] for k in drawn["nodes"]["fields"]} for n in graph["nodes"]] and nodes
    edges = [dict(zip(drawn["edges"]["fields"], row)) for row in drawn["edges"]["rows"]]
    assert [(nodes[e["source"]]["id"], nodes[e["target"]]["id"], e["kind"], e["practices"], e["partnerships"]) for e in edges] \
        == [(e["source"], e["target"], e["kind"], len(e["practices"]), len(e["partnerships"])) for e in graph["edges"]]
    assert edges and any(e["practices"] > 1 for e in edges) == any(len(e["practices"]) > 1 for e in graph["edges"])


def test_the_map_edge_index_holds_every_edge_each_filter_keeps(client):
    """maps.EdgeIndex: for every country, principle and network, the positions it gives hold each edge a scan of
    every edge keeps under that filter (governance_map looks at those positions only)."""
    from icgraph.server.maps import EdgeIndex, _principle_of_edge

    data = client.portal.call(web.load_map_data, client.app.state.pool)
    index = EdgeIndex(data)
    options = web.filter_options(data)
    checked = 0
    for country in [c["id"] for c in options["countries"]]:
        kept = [i for i, (a, b, _, _) in enumerate(data.edges) if country in (data.actors[a]["country"], data.actors[b]["country"])]
        assert set(kept) <= set(index.candidates(country, None, None)), country
        checked += len(kept)
    for principle in data.principles:
        kept = [i for i, (_, _, practice, partnership) in enumerate(data.edges) if _principle_of_edge(data, practice, partnership) == principle]
        assert kept == index.candidates(None, principle, None), principle
        checked += len(kept)
    for network in [n["id"] for n in options["networks"]]:
        members = data.members[network] | {network}
        kept = [i for i, (a, b, _, _) in enumerate(data.edges) if a in members and b in members]
        assert set(kept) <= set(index.candidates(None, None, members)), network
        checked += len(kept)
    assert checked > len(data.edges)
    assert index.candidates(None, None, None) is None


def test_places_are_drawn_from_the_store(client, store):
    data = client.get("/api/map/places").json()
    assert sum(c["count"] for c in data["countries"]) == count(store, "?practice a icg:Practice ; icg:country ?c")
    assert all(c["numeric"] and c["numeric"].isdigit() for c in data["countries"])
    assert data["places"] and all(isinstance(p["lat"], float) and isinstance(p["lon"], float) for p in data["places"])
    spain = client.get("/api/map/places?country=es").json()
    assert [c["id"] for c in spain["countries"]] == ["es"]


def test_map_page_fetches_its_data_rather_than_inlining_it(client):
    html = client.get("/map?country=es").text
    assert 'data-source="/api/map/drawing?country=es"' in html and 'data-source="/api/map/places?country=es"' in html
    assert 'id="graph-data"' not in html and 'id="places-data"' not in html
    graph = client.get("/api/map?country=es").json()
    assert f'<span id="node-count">{len(graph["nodes"])}</span>' in html
    assert html.count('<li><a href="/id/actor/') <= web.MAP_LISTED


def test_map_page_without_filters_counts_and_lists_what_is_drawn(client):
    """Without filters the page's summary is the one the release keeps (maps.map_indexes): its counts and lists
    are those of the JSON the drawings fetch."""
    html = client.get("/map").text
    graph, places = client.get("/api/map").json(), client.get("/api/map/places").json()
    assert f'<span id="node-count">{len(graph["nodes"])}</span>' in html
    assert f'<span id="edge-count">{len(graph["edges"])}</span>' in html
    assert f'<span id="actor-total">{graph["counts"]["actors"]}</span>' in html
    listed = min(len(graph["nodes"]), web.MAP_LISTED)
    assert html.count('<li><a href="/id/actor/') == listed
    assert all(f'<li><a href="{n["url"]}">' in html for n in graph["nodes"][:listed])
    assert html.count('<li>') - html.count('<li><a href="/id/actor/') >= min(len(places["places"]), web.MAP_LISTED)


def test_map_page_draws_from_vendored_assets(client):
    html = client.get("/map?country=es").text
    assert '<option value="es" selected>' in html
    assert "/static/vendor/d3/d3.min.js" in html and "/static/vendor/world-atlas/countries-50m.json" in html


# --------------------------------------------------------------------------- home


def test_home_counts_equal_store_counts(client, store):
    data = client.get("/", headers={"Accept": "application/json"}).json()
    assert data["practices"] == count(store, "?practice a icg:Practice")
    assert data["multilevel"] == count(store, "?practice a icg:MultilevelPractice")
    assert data["countries"] == int(next(iter(store.query(
        sparql_prefixes() + "SELECT (COUNT(DISTINCT ?c) AS ?n) WHERE { ?p a icg:Practice ; icg:country ?c }",
        )))["n"].value)
    assert data["triples"] == int(next(iter(store.query("SELECT (COUNT(*) AS ?n) { ?s ?p ?o }")))["n"].value)
    html = client.get("/").text
    for href in ('href="/practices"', 'href="/sparql"', 'href="/downloads"', 'href="/.well-known/void"', 'href="/def"'):
        assert href in html
    assert f'{data["practices"]:,}' in html


# --------------------------------------------------------------------------- data quality


def test_quality_page_shows_the_report_of_the_release(app, client, built):
    """The page reads report/shacl.json of the release: the same counts as the build's gate, at once."""
    validation = built.build_result.validation
    data = client.get("/quality?format=json").json()
    assert data["status"] == "done" and data["counts"] == validation.counts
    assert len(data["issues"]) == len(validation.issues)
    html = client.get("/quality").text
    assert f"{validation.counts['Warning']} warnings" in html
    first = next(i for i in validation.issues if i.focus_node.startswith("actor:"))
    assert f'href="/id/{first.focus_node.replace(":", "/", 1).split("#")[0]}"' in html


def test_quality_page_groups_by_severity_and_links_focus_nodes(tmp_path):
    from types import SimpleNamespace

    from rdflib import Graph

    from icgraph.publish import report_json
    from icgraph.release import Release
    from icgraph.validate import ValidationIssue, ValidationResult

    issues = [
        ValidationIssue("Violation", "icgsh:ActorKind", "actor kind", "actor:municipality-bilbao", "Bilbao City Council",
                        None, None, "Give the actor one kind.", 12, "SPARQLConstraintComponent"),
        ValidationIssue("Info", "icgsh:PracticeNoArea", "practice without area", "practice:x#source", None,
                        "icg:areaOfIntervention", None, "Add an area.", None, "MinCountConstraintComponent"),
    ]
    report = ValidationResult(conforms=False, counts={"Violation": 1, "Warning": 0, "Info": 1}, report_graph=Graph(), issues=issues)
    folder = tmp_path / "20260101T000000000Z-test"
    (folder / "report").mkdir(parents=True)
    (folder / "report" / "shacl.json").write_text(report_json(report))
    (folder / "manifest.json").write_text('{"id": "20260101T000000000Z-test"}')
    application = FastAPI()
    application.state.pool = SimpleNamespace(release=Release(folder))
    web.install(application)
    client = TestClient(application)
    html = client.get("/quality").text
    assert html.index("Violations (1)") < html.index("Infos (1)")
    assert 'href="/id/actor/municipality-bilbao"' in html and "Bilbao City Council" in html
    assert 'href="/id/practice/x"' in html
    data = client.get("/quality?format=json").json()
    assert data["status"] == "done" and data["counts"]["Violation"] == 1


def test_quality_page_of_a_store_without_report_says_so(tmp_path):
    from types import SimpleNamespace

    application = FastAPI()
    application.state.pool = SimpleNamespace(release=None)
    web.install(application)
    response = TestClient(application).get("/quality?format=json")
    assert response.status_code == 404 and "icgraph build" in response.json()["error"]


# --------------------------------------------------------------------------- query editor


def test_editor_offers_every_library_query_ready_to_run(client, store, built):
    from icgraph.queries import load_library

    html = client.get("/query").text
    config = re.search(r'<script type="application/json" id="editor-config">(.*?)</script>', html, re.S).group(1)
    import json

    library = json.loads(config)["library"]
    assert [q["name"] for q in library] == list(load_library(built.queries_dir))
    for entry in library:
        store.query(entry["query"])  # parses and runs as offered
    assert json.loads(config)["prefixes"]["icg"] == "https://w3id.org/icgraph/def#"


def test_editor_permalink_prefills_the_query(client):
    html = client.get("/query", params={"query": "SELECT * WHERE { ?s ?p ?o } LIMIT 3"}).text
    assert "LIMIT 3" in html


@pytest.mark.parametrize("path", ["/", "/practices", "/search?q=x", "/map", "/query", "/quality"])
def test_pages_load_nothing_from_other_hosts(client, path):
    html = client.get(path).text
    for attribute in re.findall(r'<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)="([^"]+)"', html):
        assert attribute.startswith(("/", "http://testserver/")), f"{path} loads {attribute}"


def test_vendored_assets_are_committed_and_small():
    files = [p for p in VENDOR.rglob("*") if p.is_file()]
    names = {p.relative_to(VENDOR).as_posix() for p in files}
    assert {"yasgui/yasgui.min.js", "yasgui/yasgui.min.css", "d3/d3.min.js", "world-atlas/countries-50m.json"} <= names
    assert sum(p.stat().st_size for p in files) < 4 * 1024 * 1024
    css = (VENDOR / "yasgui" / "yasgui.min.css").read_text()
    assert "@import" not in css and "fonts.googleapis" not in css


def test_compiled_templates_are_kept_in_the_build_folder_and_render_the_same(client, built, tmp_path):
    """A server keeps its compiled templates under build_dir/cache/templates (so a page's first view in a new
    process reads bytecode instead of compiling); a page rendered from them is the page rendered from the source,
    and a folder that cannot be made leaves the templates compiled in memory."""
    from jinja2 import FileSystemBytecodeCache

    from icgraph.server.app import create_app
    from icgraph.server.templating import keep_compiled_templates, templates

    create_app(built)
    assert templates.env.bytecode_cache.directory == str(built.build_dir / "cache" / "templates")
    folder = tmp_path / "templates"
    keep_compiled_templates(folder)
    templates.env.cache.clear()  # as in a new process
    compiled = client.get("/search?q=roma").text
    assert list(folder.glob("*.cache"))
    source, filename, _ = templates.env.loader.get_source(templates.env, "search.html")
    assert FileSystemBytecodeCache(str(folder)).get_bucket(templates.env, "search.html", filename, source).code is not None
    templates.env.cache.clear()  # read from the kept bytecode this time
    assert client.get("/search?q=roma").text == compiled and "roma" in compiled.lower()
    kept = templates.env.bytecode_cache
    (tmp_path / "a-file").write_text("not a folder")
    keep_compiled_templates(tmp_path / "a-file" / "templates")
    assert templates.env.bytecode_cache is kept
