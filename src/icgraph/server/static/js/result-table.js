// The results table of the SPARQL editor: a YASR plugin that shows plain values.
// Numbers as numbers (no "0"^^xsd:integer), dates as dates, IRIs as links labelled from the
// graph (one extra query to this server's /sparql for the labels of the IRIs on the page),
// a row-number column of its own, and columns that wrap instead of running off the edge.
// Registered as "table" in place of YASR's DataTables table (query-editor.js).
(function () {
  "use strict";

  const XSD = "http://www.w3.org/2001/XMLSchema#";
  const NUMERIC = new Set(["integer", "decimal", "double", "float", "int", "long", "short", "byte",
    "nonNegativeInteger", "positiveInteger", "nonPositiveInteger", "negativeInteger",
    "unsignedInt", "unsignedLong", "unsignedShort", "unsignedByte"].map((t) => XSD + t));
  const TEMPORAL = new Set(["date", "dateTime", "gYear", "gYearMonth", "time"].map((t) => XSD + t));
  const PAGE = 200;
  // An IRI that can be written between < > in a query as it is.
  const PLAIN_IRI = /^[^<>"{}|^`\\\u0000-\u0020]+$/;

  function compact(iri, prefixes) {
    let best = null;
    for (const [prefix, namespace] of Object.entries(prefixes || {})) {
      if (iri.startsWith(namespace) && iri.length > namespace.length && (!best || namespace.length > best[1].length)) {
        best = [prefix, namespace];
      }
    }
    return best ? best[0] + ":" + iri.slice(best[1].length) : iri;
  }

  // Where a link goes: icgraph's own IRIs open on this server (it serves /id/, /def, /graph/), others as they are.
  function href(iri, root) {
    return root && iri.startsWith(root) ? "/" + iri.slice(root.length) : iri;
  }

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // One cell's content; IRI links get their label later (fillLabels).
  function cell(binding, options) {
    const td = document.createElement("td");
    if (!binding) return td;
    if (binding.type === "uri") {
      const link = element("a", "iri", compact(binding.value, options.prefixes));
      link.href = href(binding.value, options.root);
      link.title = binding.value;
      link.dataset.iri = binding.value;
      td.appendChild(link);
    } else if (binding.type === "bnode") {
      td.appendChild(element("span", "bnode", "_:" + binding.value));
    } else {
      const datatype = binding.datatype || "";
      if (NUMERIC.has(datatype)) {
        td.className = "number";
        td.textContent = binding.value;
      } else if (TEMPORAL.has(datatype)) {
        const time = element("time", "date", binding.value);
        time.setAttribute("datetime", binding.value);
        td.appendChild(time);
      } else {
        td.textContent = binding.value;
        if (binding["xml:lang"]) td.lang = binding["xml:lang"];
      }
      if (datatype && !NUMERIC.has(datatype) && !TEMPORAL.has(datatype) && datatype !== XSD + "string") {
        td.appendChild(element("span", "datatype", " " + compact(datatype, options.prefixes)));
      }
    }
    return td;
  }

  // Labels for the IRIs shown: one query to the endpoint, the IRIs bound by VALUES (never text from the page).
  async function fillLabels(table, options) {
    const links = Array.from(table.querySelectorAll("a.iri[data-iri]"));
    const iris = Array.from(new Set(links.map((a) => a.dataset.iri))).filter((iri) => PLAIN_IRI.test(iri)).slice(0, 500);
    if (!iris.length || !options.endpoint) return;
    const query = "PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>\n" +
      "PREFIX skos: <http://www.w3.org/2004/02/skos/core#>\nPREFIX dct: <http://purl.org/dc/terms/>\n" +
      "SELECT ?iri (SAMPLE(?l) AS ?label) WHERE {\n  VALUES ?iri { " + iris.map((iri) => "<" + iri + ">").join(" ") + " }\n" +
      "  ?iri skos:prefLabel|dct:title|rdfs:label ?l\n} GROUP BY ?iri";
    let labels;
    try {
      const response = await fetch(options.endpoint, {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded", Accept: "application/sparql-results+json" },
        body: new URLSearchParams({ query: query }).toString(),
      });
      if (!response.ok) return;
      labels = new Map((await response.json()).results.bindings.map((b) => [b.iri.value, b.label.value]));
    } catch (error) {
      return; // the table stays as it is, with prefixed names
    }
    links.forEach((link) => {
      const label = labels.get(link.dataset.iri);
      if (!label) return;
      const name = link.textContent;
      link.textContent = label;
      link.parentNode.appendChild(element("span", "curie", name));
    });
    table.dataset.labelled = "true";
  }

  // The table of a SELECT result (SPARQL JSON results): row numbers, one column a variable.
  function renderTable(container, json, options) {
    const variables = json.head.vars || [];
    const rows = json.results.bindings || [];
    const wrapper = element("div", "result-table-wrapper");
    const table = element("table", "dataTable result-table");
    const head = table.createTHead().insertRow();
    head.appendChild(element("th", "row-number", "#"));
    variables.forEach((name) => head.appendChild(element("th", null, name)));
    const body = table.createTBody();
    let shown = 0;
    const more = element("button", "result-more");
    more.type = "button";

    function showMore() {
      const until = Math.min(rows.length, shown + PAGE);
      for (; shown < until; shown++) {
        const tr = body.insertRow();
        tr.appendChild(element("td", "row-number", String(shown + 1)));
        variables.forEach((name) => tr.appendChild(cell(rows[shown][name], options)));
      }
      more.hidden = shown >= rows.length;
      more.textContent = "Show " + Math.min(PAGE, rows.length - shown) + " more of " + rows.length + " rows";
      fillLabels(table, options);
    }

    more.addEventListener("click", showMore);
    wrapper.appendChild(table);
    container.appendChild(wrapper);
    container.appendChild(element("p", "result-count muted", rows.length + (rows.length === 1 ? " row" : " rows")));
    container.appendChild(more);
    showMore();
    return table;
  }

  // The YASR plugin around renderTable.
  class PlainTable {
    constructor(yasr) {
      this.yasr = yasr;
      this.priority = 10;
      this.label = "Table";
    }

    canHandleResults() {
      const results = this.yasr.results;
      return !!results && results.getType() === "json" && Array.isArray(results.getBindings());
    }

    draw() {
      const options = PlainTable.options;
      const json = { head: { vars: this.yasr.results.getVariables() }, results: { bindings: this.yasr.results.getBindings() } };
      this.table = renderTable(this.yasr.resultsEl, json, options);
    }

    getIcon() {
      return element("span", "result-table-icon", "▦");
    }
  }
  PlainTable.options = { prefixes: {}, root: "", endpoint: "" };

  window.IcgraphResultTable = { PlainTable: PlainTable, renderTable: renderTable };
})();
