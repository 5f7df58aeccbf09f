"""One story per number: the count of actors on the home page, on the map and in the exported network
each say what they count, and they agree with the store."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner
from fastapi import FastAPI

from conftest import pooled_client
from icgraph.cli import main
from icgraph.namespaces import sparql_prefixes
from icgraph.server import web


def count(store, where: str, variable: str = "a") -> int:
    query = f"{sparql_prefixes()} SELECT (COUNT(DISTINCT ?{variable}) AS ?n) WHERE {{ {where} }}"
    return int(next(iter(store.query(query)))["n"].value)


@pytest.fixture(scope="module")
def client(built):
    application = FastAPI()
    application.state.settings = built
    web.install(application)
    with pooled_client(application) as client:
        yield client


def test_home_and_map_count_the_same_actors_and_say_which(client, store):
    every_actor = count(store, "?a a icg:Actor")
    home = client.get("/", headers={"Accept": "application/json"}).json()
    assert home["actors"] == every_actor
    assert "actors (every organisation named)" in client.get("/").text

    graph = client.get("/api/map").json()
    linked = {e["source"] for e in graph["edges"]} | {e["target"] for e in graph["edges"]}
    assert graph["counts"] == {"linked_actors": len(graph["nodes"]), "actors": every_actor, "links": len(graph["edges"])}
    assert {n["id"] for n in graph["nodes"]} == linked
    assert len(linked) < every_actor, "some actors are linked to no other: the two numbers differ, so both are explained"
    page = re.sub(r"\s+", " ", client.get("/map").text)
    assert f'<span id="node-count">{len(linked)}</span> of the <span id="actor-total">{every_actor}</span> actors (those linked to another' in page


def test_the_network_export_says_what_its_nodes_are(built, store, tmp_path):
    result = CliRunner().invoke(main, ["export", "network", "--store", str(built.store), "--format", "graphml", "-o", str(tmp_path / "n.graphml")])
    assert result.exit_code == 0, result.output
    taking_part = count(
        store, "?a a icg:Actor . { ?x a icg:Practice ; icg:hasParticipation/icg:agent ?a } UNION { ?x a icg:Partnership ; icg:partner ?a }"
    )
    assert f"{taking_part} actors (those that take part in a practice or a partnership)" in result.output
