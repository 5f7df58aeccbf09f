"""Issue 20, a probe of the running server: each test reproduces one finding on a fresh server.

Writes are all or nothing; stored IRIs never become script links; every page carries a CSP and
the other security headers; values from the URL stay data in the page; RDF parsers have limits
(no entity expansion, bounded nesting); refusals say what is wrong; wrong update tokens are
slowed, then refused.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import httpx
import pytest

from icgraph.publish import release_from_dump

from endpoint_fixtures import EX, PEOPLE, running_server

ID = "https://w3id.org/icgraph/id/"
ICG = "https://w3id.org/icgraph/def#"
SKOS = "http://www.w3.org/2004/02/skos/core#"
SCHEMA = "https://schema.org/"
OWL = "http://www.w3.org/2002/07/owl#"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
CURATION = "https://w3id.org/icgraph/graph/curation"

#: Data a malicious or careless writer could store: IRIs and URLs with script schemes.
HOSTILE = f"""
<{ID}actor/trojan> <{RDF_TYPE}> <{ICG}LocalAuthority> <{CURATION}> .
<{ID}actor/trojan> <{SKOS}prefLabel> "Trojan council"@en <{CURATION}> .
<{ID}actor/trojan> <{OWL}sameAs> <javascript:alert(document.domain)> <{CURATION}> .
<{ID}actor/trojan> <{OWL}sameAs> <https://www.wikidata.org/wiki/Q1> <{CURATION}> .
<{ID}actor/trojan> <http://www.w3.org/2000/01/rdf-schema#seeAlso> <data:text/html,%3Cb%3Ex> <{CURATION}> .
<{ID}actor/trojan> <http://xmlns.com/foaf/0.1/mbox> <mailto:council@example.org> <{CURATION}> .
<{ID}practice/trojan-practice> <{RDF_TYPE}> <{ICG}Practice> <{CURATION}> .
<{ID}practice/trojan-practice> <http://purl.org/dc/terms/title> "A practice"@en <{CURATION}> .
<{ID}practice/trojan-practice> <{ICG}reference> <{ID}practice/trojan-practice#ref-1> <{CURATION}> .
<{ID}practice/trojan-practice#ref-1> <http://www.w3.org/2000/01/rdf-schema#label> "click me" <{CURATION}> .
<{ID}practice/trojan-practice#ref-1> <{SCHEMA}url> "javascript:alert(1)"^^<http://www.w3.org/2001/XMLSchema#anyURI> <{CURATION}> .
<{ID}practice/trojan-practice> <{ICG}implementedIn> <javascript:alert(2)> <{CURATION}> .
<{EX}s> <{EX}p> "o" <javascript:alert(3)> .
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("hardening")
    dump = root / "people.nq"
    dump.write_text(PEOPLE + HOSTILE, encoding="utf-8")
    release_from_dump(dump, root / "store", root / "build")  # a release: /downloads, /search and /quality read its files
    with running_server(
        root / "store", build_dir=str(root / "build"), max_request_bytes=256 * 1024,
        failed_token_limits=["2/minute", "4/minute"],
    ) as live:
        yield live


def graph_of(server, graph: str) -> list[str]:
    response = httpx.get(server.url + "/store", params={"graph": graph}, headers={"Accept": "application/n-triples"})
    return sorted(response.text.splitlines()) if response.status_code == 200 else [f"status {response.status_code}"]


def write(server, method: str, body: bytes, content_type: str, graph: str = EX + "graph/people", **params) -> httpx.Response:
    return httpx.request(
        method, server.url + "/store", params={"graph": graph, **params}, content=body,
        headers={"Content-Type": content_type, **server.auth()}, timeout=30,
    )


# -- 1. writes are all or nothing -------------------------------------------------------------

TRUNCATED_MULTIPART = ("multipart/form-data; boundary=zz", b"--zz\r\ngarbage")
ONE_GOOD_ONE_BROKEN = (
    "multipart/form-data; boundary=zz",
    b'--zz\r\nContent-Disposition: form-data; name="a"; filename="a.ttl"\r\nContent-Type: text/turtle\r\n\r\n'
    b"<http://example.org/new> <http://example.org/p> 1 .\r\n"
    b'--zz\r\nContent-Disposition: form-data; name="b"; filename="b.ttl"\r\nContent-Type: text/turtle\r\n\r\n'
    b"<http://example.org/new> <http://example.org/p> \r\n--zz--\r\n",
)
BROKEN_BODIES = {
    "truncated multipart": TRUNCATED_MULTIPART,
    "multipart, second part broken": ONE_GOOD_ONE_BROKEN,
    "multipart without parts": ("multipart/form-data; boundary=zz", b"--zz--\r\n"),
    "turtle cut short": ("text/turtle", b"<http://example.org/a> <http://example.org/p> 1 .\n<http://example.org/b> <http://exa"),
    "n-triples with a bad line": ("application/n-triples", b"<http://example.org/a> <http://example.org/p> 1 .\n"),
    "rdf/xml cut short": ("application/rdf+xml", b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description'),
    "json-ld cut short": ("application/ld+json", b'{"@id": "http://example.org/a", "http://example.org/p": [1, 2'),
    "trig cut short": ("application/trig", b"<http://example.org/g> { <http://example.org/a> <http://example.org/p> 1 ."),
    "n-quads with a bad line": ("application/n-quads", b"<http://example.org/a> <http://example.org/p> 1 <http://example.org/g> .\nnonsense\n"),
}


@pytest.mark.parametrize("method", ["PUT", "POST"])
@pytest.mark.parametrize("name", list(BROKEN_BODIES))
def test_a_body_that_does_not_parse_completely_changes_nothing(server, method, name):
    """Issue 20: a truncated multipart PUT answered 204 and left the graph empty."""
    content_type, body = BROKEN_BODIES[name]
    before = graph_of(server, EX + "graph/people")
    assert len(before) == 3
    response = write(server, method, body, content_type)
    assert response.status_code == 400, (response.status_code, response.text)
    assert "nothing was written" in response.text
    assert graph_of(server, EX + "graph/people") == before


def test_the_400_says_where_the_body_broke(server):
    turtle = write(server, "PUT", BROKEN_BODIES["turtle cut short"][1], "text/turtle")
    assert re.search(r"line 2 between columns \d+ and \d+", turtle.text), turtle.text
    multipart = write(server, "PUT", *reversed(TRUNCATED_MULTIPART))
    assert "closing boundary '--zz--'" in multipart.text and "truncated" in multipart.text
    second = write(server, "POST", *reversed(ONE_GOOD_ONE_BROKEN))
    assert "part 2" in second.text
    xml = write(server, "PUT", *reversed(BROKEN_BODIES["rdf/xml cut short"]))
    assert "line 1, column" in xml.text


def test_direct_graph_writes_are_all_or_nothing_too(server):
    target = server.url + "/store/direct/graph"
    good = httpx.put(target, content=b"<http://example.org/a> <http://example.org/p> 1 .", headers={"Content-Type": "text/turtle", **server.auth()})
    assert good.status_code in (201, 204)
    for content_type, body in (TRUNCATED_MULTIPART, ("text/turtle", b"<http://example.org/a> <http://exa")):
        response = httpx.put(target, content=body, headers={"Content-Type": content_type, **server.auth()})
        assert response.status_code == 400
        assert httpx.get(target, headers={"Accept": "application/n-triples"}).text.strip() == "<http://example.org/a> <http://example.org/p> \"1\"^^<http://www.w3.org/2001/XMLSchema#integer> ."


def test_a_sparql_update_that_fails_part_way_changes_nothing(server):
    update = f"INSERT DATA {{ GRAPH <{EX}graph/half> {{ <{EX}a> <{EX}p> 1 }} }} ; CREATE GRAPH <{EX}graph/people>"
    response = httpx.post(server.url + "/update", data={"update": update}, headers=server.auth())
    assert response.status_code == 400
    assert graph_of(server, EX + "graph/half") == ["status 404"]


def test_a_valid_multipart_upload_still_works(server):
    body = (
        b'--zz\r\nContent-Disposition: form-data; name="a"; filename="a.ttl"\r\nContent-Type: text/turtle\r\n\r\n'
        b"<http://example.org/m> <http://example.org/p> 1 .\r\n"
        b'--zz\r\nContent-Disposition: form-data; name="b"; filename="b.nt"\r\nContent-Type: application/n-triples\r\n\r\n'
        b"<http://example.org/m> <http://example.org/p> <http://example.org/o> .\r\n--zz--\r\n"
    )
    response = write(server, "PUT", body, "multipart/form-data; boundary=zz", graph=EX + "graph/multi")
    assert response.status_code == 201, response.text
    assert len(graph_of(server, EX + "graph/multi")) == 2


# -- 2. stored IRIs never become script links -------------------------------------------------


class Links(HTMLParser):
    """Every href and src of a page, and every inline script, style attribute and event handler."""

    def __init__(self):
        super().__init__()
        self.targets: list[str] = []
        self.inline_scripts: list[str] = []
        self.inline_styles: list[str] = []
        self.handlers: list[str] = []
        self._script: dict | None = None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.targets += [value for name, value in attrs if name in ("href", "src", "action") and value is not None]
        self.handlers += [name for name, _ in attrs if name.startswith("on")]
        self.inline_styles += [value for name, value in attrs if name == "style"]
        if tag == "script":
            self._script = attributes
        if tag == "style":
            self.inline_styles.append("<style>")

    def handle_data(self, data):
        if self._script is not None and "src" not in self._script:
            if self._script.get("type") not in ("application/json", "application/ld+json") and data.strip():
                self.inline_scripts.append(data)

    def handle_endtag(self, tag):
        if tag == "script":
            self._script = None


def links_of(html: str) -> Links:
    parser = Links()
    parser.feed(html)
    return parser


def assert_only_safe_targets(html: str) -> None:
    for target in links_of(html).targets:
        assert re.match(r"^(https?:|mailto:|/(?!/)|#|$)", target), f"unsafe link target {target!r}"


@pytest.mark.parametrize("path, shown", [
    ("/id/actor/trojan.html", "javascript:alert(document.domain)"),
    ("/id/practice/trojan-practice.html", "click me"),
    ("/downloads", "Named graphs"),  # a graph named javascript:alert(3)
])
def test_iris_with_script_schemes_are_text_not_links(server, path, shown):
    """Issue 20: an IRI with the javascript: scheme in the data became a clickable link on its /id/ page."""
    response = httpx.get(server.url + path, headers={"Accept": "text/html"})
    assert response.status_code == 200, response.text
    assert shown in response.text  # still shown, as text
    assert_only_safe_targets(response.text)
    assert "javascript:" not in " ".join(links_of(response.text).targets)


def test_http_and_mailto_iris_stay_links(server):
    html = httpx.get(server.url + "/id/actor/trojan.html").text
    targets = links_of(html).targets
    assert "https://www.wikidata.org/wiki/Q1" in targets and "mailto:council@example.org" in targets


# -- 3. security headers and a strict CSP on every page --------------------------------------

PAGES = ["/", "/practices", "/search?q=people", "/map", "/query", "/sparql", "/docs", "/id/actor/trojan.html",
         "/downloads", "/.well-known/void", "/def", "/id/nothing-here"]


@pytest.mark.parametrize("path", PAGES)
def test_every_html_page_has_a_strict_csp_and_security_headers(server, path):
    """Issue 20: no page sent Content-Security-Policy, X-Content-Type-Options, frame-ancestors or Referrer-Policy."""
    response = httpx.get(server.url + path, headers={"Accept": "text/html"}, follow_redirects=True)
    assert response.headers["content-type"].startswith("text/html"), (path, response.status_code)
    policy = dict(part.strip().split(" ", 1) for part in response.headers["content-security-policy"].split(";"))
    assert policy["script-src"] == "'self'" and policy["style-src"].split()[0] == "'self'"
    assert all(source.startswith("'sha256-") for source in policy["style-src"].split()[1:])
    assert policy["frame-ancestors"] == "'none'" and policy["object-src"] == "'none'"
    assert "unsafe" not in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"]
    page = links_of(response.text)
    assert page.inline_scripts == [] and page.handlers == [] and page.inline_styles == []
    assert all(not re.match(r"^https?://(?!127\.0\.0\.1)", t) or "/id/" in path for t in page.targets if t.endswith((".js", ".css")))


def test_the_inline_styles_the_csp_allows_are_the_vendored_editors_own():
    """style-src lists hashes, not 'unsafe-inline': exactly the <style> texts YASGUI's column resizer inserts."""
    import base64
    import hashlib

    from icgraph.server.headers import VENDORED_STYLE_HASHES
    from icgraph.server.templating import HERE

    bundle = (HERE / "static" / "vendor" / "yasgui" / "yasgui.min.js").read_text(encoding="utf-8")
    table_rules = re.search(r"r\.createStyle\(a,`([^`]*)`\)", bundle).group(1)
    assert "createStyle(document.querySelector(`head`),`*{cursor:`+n.opt.dragCursor+`!important}`)" in bundle
    texts = [table_rules, "*{cursor:col-resize!important}"]
    expected = tuple(f"'sha256-{base64.b64encode(hashlib.sha256(t.encode()).digest()).decode()}'" for t in texts)
    assert VENDORED_STYLE_HASHES == expected


def test_other_responses_carry_nosniff_too(server):
    for response in (
        httpx.get(server.sparql, params={"query": "SELEC nonsense"}),
        httpx.get(server.url + "/api/search", params={"q": "x"}),
        httpx.post(server.url + "/update", data={"update": "CLEAR ALL"}),
    ):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


# -- 4. values from the URL stay data --------------------------------------------------------

CRAFTED = ["<!--<script>", "</script><script>alert(1)</script>", "a\u2028b\u2029c & <b> -->"]


@pytest.mark.parametrize("query", CRAFTED)
def test_a_query_from_the_url_cannot_bend_the_editor_page(server, query):
    """Issue 20: /query?query=<!--<script> left the page with one script instead of three."""
    html = httpx.get(server.url + "/query", params={"query": query}).text
    block = re.search(r'<script type="application/json" id="editor-config">(.*?)</script>', html, re.S)
    assert block and not re.search(r"[<>&\u2028\u2029]", block.group(1))
    assert json.loads(block.group(1))["defaultQuery"] == query
    plain = httpx.get(server.url + "/query", params={"query": "SELECT * WHERE { ?s ?p ?o }"}).text
    scripts = len(re.findall(r"<script\b", plain))  # the page's own scripts; the query adds none
    assert scripts >= 3 and len(re.findall(r"<script\b", html)) == scripts and html.count("</script>") == scripts


def test_a_browser_get_of_sparql_with_a_crafted_query_is_not_an_html_page(server):
    response = httpx.get(server.sparql, params={"query": "<!--<script>"}, headers={"Accept": "text/html"})
    assert response.status_code == 400 and response.headers["content-type"].startswith("text/plain")


# -- 5. parsers with limits ------------------------------------------------------------------

ENTITY_BOMB = (
    b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa">'
    b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">'
    b'<!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;"><!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;">]>'
    b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:ex="http://example.org/">'
    b'<rdf:Description rdf:about="http://example.org/x"><ex:p>&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;'
    b"</ex:p></rdf:Description></rdf:RDF>"
)


def test_rdf_xml_with_entities_is_refused(server):
    """Issue 20: a 600-byte RDF/XML body with internal entities expanded to a 10 MB literal."""
    assert len(ENTITY_BOMB) < 700
    response = write(server, "PUT", ENTITY_BOMB, "application/rdf+xml", graph=EX + "graph/bomb")
    assert response.status_code == 400
    assert "DOCTYPE" in response.text and "ENTITY" in response.text
    assert graph_of(server, EX + "graph/bomb") == ["status 404"]


def _deep(kind: str, depth: int) -> tuple[str, bytes]:
    if kind == "turtle":
        return "text/turtle", ("<http://e/s> <http://e/p> " + "[ <http://e/p> " * depth + "1" + " ]" * depth + " .").encode()
    if kind == "trig":
        return "application/trig", ("<http://e/g> { <http://e/s> <http://e/p> " + "( " * depth + "1" + " )" * depth + " . }").encode()
    if kind == "json-ld":
        return "application/ld+json", ('{"@id": "http://e/s", ' + '"http://e/p": {' * depth + '"@value": "x"' + "}" * depth + "}").encode()
    if kind == "rdf/xml":
        return "application/rdf+xml", (
            '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:e="http://e/"><rdf:Description rdf:about="http://e/s">'
            + "<e:p><rdf:Description>" * depth + "</rdf:Description></e:p>" * depth + "</rdf:Description></rdf:RDF>"
        ).encode()
    if kind == "n-triples":
        return "application/n-triples", ("<< " * depth + "<http://e/s> <http://e/p> <http://e/o>" + " >>" * depth + " <http://e/p> <http://e/o> .").encode()
    raise ValueError(kind)


@pytest.mark.parametrize("kind", ["turtle", "trig", "json-ld", "rdf/xml", "n-triples"])
def test_nesting_beyond_the_limit_is_refused(server, kind):
    content_type, body = _deep(kind, 200)
    response = write(server, "PUT", body, content_type, graph=EX + "graph/deep")
    assert response.status_code == 400
    assert "nest deeper than this endpoint's limit of 64 levels" in response.text or "nests deeper than this endpoint's limit of 64 levels" in response.text
    assert graph_of(server, EX + "graph/deep") == ["status 404"]


@pytest.mark.parametrize("kind", ["turtle", "trig", "json-ld", "rdf/xml"])
def test_ordinary_nesting_is_accepted(server, kind):
    content_type, body = _deep(kind, 5)
    response = write(server, "PUT", body, content_type, graph=EX + f"graph/shallow-{kind.replace('/', '-')}")
    assert response.status_code == 201, response.text


# -- 6. messages that say what is wrong ------------------------------------------------------


@pytest.mark.parametrize("path", ["/sparql", "/update"])
def test_deeply_nested_service_gets_a_message_not_a_recursion_error(server, path):
    """Issue 20: nested SERVICE answered 'maximum recursion depth exceeded while calling a Python object'."""
    nested = "SERVICE <http://example.org/s> { " * 300 + "?s ?p ?o" + " }" * 300
    if path == "/sparql":
        response = httpx.post(server.sparql, data={"query": "SELECT * WHERE { " + nested + " }"})
    else:
        response = httpx.post(server.url + "/update", data={"update": "INSERT { ?s ?p ?o } WHERE { " + nested + " }"}, headers=server.auth())
    assert response.status_code == 400
    assert "nests too deeply (SERVICE inside SERVICE" in response.text
    assert "recursion" not in response.text


def test_service_with_a_variable_endpoint_says_so(server):
    """Issue 20: SERVICE ?u was refused with a message about 'SERVICE <u>'."""
    response = httpx.post(server.sparql, data={"query": "SELECT * WHERE { SERVICE ?u { ?s ?p ?o } }"})
    assert response.status_code == 400
    assert "SERVICE ?u refused: a SERVICE with a variable endpoint is not allowed here" in response.text
    assert "<u>" not in response.text


# -- 7. wrong update tokens are slowed, then refused -----------------------------------------


def _from(address: str) -> httpx.Client:
    return httpx.Client(transport=httpx.HTTPTransport(local_address=address), timeout=30)


def _server_log(server) -> str:
    port = server.url.rsplit(":", 1)[1]
    return (server.store.parent / f"server-{port}.log").read_text(errors="replace")


def test_repeated_wrong_tokens_are_slowed_then_refused_and_logged(server):
    """Issue 20: nothing stopped a client from guessing the update token at full speed."""
    with _from("127.0.0.2") as guesser, _from("127.0.0.3") as bystander:
        wrong = {"Authorization": "Bearer guess"}
        statuses = [guesser.post(server.url + "/update", data={"update": "CLEAR ALL"}, headers=wrong).status_code for _ in range(4)]
        assert statuses == [403] * 4
        refused = guesser.post(server.url + "/update", data={"update": "CLEAR ALL"}, headers=wrong)
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert "Too many wrong update tokens" in refused.text
        # Refused whatever the token, on every update route, while the window lasts ...
        right = guesser.put(server.url + "/store", params={"graph": EX + "graph/x"}, content=b"", headers={"Content-Type": "text/turtle", **server.auth()})
        assert right.status_code == 429
        # ... and only for that client.
        assert bystander.post(server.url + "/update", data={"update": f"INSERT DATA {{ GRAPH <{EX}graph/ok> {{ <{EX}a> <{EX}p> 1 }} }}"}, headers=server.auth()).status_code == 204
    log = _server_log(server)
    assert log.count("Wrong update token from 127.0.0.2") == 4
    held = [float(x) for x in re.findall(r"Wrong update token from 127\.0\.0\.2 .*held back ([\d.]+) s", log)]
    assert held[:2] == [0.0, 0.0] and 0 < held[2] < held[3]  # slowed past the first rate, more and more
    assert "refused (429" in log


def test_the_right_token_is_never_slowed_or_refused(server):
    with _from("127.0.0.4") as client:
        for number in range(12):
            response = client.post(server.url + "/update", data={"update": f"INSERT DATA {{ GRAPH <{EX}graph/many> {{ <{EX}a> <{EX}p> {number} }} }}"}, headers=server.auth())
            assert response.status_code == 204
    assert "from 127.0.0.4" not in _server_log(server)
