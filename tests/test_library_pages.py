"""The query library as pages (icgraph.server.library_pages) and as SPARQL examples in the service description."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import RDF, RDFS

from icgraph.config import PROJECT_DIR
from icgraph.namespaces import ROOT, SCHEMA, SH
from icgraph.queries import load_library
from icgraph.release import current_release
from icgraph.server import library_pages, query_api, web

LIBRARY = load_library(PROJECT_DIR / "queries")


@pytest.fixture(scope="module")
def client(built):
    app = FastAPI()
    app.state.settings = built
    app.include_router(library_pages.router)
    app.include_router(query_api.router)
    web.install(app)
    with TestClient(app) as client:
        yield client


def test_the_library_page_lists_every_query_with_a_link_to_its_page(client):
    response = client.get("/library", headers={"Accept": "text/html"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    for name, query in LIBRARY.items():
        assert f'href="/library/{name}"' in response.text, name
    assert 'href="/library">Query library</a>' in response.text  # the site's menu goes to this page, not to JSON


def test_the_library_page_answers_json_in_the_api_shape_when_asked(client):
    as_json = client.get("/library", headers={"Accept": "application/json"}).json()
    assert [q["name"] for q in as_json] == [q["name"] for q in client.get("/api/queries").json()]


def test_a_query_page_has_description_parameter_form_run_button_and_text(client):
    query = LIBRARY["practices-started-in-year"]
    page = client.get("/library/practices-started-in-year").text
    assert query.description.split()[0] in page
    assert 'id="param-year"' in page and 'name="year"' in page and 'value="2022"' in page and 'type="number"' in page
    assert 'id="run-query"' in page and 'action="/library/practices-started-in-year/run"' in page
    assert "?_year_year" in page  # the .rq text, escaped but whole
    assert "&lt;https://w3id.org/icgraph/def#&gt;" in page


def test_run_opens_the_editor_with_the_values_bound(client):
    response = client.get("/library/practices-started-in-year/run?year=2019", follow_redirects=False)
    assert response.status_code == 303
    location = urlsplit(response.headers["location"])
    assert location.path == "/query"
    params = parse_qs(location.query)
    assert params["run"] == ["1"]
    assert 'VALUES ?_year_year { "2019"^^<http://www.w3.org/2001/XMLSchema#gYear> }' in params["query"][0]
    editor = client.get(response.headers["location"])
    assert editor.status_code == 200 and "2019" in editor.text


def test_run_refuses_a_bad_value_saying_why(client):
    response = client.get("/library/practices-started-in-year/run?year=last", follow_redirects=False)
    assert response.status_code == 400 and "year" in response.json()["detail"]
    assert client.get("/library/practices-started-in-year/run?month=3").status_code == 400


def test_an_unknown_query_page_is_404(client):
    assert client.get("/library/no-such-query").status_code == 404
    assert client.get("/library/..%2Fconfig").status_code == 404


def _examples(graph: Graph) -> dict[str, URIRef]:
    return {str(graph.value(example, SCHEMA.identifier)): example for example in graph.subjects(RDF.type, SH.SPARQLExecutable)}


def test_the_release_service_description_lists_every_library_query_as_an_example(built):
    release = current_release(built.store, built.build_dir)
    graph = Graph().parse(release.service_description, format="turtle")
    examples = _examples(graph)
    assert set(examples) == set(LIBRARY)
    service = URIRef(ROOT + "sparql")
    for name, query in LIBRARY.items():
        example = examples[name]
        assert example == URIRef(ROOT + "library/" + name)
        assert (service, SCHEMA.workExample, example) in graph
        assert (example, SCHEMA.target, service) in graph
        assert (example, RDFS.label, Literal(query.summary, lang="en")) in graph
        form = query_api.query_form(query)
        text = graph.value(example, {"SELECT": SH.select, "CONSTRUCT": SH.construct}[form])
        assert text is not None and str(text).lstrip().startswith("#+ summary"), name
        assert (example, RDF.type, {"SELECT": SH.SPARQLSelectExecutable, "CONSTRUCT": SH.SPARQLConstructExecutable}[form]) in graph


def test_an_example_text_runs_as_it_stands(built, store):
    """The published text has its parameter defaults bound, so a tool can run it without filling anything in."""
    graph = Graph().parse(current_release(built.store, built.build_dir).service_description, format="turtle")
    text = str(graph.value(_examples(graph)["practices-started-in-year"], SH.select))
    rows = list(store.query(text, use_default_graph_as_union=True))
    assert rows and all(row["start"].value == "2022" for row in rows)
