"""The SPARQL editor in Chromium (issue 22): autocompletion from /api/complete, errors laid out and marked,
icgraph prefixes declared before a query is sent, and a results table of plain values.

The live server and the browser are those of tests/test_browser.py: every request to another host
is aborted and recorded, and each test asserts there was none (`OfflinePage.check`).
"""

from __future__ import annotations

import re

import pytest

from icgraph.namespaces import PREFIXES
from test_browser import OfflinePage, _chromium_is_installed, browser, offline, server  # noqa: F401 - shared fixtures

pytestmark = [pytest.mark.browser]


def open_editor(page, server: str, query: str = ""):
    page.goto(server + "/sparql")
    page.wait_for_selector(".yasqe .CodeMirror")
    page.evaluate("(text) => { window.icgraphEditor.yasgui.getTab().setQuery(text); }", query)


def editor_text(page) -> str:
    return page.evaluate("window.icgraphEditor.yasgui.getTab().getQuery()")


def type_at_end(page, text: str):
    page.evaluate(
        "() => { const cm = window.icgraphEditor.yasgui.getTab().getYasqe(); cm.focus();"
        " cm.getDoc().setCursor(cm.getDoc().lineCount(), 0); }"
    )
    page.keyboard.type(text, delay=30)


def run(page):
    page.evaluate("() => { window.icgraphEditor.yasgui.getTab().query().catch(() => {}); }")


def test_typing_an_icgraph_prefix_offers_terms_from_the_data(offline, server, artifacts):
    page = offline.page
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url) if "/api/complete" in request.url else None)
    open_editor(page, server, "SELECT ?practice WHERE {\n  ?practice ")
    type_at_end(page, "icg:governanceL")
    hint = page.locator(".CodeMirror-hints li", has_text="icg:governanceLevel")
    hint.first.wait_for(timeout=10000)
    assert "governance level" in page.locator(".CodeMirror-hints").inner_text()
    assert any("prefix=icg" in url and "q=governanceL" in url for url in asked)
    page.screenshot(path=str(artifacts / "editor-completion.png"))
    hint.first.click()
    assert editor_text(page).rstrip().endswith("?practice icg:governanceLevel")
    offline.check()


def test_ctrl_space_finds_a_practice_by_label(offline, server):
    page = offline.page
    open_editor(page, server, "SELECT * WHERE {\n  ")
    type_at_end(page, "anti-rumours")
    page.keyboard.press("Control+Space")
    hints = page.locator(".CodeMirror-hints li")
    hints.first.wait_for(timeout=10000)
    assert "Anti-rumours strategy" in page.locator(".CodeMirror-hints").inner_text()
    page.keyboard.press("Enter")
    assert re.search(r"\bpractice:[\w-]*anti-rumours[\w-]*$", editor_text(page).rstrip())
    offline.check()


def test_undeclared_icgraph_prefix_is_declared_before_sending(offline, server):
    page = offline.page
    sent: list[str] = []
    page.on("request", lambda request: sent.append(request.post_data or "") if request.url.endswith("/sparql") and request.method == "POST" else None)
    open_editor(page, server, "SELECT ?p WHERE { ?p a icg:Practice ; icg:country place:es } LIMIT 3")
    run(page)
    page.locator(".yasr table.result-table tbody tr").first.wait_for(timeout=20000)
    text = editor_text(page)
    assert text.startswith(f"PREFIX icg: <{PREFIXES['icg']}>\nPREFIX place: <{PREFIXES['place']}>\nSELECT ?p")
    assert "PREFIX+icg" in sent[0] and "PREFIX+place" in sent[0]
    assert page.locator("#editor-note").is_visible() and "PREFIX icg:" in page.locator("#editor-note").inner_text()
    assert page.locator(".yasr table.result-table tbody tr").count() == 3
    offline.check()


def test_error_is_laid_out_wrapped_and_marked(offline, server, artifacts):
    page = offline.page
    long_tail = " ".join(["?s ?p ?o ."] * 40)
    open_editor(page, server, f"SELECT ?s ?name (COUNT(?o) AS ?n)\nWHERE {{ {long_tail} ?s ?q ?name }}\nGROUP BY ?s")
    run(page)
    error = page.locator(".yasr .query-error")
    error.wait_for(timeout=20000)
    assert "Line 1, column 11, at ?name" in error.inner_text()
    assert "Hint: Add ?name to GROUP BY" in page.locator(".query-error-hint").inner_text()
    assert "\\u{" not in page.locator(".yasr").inner_text()
    assert page.locator(".yasqe .query-error-mark").inner_text() == "?name"
    fits = page.evaluate(
        "() => { const r = document.querySelector('.yasr'); const e = document.querySelector('.yasr .query-error');"
        " return e.scrollWidth <= e.clientWidth + 1 && e.getBoundingClientRect().right <= r.getBoundingClientRect().right + 1; }"
    )
    assert fits, "the error runs off the right edge of the pane"
    page.screenshot(path=str(artifacts / "editor-error.png"))
    offline.check()


def test_misspelt_select_says_what_a_query_starts_with(offline, server):
    page = offline.page
    open_editor(page, server, "SELEKT * WHERE { ?s ?p ?o }")
    run(page)
    page.locator(".yasr .query-error").wait_for(timeout=20000)
    text = page.locator(".yasr .query-error").inner_text()
    assert "Did you mean SELECT?" in text and "expected CONSTRUCT" not in text
    offline.check()


def test_table_shows_plain_values_labels_and_fits(offline, server, artifacts):
    page = offline.page
    query = (f"PREFIX icg: <{PREFIXES['icg']}>\nPREFIX skos: <{PREFIXES['skos']}>\n"
             "SELECT ?country (COUNT(?p) AS ?practices) (\"2024-05-01\"^^<http://www.w3.org/2001/XMLSchema#date> AS ?day)"
             " (\"a long text that should wrap rather than push the last column off the right edge of the pane, "
             + "again and again " * 8 + "\" AS ?note)\n"
             "WHERE { ?p a icg:Practice ; icg:country ?country } GROUP BY ?country ORDER BY DESC(?practices) LIMIT 12")
    open_editor(page, server, query)
    run(page)
    table = page.locator(".yasr table.result-table")
    table.wait_for(timeout=20000)
    page.wait_for_selector(".yasr table.result-table[data-labelled='true']", timeout=20000)
    first = page.locator(".yasr table.result-table tbody tr").first
    cells = first.locator("td")
    assert cells.nth(0).inner_text() == "1"  # the row number, in a column of its own
    country = cells.nth(1).locator("a.iri")
    assert country.inner_text() == "Spain"  # the label, the IRI as the link
    assert country.get_attribute("title") == PREFIXES["place"] + "es"
    assert country.get_attribute("href") == "/id/place/es"
    assert re.fullmatch(r"\d+", cells.nth(2).inner_text())  # a number, not "12"^^xsd:integer
    assert "number" in cells.nth(2).get_attribute("class")
    assert cells.nth(3).inner_text() == "2024-05-01"
    assert "^^" not in table.inner_text() and "xsd:" not in table.inner_text()
    geometry = page.evaluate(
        "() => { const pane = document.querySelector('.yasr').getBoundingClientRect();"
        " const row = document.querySelector('.yasr table.result-table tbody tr');"
        " const number = row.cells[0].getBoundingClientRect(), first = row.cells[1].getBoundingClientRect();"
        " const last = row.cells[row.cells.length - 1].getBoundingClientRect();"
        " return {numberRight: number.right, firstLeft: first.left, lastRight: last.right, paneRight: pane.right}; }"
    )
    assert geometry["numberRight"] <= geometry["firstLeft"] + 0.5  # row numbers do not run into the first column
    assert geometry["lastRight"] <= geometry["paneRight"] + 0.5  # the last column is not cut off
    page.screenshot(path=str(artifacts / "editor-table.png"), full_page=True)
    offline.check()
