"""Rate limits of the contributions: logins per account and per client address (429 with Retry-After and a
plain message), and submissions per account, counted in the contributions database so that a restart of the
server (or another server process) forgets none of them."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from limits import parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from icgraph.contributions.database import RateStorage
from icgraph.server.app import create_app

from contribution_fixtures import PASSWORD, TURTLE, contribution_site


def _csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def _login(client, name: str, password: str):
    page = client.get("/login")
    return client.post("/login", data={"name": name, "password": password, "csrf": _csrf(page.text), "next": "/contribute"})


@pytest.fixture
def site(built, tmp_path):
    return contribution_site(built, tmp_path)


def test_logins_are_throttled_per_account_with_retry_after_and_a_plain_message(site):
    site.settings.login_rate, site.settings.login_address_rate = "3/10 minutes", "100/10 minutes"
    with TestClient(create_app(site.settings), base_url="https://testserver", follow_redirects=False) as client:
        assert [_login(client, "carla", "wrong password!").status_code for _ in range(3)] == [401, 401, 401]
        refused = _login(client, "carla", PASSWORD)  # the right password too: the account's attempts are used up
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["retry-after"]) <= 600
        assert refused.headers["content-type"].startswith("text/plain")
        assert "Too many login attempts for the account 'carla'" in refused.text and "Try again in" in refused.text
        assert "icgraph_session" not in refused.headers.get("set-cookie", "")
        # Another account from the same address still logs in.
        assert _login(client, "rui", PASSWORD).status_code == 303


def test_logins_are_throttled_per_client_address_whatever_the_account(site):
    site.settings.login_rate, site.settings.login_address_rate = "100/10 minutes", "4/10 minutes"
    with TestClient(create_app(site.settings), base_url="https://testserver", follow_redirects=False) as client:
        answers = [_login(client, name, "wrong password!").status_code for name in ("carla", "dino", "rui", "nobody")]
        assert answers == [401, 401, 401, 401]
        refused = _login(client, "dino", PASSWORD)
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
        assert "Too many login attempts for your address" in refused.text


def _submit(client, site):
    return client.post("/api/submissions", content=TURTLE, headers={"Content-Type": "text/turtle", **site.auth("carla")})


def test_the_submission_limit_survives_a_restart(site):
    site.settings.submission_rate = "2/hour"
    with TestClient(create_app(site.settings), base_url="https://testserver") as client:
        assert [_submit(client, site).status_code for _ in range(2)] == [201, 201]
        assert _submit(client, site).status_code == 429
    # Another process reads the same count from the database...
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[1] / "src"), os.environ.get("PYTHONPATH", "")])}
    code = ("import sys; from icgraph.contributions.accounts import submission_wait; "
            "print(submission_wait(sys.argv[1], '2/hour', 'carla'))")
    other = subprocess.run([sys.executable, "-c", code, str(site.settings.state_dir)], capture_output=True, text=True, env=env, check=True)
    assert "carla has sent 2 submissions or edits in one hour" in other.stdout
    # ...and a server started again still refuses carla, while dino has his own allowance.
    with TestClient(create_app(site.settings), base_url="https://testserver") as client:
        refused = _submit(client, site)
        assert refused.status_code == 429 and 1 <= int(refused.headers["retry-after"]) <= 3600
        assert "carla has sent 2 submissions or edits" in refused.text
        dino = client.post("/api/submissions", content=TURTLE, headers={"Content-Type": "text/turtle", **site.auth("dino")})
        assert dino.status_code == 201


def test_the_rate_storage_is_a_moving_window_for_limits(tmp_path):
    storage = storage_from_string(f"icgraph+sqlite://{tmp_path}")
    assert isinstance(storage, RateStorage) and storage.check()
    limiter, rate = MovingWindowRateLimiter(storage), parse("2/minute")
    assert [limiter.hit(rate, "x"), limiter.hit(rate, "x"), limiter.hit(rate, "x")] == [True, True, False]
    assert limiter.get_window_stats(rate, "x").remaining == 0
    again = MovingWindowRateLimiter(RateStorage(state_dir=tmp_path))  # a new storage on the same folder: the same hits
    assert not again.test(rate, "x") and again.test(rate, "y")
    limiter.clear(rate, "x")
    assert again.hit(rate, "x")
