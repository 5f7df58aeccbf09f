"""One base URL: VoID, the service description (live and in the release) and the pages name the same
public endpoint, `Settings.public_url` (ICGRAPH_BASE_URL), never the address a request came to."""

from __future__ import annotations

import httpx
import pytest
from rdflib import Graph, URIRef
from rdflib.namespace import DCAT, RDF, VOID

from endpoint_fixtures import running_server
from icgraph.config import Settings
from icgraph.namespaces import ROOT, SD
from icgraph.release import current_release
from icgraph.void import DATASET

BASE = "https://icgraph.example.org/data"


def test_public_url_defaults_to_the_root_of_the_iris():
    assert Settings(base_url=None).public_url("sparql") == ROOT + "sparql"
    assert Settings(base_url=BASE + "/").public_url("sparql") == Settings(base_url=BASE).public_url("/sparql") == BASE + "/sparql"


def test_the_release_names_the_base_of_the_build(built):
    release = current_release(built.store, built.build_dir)
    description = Graph().parse(release.path / "service-description.ttl", format="turtle")
    void = Graph().parse(release.void, format="turtle")
    (service,) = description.subjects(RDF.type, SD.Service)
    assert str(service) == built.public_url("sparql") == str(void.value(DATASET, VOID.sparqlEndpoint))
    assert "127.0.0.1" not in (release.path / "service-description.ttl").read_text()


class _Client:
    def __init__(self, url: str):
        self.url = url

    def get(self, path: str, **options) -> httpx.Response:
        return httpx.get(self.url + path, timeout=60, **options)


@pytest.fixture(scope="module")
def rebased(built):
    with running_server(built.store, token=None, union_default_graph=True, base_url=BASE) as server:
        yield _Client(server.url)


def test_service_description_void_and_pages_name_one_endpoint(rebased):
    endpoint = BASE + "/sparql"
    response = rebased.get("/sparql", headers={"Accept": "text/turtle"})
    assert response.status_code == 200, response.text
    description = Graph().parse(data=response.text, format="turtle")
    assert set(description.subjects(RDF.type, SD.Service)) == {URIRef(endpoint)}
    assert "127.0.0.1" not in response.text

    void = Graph().parse(data=rebased.get("/.well-known/void", headers={"Accept": "text/turtle"}).text, format="turtle")
    assert void.value(DATASET, VOID.sparqlEndpoint) == URIRef(endpoint)
    assert void.value(DATASET, DCAT.landingPage) == URIRef(BASE + "/")
    assert all(str(url).startswith(BASE + "/downloads/") for url in void.objects(DATASET, VOID.dataDump))
    assert void.value(DATASET, VOID.rootResource) == URIRef(ROOT + "def"), "identifiers stay; only addresses move"

    for path in ("/", "/practices", "/.well-known/void"):
        page = rebased.get(path, headers={"Accept": "text/html"})
        assert page.status_code == 200 and endpoint in page.text, path
