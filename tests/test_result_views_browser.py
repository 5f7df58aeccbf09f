"""The editor's result views (static/js/result-views.js), short links and the library pages in Chromium.

A real server (uvicorn in a subprocess over the session's build, its state in a temporary state_dir)
and Debian's chromium via Playwright. Every request to another host is aborted, recorded and
asserted absent (`test_browser.OfflinePage`). Each view is offered only for the results it fits,
and what it draws is checked against the result it was given. The short-link test restarts the
server process and opens the link again.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

import httpx
import pytest

from icgraph.namespaces import sparql_prefixes
from test_browser import CHROMIUM, OfflinePage, _chromium_is_installed, _free_port, browser  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.browser]

VIEWS = ("map", "network", "chart", "timeline")

_LAUNCH = """
import json, sys
from pathlib import Path
import uvicorn
from icgraph.config import Settings
from icgraph.server.app import create_app

if __name__ == "__main__":
    options = json.loads(sys.argv[1])
    settings = Settings(store=Path(options["store"]), build_dir=Path(options["build_dir"]),
                        state_dir=Path(options["state_dir"]), query_workers=2)
    uvicorn.run(create_app(settings), host="127.0.0.1", port=options["port"], log_level="warning")
"""


class Server:
    """The application in its own process; ``restart`` stops it and starts a new one on the same port."""

    def __init__(self, built, folder):
        self.script = folder / "serve.py"
        self.script.write_text(_LAUNCH)
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.options = {"store": str(built.store), "build_dir": str(built.build_dir), "state_dir": str(folder / "state"), "port": self.port}
        self.process = None

    def start(self):
        self.process = subprocess.Popen([sys.executable, str(self.script), json.dumps(self.options)], start_new_session=True)
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(self.url + "/api/country-codes", timeout=10).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start (exit code {self.process.poll()})")
            time.sleep(0.3)

    def stop(self):
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def restart(self):
        self.stop()
        self.start()


@pytest.fixture(scope="module")
def server(built, tmp_path_factory):
    server = Server(built, tmp_path_factory.mktemp("views-server"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def offline(browser, server):  # noqa: F811 (the browser fixture comes from test_browser)
    session = OfflinePage(browser, server.url)
    yield session
    session.context.close()


def run_query(page, base: str, query: str):
    """Open the editor, put ``query`` in it, run it and wait for the result (and the country codes)."""
    page.goto(base + "/sparql")
    page.wait_for_selector(".yasqe .CodeMirror")
    page.wait_for_function("window.icgraphEditor !== undefined")
    page.evaluate("(q) => { const tab = window.icgraphEditor.yasgui.getTab(); tab.setQuery(q); tab.query(); }", query)
    page.wait_for_function("() => { const y = window.icgraphEditor.yasgui.getTab().getYasr(); return y && y.results && !y.results.getError(); }",
                           timeout=30000)
    page.wait_for_timeout(0)
    page.wait_for_load_state("networkidle")


def offered_views(page) -> set[str]:
    return set(page.evaluate(
        """(views) => views.filter((name) => {
             const button = document.querySelector('.yasr .yasr_btnGroup .select_' + name);
             return button && !button.parentElement.hidden && button.offsetParent !== null;
           })""",
        list(VIEWS),
    ))


def show(page, view: str):
    page.click(f".yasr .yasr_btnGroup .select_{view}")
    page.wait_for_selector(f".result-view-{view} svg")


def bindings(page) -> list[dict]:
    return page.evaluate("window.icgraphEditor.yasgui.getTab().getYasr().results.getBindings()")


def test_countries_with_counts_offer_a_map_and_a_chart_and_the_map_shades_them(offline, server, artifacts):
    page = offline.page
    run_query(page, server.url, sparql_prefixes() + """
        SELECT ?country (COUNT(DISTINCT ?practice) AS ?practices)
        WHERE { ?practice a icg:Practice ; icg:country ?country } GROUP BY ?country ORDER BY DESC(?practices)""")
    assert offered_views(page) == {"map", "chart"}
    rows = bindings(page)
    show(page, "map")
    page.wait_for_selector(".result-map path.country.has-data")
    shaded = page.locator(".result-map path.country.has-data").count()
    assert shaded == len(rows)  # every country of the result is on the map, and no other
    spain = page.locator('.result-map path.country[data-numeric="724"]')
    assert "has-data" in spain.get_attribute("class")
    es_count = next(r["practices"]["value"] for r in rows if r["country"]["value"].endswith("/place/es"))
    assert spain.locator("title").text_content().endswith(f": {es_count} (practices)")
    page.screenshot(path=str(artifacts / "result-view-map.png"), full_page=True)
    offline.check()


def test_coordinates_become_points_on_the_map(offline, server):
    page = offline.page
    run_query(page, server.url, sparql_prefixes() + """
        SELECT ?place ?name ?lat ?lon WHERE { ?place schema:latitude ?lat ; schema:longitude ?lon ; skos:prefLabel ?name }""")
    assert "map" in offered_views(page)
    rows = bindings(page)
    assert rows
    show(page, "map")
    assert page.locator(".result-map circle.point").count() == len(rows)
    offline.check()


def test_a_construct_result_is_drawn_as_a_network_with_labels(offline, server, artifacts):
    page = offline.page
    run_query(page, server.url, sparql_prefixes() + """
        CONSTRUCT { ?p icg:country ?c . ?p dct:title ?t . ?c skos:prefLabel ?name }
        WHERE { ?p a icg:Practice ; icg:country ?c ; dct:title ?t . ?c skos:prefLabel ?name } LIMIT 60""")
    assert offered_views(page) == {"network"}
    statements = page.evaluate("""window.icgraphEditor.yasgui.getTab().getYasr().results.getStatements()
        .map((q) => [q.subject.value, q.predicate.value, q.object.termType, q.object.value])""")
    links = [s for s in statements if s[2] != "Literal"]
    nodes = {s[0] for s in links} | {s[3] for s in links}
    show(page, "network")
    assert page.locator(".result-network .node").count() == len(nodes)
    assert page.locator(".result-network line.edge").count() == len(links)
    labels = page.locator(".result-network .node text").all_text_contents()
    titles = {s[3] for s in statements if s[1].endswith("/title")}
    assert any(label.rstrip("…") and any(t.startswith(label.rstrip("…")) for t in titles) for label in labels)
    page.screenshot(path=str(artifacts / "result-view-network.png"), full_page=True)
    offline.check()


def test_a_select_edge_list_is_a_network(offline, server):
    page = offline.page
    page.goto(server.url + "/sparql")
    page.wait_for_selector(".yasqe .CodeMirror")
    page.click('button.library-query[data-name="cooperation-edges"]')
    page.wait_for_function("() => { const y = window.icgraphEditor.yasgui.getTab().getYasr(); return y && y.results; }", timeout=30000)
    assert "network" in offered_views(page)
    rows = bindings(page)
    nodes = {r["source"]["value"] for r in rows} | {r["target"]["value"] for r in rows}
    show(page, "network")
    assert page.locator(".result-network .node").count() == len(nodes)
    assert page.locator(".result-network line.edge").count() == len(rows)
    offline.check()


def test_an_aggregate_is_a_bar_chart(offline, server, artifacts):
    page = offline.page
    run_query(page, server.url, sparql_prefixes() + """
        SELECT ?principle (COUNT(DISTINCT ?practice) AS ?practices)
        WHERE { ?practice a icg:Practice ; icg:principle/skos:notation ?n . BIND (STR(?n) AS ?principle) }
        GROUP BY ?principle ORDER BY DESC(?practices)""")
    assert offered_views(page) == {"chart"}
    rows = bindings(page)
    show(page, "chart")
    assert page.locator(".result-chart .bar").count() == len(rows)
    first = page.locator(".result-chart .bar").first
    assert first.locator(".bar-label").text_content() == rows[0]["principle"]["value"]
    assert first.locator(".bar-value").text_content() == rows[0]["practices"]["value"]
    widths = [float(w) for w in page.eval_on_selector_all(".result-chart .bar rect", "els => els.map(e => e.getAttribute('width'))")]
    assert widths == sorted(widths, reverse=True) and widths[0] > widths[-1]  # longer bars for larger counts
    page.screenshot(path=str(artifacts / "result-view-chart.png"), full_page=True)
    offline.check()


def test_dates_are_a_timeline(offline, server, artifacts):
    page = offline.page
    run_query(page, server.url, sparql_prefixes() + """
        SELECT ?practice ?title ?start ?end WHERE {
          ?practice a icg:Practice ; dct:title ?t ; icg:startYear ?start . BIND (STR(?t) AS ?title)
          OPTIONAL { ?practice icg:endYear ?end } } ORDER BY ?start""")
    offered = offered_views(page)
    assert "timeline" in offered and "chart" not in offered and "map" not in offered
    rows = bindings(page)
    show(page, "timeline")
    assert page.locator(".result-timeline .event").count() == len(rows)
    with_end = sum(1 for r in rows if "end" in r and r["end"]["value"] >= r["start"]["value"])
    assert page.locator(".result-timeline rect.span").count() == with_end
    page.screenshot(path=str(artifacts / "result-view-timeline.png"), full_page=True)
    offline.check()


def test_a_plain_list_offers_only_the_table(offline, server):
    page = offline.page
    run_query(page, server.url, sparql_prefixes() + "SELECT ?title WHERE { ?p a icg:Practice ; dct:title ?title } LIMIT 5")
    assert offered_views(page) == set()
    offline.check()


def test_share_gives_a_short_link_that_survives_a_restart(offline, server, artifacts):
    page = offline.page
    query = sparql_prefixes() + "\nSELECT ?practice WHERE { ?practice a icg:Practice } LIMIT 4 # shared"
    page.goto(server.url + "/sparql")
    page.wait_for_selector(".yasqe .CodeMirror")
    page.evaluate("(q) => { window.icgraphEditor.yasgui.getTab().setQuery(q); }", query)
    page.click("#share-query")
    page.wait_for_selector("#share-url")
    link = page.input_value("#share-url")
    assert re.fullmatch(re.escape(server.url) + r"/q/[0-9a-f]{12}", link)
    page.click("#share-query")  # the same query: the same link
    page.wait_for_selector("#share-url")
    assert page.input_value("#share-url") == link
    page.screenshot(path=str(artifacts / "share.png"))

    server.restart()
    page.goto(link)
    page.wait_for_selector(".yasqe .CodeMirror")
    assert page.evaluate("window.icgraphEditor.yasgui.getTab().getQuery()") == query
    page.reload()
    page.wait_for_selector(".yasqe .CodeMirror")
    assert page.evaluate("window.icgraphEditor.yasgui.getTab().getQuery()") == query
    offline.check()


def test_the_menu_opens_the_library_page_and_run_shows_results(offline, server, artifacts):
    page = offline.page
    page.goto(server.url + "/")
    page.click("header.site nav >> text=Query library")
    page.wait_for_url(server.url + "/library")
    page.click('a[href="/library/practices-started-in-year"]')
    page.wait_for_selector("#run-form")
    assert page.input_value("#param-year") == "2022"
    page.fill("#param-year", "2019")
    page.screenshot(path=str(artifacts / "library-query.png"), full_page=True)
    page.click("#run-query")
    page.wait_for_url(re.compile(r"/query\?"))
    page.wait_for_selector(".yasr table.dataTable tbody tr", timeout=30000)
    rows = bindings(page)
    assert rows and all(r["start"]["value"] == "2019" for r in rows)
    offline.check()
