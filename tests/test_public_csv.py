"""No internal columns in public CSV: the query API (and `icgraph query`) leave out every ``?_`` variable
(parameters and internal values, by the grlc convention), for every query of the library."""

from __future__ import annotations

import csv
import io

import pytest
from click.testing import CliRunner
from fastapi import FastAPI

from conftest import pooled_client
from icgraph.cli import main
from icgraph.config import PROJECT_DIR
from icgraph.queries import load_library
from icgraph.server.query_api import router

LIBRARY = load_library(PROJECT_DIR / "queries")
SELECTS = sorted(name for name, query in LIBRARY.items() if "SELECT" in query.text.upper().split("WHERE")[0])


@pytest.fixture(scope="module")
def client(built):
    app = FastAPI()
    app.include_router(router)
    with pooled_client(app, built) as client:
        yield client


def test_practices_by_country_begins_with_the_practice(client):
    response = client.get("/api/queries/practices-by-country", params={"format": "csv", "country": "place:it"})
    assert response.status_code == 200, response.text
    header, *rows = list(csv.reader(io.StringIO(response.text)))
    assert header[0] == "practice" and rows and all(row[0].startswith("https://w3id.org/icgraph/id/practice/") for row in rows)


@pytest.mark.parametrize("name", SELECTS)
def test_no_library_csv_has_an_internal_column(client, name):
    response = client.get(f"/api/queries/{name}", params={"format": "csv"})
    assert response.status_code == 200, response.text
    header = next(csv.reader(io.StringIO(response.text)))
    assert header and not [column for column in header if column.startswith("_")], header


def test_the_command_line_csv_has_no_internal_column(built):
    result = CliRunner().invoke(main, ["query", "practices-by-country", "--store", str(built.store), "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0].split(",")[0] == "practice"
