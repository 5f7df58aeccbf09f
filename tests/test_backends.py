"""The store abstraction without a remote store: locations, parameter binding, load batches.

`bind_substitutions` must give, on any SPARQL engine, the answer Oxigraph gives for the same
``substitutions``; here both run on Oxigraph (the session build), so any difference is the
rewriting's fault.
"""

from __future__ import annotations

from pathlib import Path

import pyoxigraph as ox
import pytest

from icgraph.backends import RemoteEndpoint, RemoteStore, _batches, iri_term, parse_location
from icgraph.sparql.text import bind_substitutions, query_form
from icgraph.config import PROJECT_DIR
from icgraph.queries import load_library
from icgraph.store import StoreError

LIBRARY = load_library(PROJECT_DIR / "queries")
PARAMETERISED = sorted(name for name, query in LIBRARY.items() if query.parameters)


def test_locations_name_the_backend(monkeypatch):
    monkeypatch.setenv("ICGRAPH_STORE_UPDATE_URL", "http://db:8890/sparql-auth")
    monkeypatch.setenv("ICGRAPH_STORE_USER", "dba")
    monkeypatch.setenv("ICGRAPH_STORE_PASSWORD", "secret")
    assert parse_location("/srv/store") == Path("/srv/store")
    assert parse_location("oxigraph:/srv/store") == Path("/srv/store")
    remote = parse_location("sparql+http://db:8890/sparql")
    assert isinstance(remote, RemoteEndpoint)
    assert (remote.query_url, remote.update_url, remote.user) == ("http://db:8890/sparql", "http://db:8890/sparql-auth", "dba")
    assert "secret" not in repr(remote) and "secret" not in str(remote)


def test_credentials_in_the_url_are_refused():
    with pytest.raises(StoreError, match="ICGRAPH_STORE_USER"):
        parse_location("sparql+http://dba:dba@db:8890/sparql")


@pytest.mark.parametrize("name", PARAMETERISED)
def test_values_binding_answers_like_oxigraph_substitutions(store, name):
    query = LIBRARY[name]
    bindings = query.bindings({})
    expected = store.query(query.text, substitutions=bindings)
    rewritten = store.query(bind_substitutions(query.text, bindings))
    assert _rows(rewritten) == _rows(expected)


TRICKY = [
    # aggregate over bound rows only; the parameter is a group key
    ("SELECT ?_c (COUNT(*) AS ?n) WHERE { ?p <https://w3id.org/icgraph/def#country> ?_c } GROUP BY ?_c", "_c", ox.NamedNode("https://w3id.org/icgraph/id/place/es")),
    # LIMIT counts bound rows; ORDER BY kept
    ("SELECT ?_c ?p WHERE { ?p <https://w3id.org/icgraph/def#country> ?_c } ORDER BY ?p LIMIT 2", "_c", ox.NamedNode("https://w3id.org/icgraph/id/place/it")),
    # the parameter inside an OPTIONAL's filter
    ("SELECT ?_c ?p ?t WHERE { ?p a <https://w3id.org/icgraph/def#Practice> OPTIONAL { ?p <https://w3id.org/icgraph/def#country> ?t FILTER (?t = ?_c) } }", "_c", ox.NamedNode("https://w3id.org/icgraph/id/place/es")),
    # SELECT *, a string with quotes and braces
    ('SELECT * WHERE { OPTIONAL { ?s <http://www.w3.org/2000/01/rdf-schema#label> ?_l } }', "_l", ox.Literal('a "} {" b')),
    # CONSTRUCT WHERE short form
    ("CONSTRUCT WHERE { ?_s <http://www.w3.org/2004/02/skos/core#notation> ?o }", "_s", ox.NamedNode("https://w3id.org/icgraph/id/level/local")),
    # ASK
    ("ASK { ?_s a <https://w3id.org/icgraph/def#Practice> }", "_s", ox.NamedNode("https://w3id.org/icgraph/id/level/local")),
]


@pytest.mark.parametrize("text, variable, value", TRICKY)
def test_tricky_placements(store, text, variable, value):
    bindings = {ox.Variable(variable): value}
    expected = store.query(text, substitutions=bindings)
    rewritten = store.query(bind_substitutions(text, bindings))
    assert _rows(rewritten) == _rows(expected)


def test_an_unprojected_parameter_is_refused_as_oxigraph_does(store):
    with pytest.raises(RuntimeError, match=r"\?x in its SELECT projection"):
        bind_substitutions("SELECT ?o WHERE { ?x ?p ?o }", {ox.Variable("x"): ox.NamedNode("urn:a")})


def test_blank_nodes_cannot_be_bound():
    with pytest.raises(ValueError, match="blank node"):
        bind_substitutions("SELECT ?x WHERE { ?x ?p ?o }", {ox.Variable("x"): ox.BlankNode()})


def test_the_query_form_is_found_past_prefixes_and_comments():
    assert query_form("# SELECT in a comment\nPREFIX ask: <urn:construct>\nDESCRIBE <urn:x>") == "DESCRIBE"


def test_batches_never_split_blank_node_structures():
    a, b, c = ox.BlankNode("a"), ox.BlankNode("b"), ox.BlankNode("c")
    p, x = ox.NamedNode("urn:p"), ox.NamedNode("urn:x")
    triples = [ox.Triple(x, p, a), ox.Triple(a, p, b), ox.Triple(b, p, ox.Literal("1")), ox.Triple(x, p, c), ox.Triple(c, p, ox.Literal("2"))]
    triples += [ox.Triple(x, p, ox.Literal(str(i))) for i in range(10)]
    batches = list(_batches(triples, 3))
    assert sorted(map(str, sum(batches, []))) == sorted(map(str, triples))
    for node in (a, b, c):
        holding = [i for i, batch in enumerate(batches) if any(node in (t.subject, t.object) for t in batch)]
        assert len(set(holding)) == 1
    chain = {i for i, batch in enumerate(batches) for t in batch if a in (t.subject, t.object) or b in (t.subject, t.object)}
    assert len(chain) == 1


def _rows(results):
    if isinstance(results, ox.QueryBoolean):
        return bool(results)
    if isinstance(results, ox.QuerySolutions):
        names = [v.value for v in results.variables]
        return sorted(tuple(str(row[n]) for n in names) for row in results)
    return sorted(str(t) for t in results)


def test_virtuoso_blank_node_identifiers_are_read():
    """Virtuoso writes blank nodes as ``nodeID://b10001``, which RDF does not allow as an identifier."""
    import pyoxigraph as ox

    from icgraph.backends import _results

    body = b'{"head":{"vars":["x","y"]},"results":{"bindings":[{"x":{"type":"bnode","value":"nodeID://b10001"},"y":{"type":"bnode","value":"nodeID://b10001"}}]}}'
    (row,) = list(_results(body, "application/sparql-results+json", "SELECT"))
    assert isinstance(row["x"], ox.BlankNode)
    assert row["x"] == row["y"], "the same node keeps one identifier"


@pytest.mark.parametrize("iri", ["http://x/a> } ; DROP ALL ; INSERT DATA { <http://x/b", "http://x/a b", 'http://x/"q'])
def test_graph_names_and_base_iris_never_become_update_text(iri):
    """Graph management names graphs in SPARQL text (no substitutions there): each IRI is checked by
    Oxigraph's parser first, and nothing is sent (the port has no listener: a request would fail
    with a connection error, not this one)."""
    assert iri_term("https://w3id.org/icgraph/graph/x") == "<https://w3id.org/icgraph/graph/x>"
    store = RemoteStore(RemoteEndpoint("http://127.0.0.1:9/sparql", update_url="http://127.0.0.1:9/update"), timeout=2)
    for send in (lambda: store.drop_graphs([iri]), lambda: store.update("CLEAR DEFAULT", base_iri=iri),
                 lambda: store.query("ASK {}", base_iri=iri),
                 lambda: store.insert_triples(iri, [ox.Triple(ox.NamedNode("http://x/s"), ox.NamedNode("http://x/p"), ox.Literal("o"))])):
        with pytest.raises(ValueError, match="is not an IRI"):
            send()


@pytest.mark.parametrize("code, error, setting", [
    ("40005 Error SR325", "Transaction aborted because it's log after image size went above the 50000000 bytes limit",
     "TransactionAfterImageLimit"),
    ("S1T00 Error SR171", "Transaction timed out", "MaxQueryExecutionTime"),
    ("42000 Error SP030", "SPARQL compiler, line 1: syntax error", None),
])
def test_a_store_error_a_setting_mends_names_the_setting(code, error, setting):
    """Virtuoso's errors as its source writes them (libsrc/Wi/sqlsrv.c): a limit of virtuoso.ini is named
    after the store's first line and before the request it quotes; any other error is passed on as it is."""
    import httpx

    from icgraph.backends import RemoteRefusal, _check_response

    body = f"Virtuoso {code}: {error}\n\nSPARQL query:\nMOVE SILENT GRAPH <urn:a> TO GRAPH <urn:b>".encode()
    with pytest.raises(RemoteRefusal) as refused:
        _check_response(httpx.Response(500, content=body), body, "http://store/sparql-auth")
    first, second, *rest = str(refused.value).split("\n")
    assert first == f"http://store/sparql-auth answered 500: Virtuoso {code}: {error}"
    if setting is None:
        assert second == "" and "virtuoso.ini" not in str(refused.value)
    else:
        assert setting in second and "virtuoso.ini" in second and "restart Virtuoso" in second
    assert rest[-1] == "MOVE SILENT GRAPH <urn:a> TO GRAPH <urn:b>"


@pytest.mark.parametrize("status, refused", [(500, True), (404, True), (502, False), (503, False), (504, False)])
def test_only_the_stores_own_error_says_it_did_not_do_the_request(status, refused):
    """A load drops its staging graphs after a switch the store refused (`RemoteRefusal`); a gateway's error says
    nothing of what the store behind it does, so it is a plain `RemoteStoreError`."""
    import httpx

    from icgraph.backends import RemoteRefusal, RemoteStoreError, _check_response

    body = b"Virtuoso 40005 Error SR325: Transaction aborted"
    with pytest.raises(RemoteStoreError) as error:
        _check_response(httpx.Response(status, content=body), body, "http://store/sparql-auth")
    assert isinstance(error.value, RemoteRefusal) is refused
