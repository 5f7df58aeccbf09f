"""Syntax errors that explain themselves (issue 22): line and column, the token at fault and a one-line hint,
as plain text and as JSON, from a live server; and never a list of Unicode character ranges."""

from __future__ import annotations

import httpx
import pytest

from endpoint_fixtures import PEOPLE, TOKEN, running_server, seed_store
from icgraph.namespaces import PREFIXES
from icgraph.server.query_errors import explain, readable_expectations


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    store = tmp_path_factory.mktemp("errors") / "store"
    seed_store(store, PEOPLE)
    with running_server(store, union_default_graph=True) as live:
        yield live


def ask(server, text, accept=None):
    return httpx.post(server.sparql, data={"query": text}, headers={"Accept": accept} if accept else {}, timeout=30)


def explained(server, text) -> dict:
    """The JSON refusal of ``text``, checked to agree with the plain-text one."""
    response = ask(server, text, accept="application/json")
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    plain = ask(server, text)
    assert plain.status_code == 400 and plain.headers["content-type"].startswith("text/plain")
    assert plain.text.strip() == body["message"]
    assert f"line {body['line']}, column {body['column']}" in plain.text
    assert "Hint: " + body["hint"] in plain.text and "\n" not in body["hint"]
    assert "\\u{" not in plain.text and "..=" not in plain.text  # no Unicode ranges, ever
    return body


def test_undeclared_icgraph_prefix_names_it_and_gives_the_line_to_add(server):
    body = explained(server, "SELECT ?p WHERE {\n  ?p a icg:Practice\n}")
    assert (body["kind"], body["line"], body["column"], body["token"]) == ("undeclared-prefix", 2, 8, "icg:Practice")
    assert f"PREFIX icg: <{PREFIXES['icg']}>" in body["hint"]
    assert "icg:" in body["detail"]


def test_undeclared_foreign_prefix_asks_for_a_declaration(server):
    body = explained(server, "SELECT * WHERE { ?s ex:knows ?o }")
    assert body["kind"] == "undeclared-prefix" and body["token"] == "ex:knows"
    assert "PREFIX ex:" in body["hint"]


def test_misspelt_select_is_told_to_start_with_a_query_form(server):
    body = explained(server, "SELEKT * WHERE { ?s ?p ?o }")
    assert (body["kind"], body["line"], body["column"], body["token"]) == ("unknown-form", 1, 1, "SELEKT")
    assert "Did you mean SELECT?" in body["hint"]
    assert "SELECT, ASK, CONSTRUCT or DESCRIBE" in body["detail"]
    assert "expected CONSTRUCT" not in body["message"]


def test_variable_missing_from_group_by_is_named(server):
    text = "SELECT ?s ?name (COUNT(?o) AS ?n)\nWHERE { ?s <http://xmlns.com/foaf/0.1/name> ?name ; ?p ?o }\nGROUP BY ?s"
    body = explained(server, text)
    assert (body["kind"], body["line"], body["column"], body["token"]) == ("not-grouped", 1, 11, "?name")
    assert "GROUP BY" in body["hint"] and "aggregate" in body["hint"] and "?name" in body["hint"]
    assert "unbound" not in body["message"] and "[_]" not in body["message"]


def test_update_sent_to_the_query_endpoint_is_sent_on(server):
    body = explained(server, 'PREFIX ex: <http://example.org/>\nINSERT DATA { ex:a ex:b "c" }')
    assert (body["kind"], body["line"], body["column"], body["token"]) == ("update-at-query-endpoint", 2, 1, "INSERT")
    assert "/update" in body["hint"] and "Bearer" in body["hint"]
    assert httpx.post(server.sparql, data={"query": "ASK { ?s ?p \"c\" }"}, headers={"Accept": "application/json"}).json() == {
        "head": {}, "boolean": False}  # nothing was written


def test_query_sent_to_the_update_endpoint_is_sent_back(server):
    response = httpx.post(server.url + "/update", data={"update": "SELECT * WHERE { ?s ?p ?o }"},
                          headers={"Authorization": f"Bearer {TOKEN}", "Accept": "application/json"}, timeout=30)
    assert response.status_code == 400
    assert response.json()["kind"] == "query-at-update-endpoint" and "/sparql" in response.json()["hint"]


def test_other_errors_keep_the_position_with_readable_expectations(server):
    body = explained(server, "SELECT * WHERE { ?s ?p }")
    assert (body["kind"], body["line"], body["column"], body["token"]) == ("syntax", 1, 24, "}")
    body = explained(server, "SELECT ?x WHERE { ?s ?p ?x } LIMT 5")
    assert body["token"] == "LIMT" and "Did you mean LIMIT?" in body["hint"]
    body = explained(server, "SELECT * WHERE { ?s ?p ?o FILTER(regex(?o, \"a\") }")
    assert body["kind"] == "unbalanced" and body["token"] == "(" and body["column"] == 33


def test_refusals_without_a_position_stay_plain_and_json_has_the_message(server):
    response = httpx.get(server.sparql, params={"query": "ASK {}", "timeout": "soon"}, headers={"Accept": "application/json"})
    assert response.status_code == 400 and response.json()["message"].startswith("timeout=")
    assert httpx.get(server.sparql, params={"query": "ASK {}", "timeout": "soon"}).headers["content-type"].startswith("text/plain")


def test_oxigraphs_character_classes_are_dropped():
    message = ("error at 1:29: expected one of Prefix not found, ['%'], ['-' | '0' ..= '9' | '\\u{00B7}'], ['.'], [':'],"
               " ['A' ..= 'Z' | 'a' ..= 'z'\n| '\\u{200C}'..='\\u{200D}'], ['\\\\'], ['_'], \",\", \"}\", HAVING, [_]")
    assert readable_expectations(message) == ['","', '"}"', "HAVING"]
    problem = explain("SELECT * WHERE { ?s ?p ?o } HAVING", message)
    assert "\\u{" not in problem.message() and "Prefix not found" not in problem.message()
