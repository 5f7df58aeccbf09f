"""Search that finds: whole words before parts of words, "did you mean", results by kind, the same
text match inside SPARQL (icgf:match / icgf:score through /sparql), and similar practices with reasons.

The HTTP tests run against the real application (create_app: the endpoint, its reader processes
and the pages) over the session's build, through a real uvicorn server and httpx / SPARQLWrapper;
the browser test drives Debian's chromium with every request to another host blocked.
"""

from __future__ import annotations

import json

import httpx
import pytest
from SPARQLWrapper import JSON, SPARQLWrapper

from icgraph.namespaces import sparql_prefixes
from icgraph.search import MATCHES, find, search, suggest
from icgraph.similar import similar_to
from icgraph.words import matches, parse_query, score, words
from test_browser import OfflinePage, browser, server  # noqa: F401 - the live server and browser fixtures

ICGF = "PREFIX icgf: <https://w3id.org/icgraph/def/function#>\n"


@pytest.fixture(scope="module")
def index(built):
    return built.build_result.release.search_index


def _rows(store, query: str) -> list[dict]:
    return [{k: row[k].value for k in ("x", "label") if row[k] is not None}
            for row in store.query(sparql_prefixes() + query, use_default_graph_as_union=True)]


# --------------------------------------------------------------------------- words


def test_words_are_folded_whole_words():
    assert words("Emilia-Romagna, Romà's") == ["emilia", "romagna", "roma", "s"]
    assert matches("Mentoring Service for Roma people", "roma") and not matches("Emilia-Romagna Region", "roma")
    assert matches("Emilia-Romagna Region", "roma*")  # a star asks for a prefix
    assert parse_query('roma "anti rumours" intercult*')[1].words == ("anti", "rumours")
    assert score("Roma people and others", "roma people") > score("people meet Roma", "roma people") > 0


# --------------------------------------------------------------------------- ranking


def test_a_groups_name_ranks_practices_about_the_group_above_places_containing_the_word(index, store):
    hits = search(index, "roma")
    titles = [h.title for h in hits]
    # The practices whose titles name the Roma, and the places whose names merely contain "roma".
    about_roma = {r["label"] for r in _rows(store, "SELECT ?x (STR(?t) AS ?label) WHERE { ?x a icg:Practice ; dct:title ?t "
                                                    "FILTER (REGEX(?t, '\\\\bRoma\\\\b')) }")}
    containing = {r["label"] for r in _rows(store, "SELECT ?x (STR(?l) AS ?label) WHERE { ?x a icg:Place ; skos:prefLabel ?l "
                                                   "FILTER (CONTAINS(LCASE(?l), 'roma') && !REGEX(?l, '\\\\bRoma\\\\b')) }")}
    assert about_roma and containing >= {"Emilia-Romagna", "Romania"}
    assert about_roma <= set(titles)
    last_about = max(titles.index(t) for t in about_roma)
    for name in containing & set(titles):
        assert titles.index(name) > last_about, f"{name} ranks above a practice about the Roma"
    assert titles.index("Emilia-Romagna Region") > last_about  # the actor too
    assert {h.match for h in hits if h.title in about_roma} <= {"all words"}
    assert {h.match for h in hits if h.title in containing} == {"word beginning"}


def test_a_phrase_ranks_first(index):
    hits = search(index, "anti-rumours strategy")
    assert hits[0].match == "phrase" and "anti-rumours strategy" in hits[0].title.lower()
    assert [MATCHES.index(h.match) for h in hits] == sorted(MATCHES.index(h.match) for h in hits)


def test_a_typo_gets_a_suggestion_and_its_results(index):
    assert search(index, "intercultral") == []
    assert suggest(index, "intercultral") == "intercultural"
    results = find(index, "intercultral")
    assert results.corrected and results.suggestion == "intercultural"
    assert results.hits and results.hits == search(index, "intercultural")
    assert suggest(index, "intercultural cities") is None  # known words are left alone


def test_results_are_grouped_by_kind_in_order(index):
    results = find(index, "roma")
    groups = results.groups
    assert [g["kind"] for g in groups] == ["practice", "actor", "place"]
    assert sum(len(g["hits"]) for g in groups) == len(results.hits)
    for group in groups:
        assert {h.kind for h in group["hits"]} == {group["kind"]}
        ranks = [results.hits.index(h) for h in group["hits"]]
        assert ranks == sorted(ranks)


# --------------------------------------------------------------------------- similar practices


def test_similar_practices_have_reasons_and_exclude_the_practice_itself(index, store):
    practices = [r["x"] for r in _rows(store, "SELECT ?x WHERE { ?x a icg:Practice }")]
    with_similar = 0
    for iri in practices:
        found = similar_to(index, iri)
        assert found is not None
        assert iri not in {s.iri for s in found}
        assert [s.score for s in found] == sorted((s.score for s in found), reverse=True)
        for s in found:
            assert s.reason and s.reasons and s.score > 0
        with_similar += bool(found)
    assert with_similar >= len(practices) * 0.9
    assert similar_to(index, "https://w3id.org/icgraph/id/practice/no-such-practice") is None


def test_shared_actors_in_a_reason_are_really_shared(index, store):
    iri = "https://w3id.org/icgraph/id/practice/bilbao-anti-rumours-strategy"
    actors = lambda p: {r["x"] for r in _rows(store, f"SELECT ?x WHERE {{ <{p}> icg:hasParticipation/icg:agent ?x . ?x a icg:Actor }}")}  # noqa: E731
    principle = lambda p: {r["x"] for r in _rows(store, f"SELECT ?x WHERE {{ <{p}> icg:principle ?x }}")}  # noqa: E731
    checked = 0
    for s in similar_to(index, iri):
        for reason in s.reasons:
            if reason["feature"] == "actor":
                assert set(reason["values"]) == actors(iri) & actors(s.iri) and reason["count"] == len(reason["values"])
                assert f"{reason['count']} shared actor" in s.reason
                checked += 1
            if reason["feature"] == "principle":
                assert principle(iri) == principle(s.iri) and "same principle" in s.reason
                checked += 1
    assert checked


# --------------------------------------------------------------------------- over HTTP


def test_search_api_groups_and_suggests(server):  # noqa: F811
    data = httpx.get(server + "/api/search", params={"q": "intercultral"}, timeout=60).json()
    assert data["suggestion"] == "intercultural" and data["corrected"] and data["count"] > 0
    assert sum(g["count"] for g in data["groups"]) == data["count"]
    page = httpx.get(server + "/search", params={"q": "roma <b>x</b>"}, timeout=60).text
    assert "<b>x</b>" not in page and 'class="hit-group"' in page


def test_sparql_text_function_joins_with_the_graph(server, store):  # noqa: F811
    query = ICGF + sparql_prefixes() + """
        SELECT ?practice ?title ?score ?country WHERE {
          ?practice a icg:Practice ; dct:title ?title ; icg:country/skos:prefLabel ?country .
          FILTER (icgf:match(?title, "roma"))
          BIND (icgf:score(?title, "roma people") AS ?score)
        } ORDER BY DESC(?score) ?title"""
    client = SPARQLWrapper(server + "/sparql")
    client.setQuery(query)
    client.setReturnFormat(JSON)
    rows = client.queryAndConvert()["results"]["bindings"]
    titles = [r["title"]["value"] for r in rows]
    assert titles and all(matches(t, "roma") for t in titles)
    expected = [r for r in _rows(store, "SELECT ?x (STR(?t) AS ?label) WHERE { ?x a icg:Practice ; dct:title ?t ; icg:country ?c }")
                if matches(r["label"], "roma")]
    assert sorted(titles) == sorted(r["label"] for r in expected)
    assert all(r["country"]["value"] for r in rows)  # joined with the graph
    scores = [float(r["score"]["value"]) for r in rows]
    assert scores == sorted(scores, reverse=True)
    assert matches(titles[0], '"roma people"') and scores[0] > scores[-1]  # the phrase scores most
    assert not any("Romagna" in t for t in titles)


def test_service_description_names_the_extension_functions(server):  # noqa: F811
    from rdflib import Graph, URIRef
    from rdflib.namespace import RDF

    from icgraph.namespaces import SD

    body = httpx.get(server + "/sparql", headers={"Accept": "text/turtle"}, timeout=60).text
    graph = Graph().parse(data=body, format="turtle")
    functions = set(graph.objects(None, SD.extensionFunction))
    assert functions == {URIRef("https://w3id.org/icgraph/def/function#match"), URIRef("https://w3id.org/icgraph/def/function#score")}
    assert all((f, RDF.type, SD.Function) in graph for f in functions)


def test_similar_api_and_practice_page(server, index):  # noqa: F811
    slug = "bilbao-anti-rumours-strategy"
    data = httpx.get(f"{server}/api/practices/{slug}/similar", timeout=60).json()
    assert data["count"] == len(data["similar"]) > 0
    assert all(s["slug"] != slug and s["reason"] for s in data["similar"])
    assert [s["iri"] for s in data["similar"]] == [s.iri for s in similar_to(index, data["practice"])]
    missing = httpx.get(f"{server}/api/practices/no-such-practice/similar", timeout=60)
    assert missing.status_code == 404 and "/practices" in missing.text
    page = httpx.get(f"{server}/id/practice/{slug}.html", timeout=60).text
    assert 'id="similar-heading"' in page
    for s in data["similar"][:5]:
        assert f'href="{s["url"]}"' in page and s["reason"] in page


def test_search_page_in_a_browser(browser, server, artifacts):  # noqa: F811
    session = OfflinePage(browser, server)
    try:
        page = session.page
        page.goto(server + "/search")
        page.fill("#q", "intercultral")
        page.press("#q", "Enter")
        page.wait_for_selector("#suggestion")
        assert "intercultural" in page.locator("#suggestion").inner_text()
        with page.expect_navigation():
            page.locator("#suggestion a").click()
        page.wait_for_selector(".hit-group")
        assert page.url.endswith("q=intercultural")
        assert page.locator("#suggestion").count() == 0
        page.fill("#q", "roma")
        page.press("#q", "Enter")
        page.wait_for_selector('.hit-group[data-kind="place"]')
        kinds = page.locator(".hit-group").evaluate_all("groups => groups.map(g => g.dataset.kind)")
        assert kinds == ["practice", "actor", "place"]
        assert page.locator('.hit-group[data-kind="practice"] .hit mark').count() > 0
        page.screenshot(path=str(artifacts / "search-grouped.png"), full_page=True)
        session.check()
    finally:
        session.context.close()


def test_the_docs_sparql_example_answers_what_the_docs_show(server):  # noqa: F811
    """docs/search.md's first query, sent to /sparql, gives the table printed under it."""
    import re

    from icgraph.config import PROJECT_DIR

    text = (PROJECT_DIR / "docs" / "search.md").read_text(encoding="utf-8")
    query = re.search(r"```sparql\n(.*?)```", text, re.S).group(1)
    table = text[text.index("| title | country | score |"):].split("\n\n")[0].splitlines()[2:]
    shown = [[cell.strip() for cell in line.strip("|").split("|")] for line in table]
    answer = httpx.post(server + "/sparql", data={"query": query}, headers={"Accept": "application/sparql-results+json"}, timeout=60)
    rows = [[b["title"]["value"], b["country"]["value"], b["score"]["value"]] for b in answer.json()["results"]["bindings"]]
    assert rows == shown
