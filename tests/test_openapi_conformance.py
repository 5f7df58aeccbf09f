"""The OpenAPI description tells the truth: schemathesis generates requests for every operation of
the SPARQL protocol, the Graph Store protocol and the query library, sends them to a live server,
and checks that no answer is a server error and that each status code, media type and JSON body
is one the description declares.

The run is bounded and repeatable: a few examples per operation, derandomised (the same requests
every run), no example database, no shrinking.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from endpoint_fixtures import PEOPLE, running_server, seed_store

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
TAGS = ["SPARQL", "Graph Store", "Query library"]


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    root = tmp_path_factory.mktemp("openapi")
    seed_store(root / "store", PEOPLE)
    with running_server(root / "store", build_dir=str(root / "build"), query_timeout=10, max_request_bytes=64 * 1024) as server:
        yield server


@pytest.fixture(scope="module")
def api_schema(live):
    schema = schemathesis.openapi.from_url(live.url + "/openapi.json")
    return schema.include(tag=TAGS)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=4, derandomize=True, database=None, deadline=None, phases=[Phase.explicit, Phase.generate],
          suppress_health_check=list(HealthCheck))
def test_the_server_answers_as_its_openapi_description_says(case, live):
    case.call_and_validate(headers=live.auth(), checks=CHECKS)
