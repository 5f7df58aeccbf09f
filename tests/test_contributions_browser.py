"""The whole contribution flow in Chromium (Playwright, /usr/bin/chromium) against a live server:
a contributor logs in, submits with a mistake, sees the message beside the field, fixes it; a reviewer
asks for a change; the contributor edits; the reviewer accepts; the practice answers in /sparql, has its
page with provenance, appears in /changes and the feed, and the release id has moved."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from icgraph import release as releases

from contribution_fixtures import PASSWORD, contribution_site
from server_process import stop_group, wait_until_up
from test_browser import CHROMIUM, CHROMIUM_ARGS, OfflinePage, _free_port

pytestmark = [pytest.mark.browser]

_LAUNCH = """
import json, sys
from pathlib import Path
import uvicorn
from icgraph.config import Settings
from icgraph.server.app import create_app

options = json.loads(sys.argv[1])
settings = Settings(store=Path(options["store"]), build_dir=Path(options["build_dir"]), state_dir=Path(options["state_dir"]), query_workers=2)
uvicorn.run(create_app(settings), host="127.0.0.1", port=options["port"], log_level="warning")
"""


@pytest.fixture
def live_site(built, tmp_path):
    site = contribution_site(built, tmp_path)
    port = _free_port()
    options = {"store": str(site.settings.store), "build_dir": str(site.settings.build_dir),
               "state_dir": str(site.settings.state_dir), "port": port}
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[1] / "src"), os.environ.get("PYTHONPATH", "")])}
    process = subprocess.Popen([sys.executable, "-c", _LAUNCH, json.dumps(options)], start_new_session=True, env=env)
    site.url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(process, site.url + "/login")
        yield site
    finally:
        stop_group(process)


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield instance
        instance.close()


def _log_in(page, url: str, name: str) -> None:
    page.goto(url + "/login")
    page.fill("#name", name)
    page.fill("#password", PASSWORD)
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert f"Logged in as {name}" in page.inner_text(".account")


def _log_out(page) -> None:
    with page.expect_navigation():
        page.click(".account form button")


def _submit_and_log_out(page) -> str:
    """Submit the form, check it was accepted for review, log out; the submission's URL."""
    with page.expect_navigation():
        page.click("#submit-practice")
    assert page.inner_text("#submission-state") == "submitted"
    submission_url = page.url
    _log_out(page)
    return submission_url


def _open(live_site, browser):
    """The site's URL, its current release id, and an offline Chromium page on it."""
    before = releases.current_release(live_site.settings.store, live_site.settings.build_dir).id
    session = OfflinePage(browser, live_site.url)
    session.page.set_default_timeout(60_000)
    return live_site.url, before, session, session.page


def test_the_whole_contribution_flow_in_a_browser(live_site, browser, artifacts):
    url, before, session, page = _open(live_site, browser)

    # A contributor submits a practice with a mistake: no principle.
    _log_in(page, url, "carla")
    page.fill("#input-title", "Intercultural storytelling evenings in Paris libraries")
    page.check('input[name=practiceType][value="https://w3id.org/icgraph/id/practice-type/event"]')
    page.select_option("#input-country", "https://w3id.org/icgraph/id/place/fr")
    page.fill("#input-startYear", "2022")
    page.fill('input[name=participant_actor] >> nth=0', "City of Paris")
    page.select_option('select[name=participant_role] >> nth=0', "https://w3id.org/icgraph/id/role/lead")
    with page.expect_navigation():
        page.click("#submit-practice")
    problem = page.inner_text("#field-principle .problem")
    assert problem.startswith("Give the practice exactly one principle (icg:principle)")
    assert page.input_value("#input-title") == "Intercultural storytelling evenings in Paris libraries"  # kept
    page.screenshot(path=str(artifacts / "contribute-mistake.png"), full_page=True)

    # Fixed, it is submitted.
    page.select_option("#input-principle", "https://w3id.org/icgraph/id/principle/interaction")
    submission_url = _submit_and_log_out(page)

    # The reviewer asks for a change.
    _log_in(page, url, "rui")
    page.goto(url + "/review")
    with page.expect_navigation():
        page.click("#review-queue a")
    assert page.url == submission_url
    page.fill("#comment", "Add the year the evenings ended.")
    with page.expect_navigation():
        page.click("#request-changes")
    assert page.inner_text("#submission-state") == "changes requested"
    _log_out(page)

    # The contributor reads the comment and edits.
    _log_in(page, url, "carla")
    page.goto(submission_url)
    assert "Add the year the evenings ended." in page.inner_text("#reviewer-comment")
    page.fill("#input-endYear", "2024")
    with page.expect_navigation():
        page.click("#submit-practice")
    assert page.inner_text("#submission-state") == "submitted"
    assert "2024" in page.inner_text("#submission-diff")
    _log_out(page)

    # The reviewer accepts: a new release is published.
    _log_in(page, url, "rui")
    page.goto(submission_url)
    with page.expect_navigation(timeout=600_000):
        page.click("#accept", no_wait_after=True)  # the accept may outlast the click's timeout: the navigation's decides
    assert page.inner_text("#submission-state") == "accepted"
    page.screenshot(path=str(artifacts / "contribute-accepted.png"), full_page=True)
    after = releases.current_release(live_site.settings.store, live_site.settings.build_dir).id
    assert after != before

    practice_path = page.get_attribute("text=the practice's page", "href")
    practice = "https://w3id.org/icgraph" + practice_path
    for _ in range(100):  # the server follows the new release within about a second
        answer = httpx.get(url + "/sparql", params={"query": f"ASK {{ <{practice}> a <https://w3id.org/icgraph/def#Practice> }}"},
                           headers={"Accept": "application/sparql-results+json"})
        if answer.json()["boolean"]:
            break
        time.sleep(0.2)
    else:
        pytest.fail("the accepted practice does not answer in /sparql")
    page.goto(url + practice_path)
    text = page.inner_text("main")
    assert "Intercultural storytelling evenings in Paris libraries" in text
    submission_id = submission_url.rsplit("/", 1)[1]
    assert f"submission/{submission_id}" in page.content()  # its provenance: derived from the submission
    page.goto(url + "/changes")
    assert page.locator(f'[id="{after}"] a[href="{practice_path}"]').count() == 1
    feed = httpx.get(url + "/changes.atom").text
    assert practice_path in feed and after in feed
    session.check()


BILBAO_PATH = "/id/practice/bilbao-intersectional-board-on-female-genital-mutilation-prevention"


def test_a_correction_of_a_published_practice_in_a_browser(live_site, browser, artifacts):
    """A contributor opens "Propose a correction" on a practice's page, changes its title; the reviewer sees the
    difference with labels and accepts; the practice's page then says it is corrected, and /changes lists it as changed."""
    url, before, session, page = _open(live_site, browser)

    _log_in(page, url, "carla")
    page.goto(url + BILBAO_PATH)
    published_title = page.inner_text("h1")
    with page.expect_navigation():
        page.click("#propose-correction")
    assert page.input_value("#input-title") == published_title  # filled in from the published practice
    assert "A correction of" in page.inner_text("#correcting")
    page.fill("#input-title", published_title + " (Bizkaia)")
    submission_url = _submit_and_log_out(page)

    _log_in(page, url, "rui")
    page.goto(submission_url)
    removed = page.inner_text("#correction-diff tr.removed")
    added = page.inner_text("#correction-diff tr.added")
    assert published_title in removed and published_title + " (Bizkaia)" in added
    assert page.locator("#correction-diff tr").count() == 3  # the header, one removed, one added
    page.screenshot(path=str(artifacts / "contribute-correction-review.png"), full_page=True)
    with page.expect_navigation(timeout=600_000):
        page.click("#accept", no_wait_after=True)  # the accept may outlast the click's timeout: the navigation's decides
    assert page.inner_text("#submission-state") == "accepted"
    after = releases.current_release(live_site.settings.store, live_site.settings.build_dir).id
    assert after != before

    correction_path = f"{BILBAO_PATH}-correction-{submission_url.rsplit('/', 1)[1]}"
    for _ in range(100):  # the server follows the new release within about a second
        page.goto(url + BILBAO_PATH)
        if page.locator("#corrected-by").count():
            break
        time.sleep(0.2)
    else:
        pytest.fail("the practice's page does not show its correction")
    assert page.inner_text("h1") == published_title  # the source's description stays
    assert page.locator(f'#corrected-by a[href="{correction_path}"]').count() == 1
    page.goto(url + correction_path)
    assert page.inner_text("h1") == published_title + " (Bizkaia)"
    assert page.locator(f'#correction-of a[href="{BILBAO_PATH}"]').count() == 1
    page.goto(url + "/changes")
    assert page.locator(f'[id="{after}"] .changes-changed a[href="{BILBAO_PATH}"]').count() == 1
    assert page.locator(f'[id="{after}"] .changes-changed a[href="{correction_path}"]').count() == 1
    session.check()
