"""The OpenAPI description tells the truth: schemathesis generates requests for every operation of
the SPARQL protocol, the Graph Store protocol and the query library, sends them to a live server,
and checks that no answer is a server error and that each status code, media type and JSON body
is one the description declares.

The run is bounded and repeatable: a few examples per operation, derandomised (the same requests
on every run), no example database, no shrinking. (schemathesis' own pytest plugin does not run
under this pytest, so each operation's strategy is driven by Hypothesis here.)
"""

from __future__ import annotations

import httpx
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
import schemathesis

from endpoint_fixtures import PEOPLE, running_server, seed_store

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
TAGS = ["SPARQL", "Graph Store", "Query library", "Editor"]
EXAMPLES = 3


def test_the_server_answers_as_its_openapi_description_says(tmp_path):
    seed_store(tmp_path / "store", PEOPLE)
    with running_server(tmp_path / "store", build_dir=str(tmp_path / "build"), query_timeout=10, max_request_bytes=64 * 1024) as live:
        schema = schemathesis.openapi.from_url(live.url + "/openapi.json").include(tag=TAGS)
        operations = [result.ok() for result in schema.get_all_operations()]
        calls: list[tuple[str, int]] = []
        failures: list[str] = []
        for operation in operations:
            strategy = operation.as_strategy(generation_mode=GenerationMode.POSITIVE)

            @settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
                      phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
            @given(case=strategy)
            def exercise(case):
                try:
                    response = case.call_and_validate(base_url=live.url, headers=live.auth(), checks=CHECKS, timeout=30)
                    calls.append((operation.label, response.status_code))
                except Exception as error:  # noqa: BLE001 - collected, then reported all at once
                    failures.append(f"{operation.label}: {type(error).__name__}: {str(error)[:800]}")

            exercise()
        assert live.alive()
        assert httpx.get(live.sparql, params={"query": "ASK {}"}).status_code == 200
    assert not failures, "\n\n".join(failures)
    assert len({label for label, _ in calls}) == len(operations) > 40
    assert not [call for call in calls if call[1] >= 500]
