"""The web interface in a real browser: Debian's chromium, driven by Playwright, against a live server.

The server runs the real build on 127.0.0.1 (random free port) in a subprocess. The browser
may talk to that server only: every other request is aborted and recorded, and each test
asserts that none was attempted (the pages work offline, with no CDN). Screenshots go to
test-artifacts/. Needs /usr/bin/chromium (``apt-get install -y chromium``); never
``playwright install``.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import pytest

from icgraph.namespaces import sparql_prefixes

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]

pytestmark = [pytest.mark.browser]


@pytest.fixture(autouse=True, scope="module")
def _chromium_is_installed():
    """`make test` installs Debian's chromium; a missing browser is a failure, never a silent skip."""
    assert Path(CHROMIUM).exists(), "needs Debian's chromium: apt-get install -y chromium (make test does it as root)"

_LAUNCH = """
import json, sys
from pathlib import Path
import uvicorn
from icgraph.config import Settings
from icgraph.server.app import create_app
from icgraph.server.web import install

if __name__ == "__main__":
    options = json.loads(sys.argv[1])
    app = create_app(Settings(store=Path(options["store"]), build_dir=Path(options["build_dir"]), query_workers=2))
    install(app)
    uvicorn.run(app, host="127.0.0.1", port=options["port"], log_level="warning")
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def server(built, tmp_path_factory):
    """The icgraph application (endpoint + pages) over the session's build, served by uvicorn."""
    port = _free_port()
    script = tmp_path_factory.mktemp("browser-server") / "serve.py"
    script.write_text(_LAUNCH)
    options = {"store": str(built.store), "build_dir": str(built.build_dir), "port": port}
    process = subprocess.Popen([sys.executable, str(script), json.dumps(options)], start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url + "/practices?format=json", timeout=10).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start (exit code {process.poll()})")
            time.sleep(0.3)
        httpx.get(url + "/api/search?q=warm", timeout=60)  # build the search index before the browser waits on it
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield instance
        instance.close()


class OfflinePage:
    """A page whose requests to any host but the test server are aborted and remembered."""

    def __init__(self, browser, server: str):
        self.context = browser.new_context(viewport={"width": 1400, "height": 1000})
        self.page = self.context.new_page()
        self.blocked: list[str] = []
        self.errors: list[str] = []
        local = urlsplit(server).netloc

        def route(route):
            parts = urlsplit(route.request.url)
            if parts.scheme in ("http", "https", "ws", "wss") and parts.netloc != local:
                self.blocked.append(route.request.url)
                route.abort()
            else:
                route.continue_()

        self.context.route("**/*", route)
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.csp_violations: list[str] = []
        self.page.on("console", self._console)

    def _console(self, message):
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            self.csp_violations.append(message.text)

    def check(self):
        assert self.blocked == [], f"the page tried to reach other hosts: {self.blocked}"
        assert self.errors == [], f"JavaScript errors: {self.errors}"
        assert self.csp_violations == [], f"Content-Security-Policy violations: {self.csp_violations}"


@pytest.fixture
def offline(browser, server):
    session = OfflinePage(browser, server)
    yield session
    session.context.close()


def _count(store, where: str) -> int:
    query = f"{sparql_prefixes()} SELECT (COUNT(DISTINCT ?x) AS ?n) WHERE {{ {where} }}"
    return int(next(iter(store.query(query, use_default_graph_as_union=True)))["n"].value)


def test_editor_runs_a_library_query(offline, server, artifacts):
    page = offline.page
    page.goto(server + "/sparql")  # a browser's GET /sparql is the editor
    page.wait_for_selector(".yasqe .CodeMirror")
    page.click('button.library-query[data-name="practices-per-country"]')
    rows = page.locator(".yasr table.dataTable tbody tr")
    rows.first.wait_for(timeout=20000)
    assert rows.count() > 1
    assert "Spain" in page.locator(".yasr table.dataTable").inner_text()
    # the query is in the address (a permalink), and the download links carry it too
    assert "query=" in page.url
    csv = page.get_attribute('#downloads a[data-format="csv"]', "href")
    assert csv.startswith("/sparql?query=") and csv.endswith("format=csv")
    assert page.evaluate("document.querySelectorAll('.yasqe .cm-keyword').length") > 0  # syntax highlighting
    page.screenshot(path=str(artifacts / "editor.png"), full_page=True)
    offline.check()


def test_editor_permalink_restores_the_query(offline, server):
    page = offline.page
    page.goto(server + "/sparql#query=" + "SELECT%20%3Fs%20WHERE%20%7B%20%3Fs%20a%20icg%3APractice%20%7D%20LIMIT%207")
    page.wait_for_selector(".yasqe .CodeMirror")
    assert "LIMIT 7" in page.evaluate("window.icgraphEditor.yasgui.getTab().getQuery()")
    offline.check()


def test_two_facets_narrow_the_practices(offline, server, store, artifacts):
    page = offline.page
    page.goto(server + "/practices")
    total = int(page.get_attribute("#result-count", "data-count"))
    assert total == _count(store, "?x a icg:Practice")
    page.click('details[data-facet="country"] a[data-value="es"]')
    page.wait_for_url(re.compile(r"country=es"))
    spain = int(page.get_attribute("#result-count", "data-count"))
    page.click('details[data-facet="level"] a[data-value="regional"]')
    page.wait_for_url(re.compile(r"level=regional"))
    both = int(page.get_attribute("#result-count", "data-count"))
    assert total > spain > both > 0
    assert parse_qs(urlsplit(page.url).query) == {"country": ["es"], "level": ["regional"]}
    assert both == _count(store, "?x a icg:Practice ; icg:country place:es ; icg:hasParticipation/icg:agent/icg:governanceLevel level:regional")
    assert page.locator(".practice-list li").count() == both
    page.screenshot(path=str(artifacts / "practices.png"), full_page=True)
    offline.check()


def test_search_then_open_a_result(offline, server, artifacts):
    page = offline.page
    page.goto(server + "/search")
    page.fill("#q", "anti-rumours")
    page.press("#q", "Enter")
    page.wait_for_selector(".hit")
    assert page.locator(".hit mark").count() > 0
    page.screenshot(path=str(artifacts / "search.png"), full_page=True)
    first = page.locator(".hit a").first
    title, href = first.inner_text(), first.get_attribute("href")
    assert "rumours" in title.lower()
    assert re.fullmatch(r"/id/(practice|actor)/[a-z0-9-]+", href)
    with page.expect_navigation() as navigation:
        first.click()
    # The entity IRI answers 303 See Other to its HTML representation (docs/linked-data.md).
    assert urlsplit(page.url).path == href + ".html"
    assert navigation.value.status == 200
    assert page.locator("h1").inner_text().split()[0] == title.split()[0]
    offline.check()


def test_governance_map_filter_and_follow_a_node(offline, server, artifacts):
    page = offline.page
    page.goto(server + "/map")
    page.wait_for_selector("#governance-map a.node")
    everything = page.locator("#governance-map a.node").count()
    page.select_option("#filter-country", "es")
    page.wait_for_url(re.compile(r"/map\?country=es"))
    page.wait_for_selector("#governance-map a.node")
    spain = page.locator("#governance-map a.node").count()
    expected = httpx.get(server + "/api/map?country=es").json()
    assert spain == len(expected["nodes"]) and 0 < spain < everything
    page.wait_for_selector("#practice-map[data-ready=true]")
    assert page.locator("#practice-map path.country").count() > 100  # outlines from the vendored atlas
    assert page.locator("#practice-map a.place").count() > 0
    page.screenshot(path=str(artifacts / "map.png"), full_page=True)
    node = page.locator("#governance-map a.node").first
    target = node.get_attribute("href")
    assert re.fullmatch(r"/id/actor/[a-z0-9-]+", target)
    with page.expect_navigation() as navigation:
        node.click()
    assert urlsplit(page.url).path == target + ".html"  # 303 See Other to the HTML page of the actor
    assert navigation.value.status == 200
    assert page.locator("h1").count() == 1
    offline.check()


def test_home_page_counts_equal_store_counts(offline, server, store, artifacts):
    page = offline.page
    page.goto(server + "/")
    shown = {
        card.get_attribute("data-count"): int(card.locator(".count").inner_text().replace(",", ""))
        for card in page.locator("[data-count]").all()
    }
    assert shown == {
        "practices": _count(store, "?x a icg:Practice"),
        "actors": _count(store, "?x a icg:Actor"),
        "countries": _count(store, "?p a icg:Practice ; icg:country ?x"),
        "multilevel": _count(store, "?x a icg:MultilevelPractice"),
        "networks": _count(store, "?x a icg:Network"),
        "triples": len(store),
    }
    for href in ("/practices", "/sparql", "/downloads"):
        assert page.locator(f'a.way[href="{href}"]').count() == 1
    page.screenshot(path=str(artifacts / "home.png"), full_page=True)
    offline.check()


def _strict_csp(response) -> None:
    policy = response.headers.get("content-security-policy", "")
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy and "unsafe" not in policy


def test_editor_loads_with_a_crafted_query_from_the_url(offline, server):
    """Issue 20: /query?query=<!--<script> left one script of three and the editor never loaded."""
    page = offline.page
    crafted = "<!--<script>"
    response = page.goto(server + "/query?query=" + quote(crafted))
    page.wait_for_selector(".yasqe .CodeMirror", timeout=15000)
    assert page.evaluate("window.icgraphEditor.yasgui.getTab().getQuery()") == crafted
    scripts = len(re.findall(r'<script src=', httpx.get(server + "/query").text))  # the page's own scripts
    assert scripts >= 2 and page.evaluate("document.querySelectorAll('script[src]').length") == scripts
    assert page.evaluate("JSON.parse(document.getElementById('editor-config').textContent).defaultQuery") == crafted
    _strict_csp(response)
    offline.check()


def test_api_docs_work_offline_under_the_csp(offline, server, artifacts):
    page = offline.page
    response = page.goto(server + "/docs")
    _strict_csp(response)
    page.wait_for_selector(".opblock-tag-section")
    assert page.locator(".opblock").count() > 10
    assert page.locator(".opblock-summary-path", has_text="/sparql").count() >= 1
    page.screenshot(path=str(artifacts / "api-docs.png"))
    offline.check()


def test_pages_carry_the_csp_and_report_no_violation(offline, server):
    page = offline.page
    for path in ("/", "/practices", "/search?q=rumours", "/map", "/sparql", "/id/practice/bilbao-anti-rumours-strategy.html", "/def", "/downloads"):
        response = page.goto(server + path)
        assert response.status == 200, path
        _strict_csp(response)
        page.wait_for_load_state("load")
    page.goto(server + "/map")
    page.wait_for_selector("#practice-map[data-ready=true]")
    offline.check()
