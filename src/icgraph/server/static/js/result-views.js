// Result views beyond the table, as YASR plugins (tabs beside "Table" and "Response"): a map, a network,
// a bar chart and a timeline. Each view looks at the shape of the result and offers itself only when it
// fits (canHandleResults); the others' tabs are hidden. Drawn with the vendored d3, topojson-client and
// world-atlas: nothing is loaded from another host. Must load after yasgui.min.js and before
// query-editor.js (plugins are registered before the editor is built).
(function () {
  "use strict";
  const XSD = "http://www.w3.org/2001/XMLSchema#";
  const NUMERIC = new Set(["integer", "decimal", "double", "float", "int", "long", "short", "byte", "nonNegativeInteger",
    "positiveInteger", "negativeInteger", "nonPositiveInteger", "unsignedInt", "unsignedLong", "unsignedShort", "unsignedByte"].map((t) => XSD + t));
  const DATES = new Set(["date", "dateTime", "gYear", "gYearMonth", "dateTimeStamp"].map((t) => XSD + t));
  const LABELS = ["http://www.w3.org/2000/01/rdf-schema#label", "http://www.w3.org/2004/02/skos/core#prefLabel",
    "http://purl.org/dc/terms/title", "http://xmlns.com/foaf/0.1/name", "https://schema.org/name", "http://schema.org/name"];
  const MAX_ROWS = 2000;  // beyond this a drawing says nothing a table does not; the views step aside
  const SVG = "http://www.w3.org/2000/svg";

  const editorConfig = JSON.parse(document.getElementById("editor-config").textContent);
  const prefixes = Object.entries(editorConfig.prefixes || {}).sort((a, b) => b[1].length - a[1].length);
  const PLACE = (editorConfig.prefixes || {}).place;
  const worldUrl = document.currentScript.dataset.world;
  let countryCodes = null;  // ISO 3166-1 alpha-2 / alpha-3 -> numeric (the ids of world-atlas), from /api/country-codes
  let world = null;

  // ---------------------------------------------------------------- the result as rows and columns

  function compact(iri) {
    for (const [prefix, namespace] of prefixes) {
      if (iri.startsWith(namespace)) return prefix + ":" + iri.slice(namespace.length);
    }
    return iri;
  }

  function solutions(yasr) {
    const results = yasr.results;
    if (!results || results.getType() !== "json" || !results.getVariables) return null;
    const vars = results.getVariables() || [];
    const rows = results.getBindings() || [];
    if (!vars.length || !rows.length || rows.length > MAX_ROWS) return null;
    return { vars: vars, rows: rows };
  }

  function every(rows, variable, test) {
    let seen = 0;
    for (const row of rows) {
      const term = row[variable];
      if (!term) continue;
      if (!test(term)) return false;
      seen += 1;
    }
    return seen > 0;
  }

  const isIri = (t) => t.type === "uri";
  const isNumber = (t) => (t.type === "literal" || t.type === "typed-literal") && NUMERIC.has(t.datatype) && isFinite(Number(t.value));
  const isYearNumber = (t) => isNumber(t) && /^\d{4}$/.test(t.value) && +t.value >= 1000 && +t.value <= 2200;
  const isDate = (t) => (t.type === "literal" || t.type === "typed-literal") && DATES.has(t.datatype) && /^-?\d{4}/.test(t.value);

  function labelOf(term, row, variable) {
    if (!term) return "";
    for (const name of [variable + "Label", variable + "Name", variable + "Title"]) {
      if (row && row[name] && row[name].type !== "uri") return row[name].value;
    }
    return term.type === "uri" ? compact(term.value) : term.value;
  }

  // A column of labels: the first column that is neither a number nor a date (a literal before an IRI).
  function labelColumn(table, skip) {
    const candidates = table.vars.filter((v) => !skip.includes(v) && every(table.rows, v, (t) => !isNumber(t) && !isDate(t)));
    return candidates.find((v) => every(table.rows, v, (t) => t.type !== "uri")) || candidates[0] || null;
  }

  function yearOf(term) {
    const match = /^(-?\d{4})(?:-(\d{2}))?(?:-(\d{2}))?/.exec(term.value);
    if (!match) return null;
    return new Date(Date.UTC(+match[1], match[2] ? +match[2] - 1 : 0, match[3] ? +match[3] : 1));
  }

  // ---------------------------------------------------------------- shapes

  function countryOf(term) {
    if (!countryCodes) return null;
    let code = null;
    if (term.type === "uri" && PLACE && term.value.startsWith(PLACE)) code = term.value.slice(PLACE.length);
    else if (term.type !== "uri" && /^[A-Za-z]{2,3}$/.test(term.value)) code = term.value;
    const numeric = code ? countryCodes[code.toUpperCase()] : null;
    return numeric ? String(Number(numeric)) : null;  // world-atlas ids are zero-padded ("040"); compare as numbers
  }

  function mapShape(yasr) {
    const table = solutions(yasr);
    if (!table) return null;
    const lat = table.vars.find((v) => /^(lat|latitude)$/i.test(v) && every(table.rows, v, (t) => isFinite(Number(t.value))));
    const lon = table.vars.find((v) => /^(lon|long|lng|longitude)$/i.test(v) && every(table.rows, v, (t) => isFinite(Number(t.value))));
    const country = countryCodes && table.vars.find((v) => every(table.rows, v, (t) => countryOf(t) !== null));
    if (!(lat && lon) && !country) return null;
    const value = table.vars.find((v) => v !== lat && v !== lon && every(table.rows, v, isNumber));
    const label = labelColumn(table, [country, lat, lon].filter(Boolean));
    return { table: table, lat: lat && lon ? lat : null, lon: lat && lon ? lon : null, country: country || null, value: value || null, label: label };
  }

  function chartShape(yasr) {
    const table = solutions(yasr);
    if (!table || table.rows.length > 300) return null;
    const value = table.vars.find((v) => every(table.rows, v, isNumber));
    if (!value) return null;
    const label = labelColumn(table, [value]) || table.vars.find((v) => v !== value && every(table.rows, v, (t) => isDate(t) || isYearNumber(t)));
    return label ? { table: table, label: label, value: value } : null;
  }

  function timelineShape(yasr) {
    const table = solutions(yasr);
    if (!table) return null;
    const dated = table.vars.filter((v) => every(table.rows, v, isDate) || (/year|start|end|date/i.test(v) && every(table.rows, v, isYearNumber)));
    if (!dated.length) return null;
    const start = dated[0];
    const end = dated.find((v) => v !== start && /end|until|to$/i.test(v)) || null;
    const label = labelColumn(table, dated);
    return { table: table, start: start, end: end, label: label };
  }

  // Edges: the triples of a CONSTRUCT / DESCRIBE whose object is a node, or the first two IRI columns of a SELECT.
  function networkShape(yasr) {
    const results = yasr.results;
    if (!results) return null;
    const nodes = new Map(), edges = [];
    const node = (id, kind) => {
      if (!nodes.has(id)) nodes.set(id, { id: id, label: kind === "BlankNode" ? "[ ]" : compact(id), kind: kind, degree: 0 });
      return nodes.get(id);
    };
    if (results.getType() === "ttl") {
      const statements = results.getStatements() || [];
      for (const quad of statements) {
        if (quad.object.termType === "Literal") {
          if (LABELS.includes(quad.predicate.value)) node(quad.subject.value, quad.subject.termType).label = quad.object.value;
          continue;
        }
        edges.push({ source: node(quad.subject.value, quad.subject.termType), target: node(quad.object.value, quad.object.termType), label: compact(quad.predicate.value) });
      }
    } else {
      const table = solutions(yasr);
      if (!table) return null;
      const columns = table.vars.filter((v) => every(table.rows, v, isIri));
      if (columns.length < 2) return null;
      const [from, to] = columns;
      for (const row of table.rows) {
        if (!row[from] || !row[to]) continue;
        const a = node(row[from].value, "NamedNode"), b = node(row[to].value, "NamedNode");
        a.label = labelOf(row[from], row, from);
        b.label = labelOf(row[to], row, to);
        edges.push({ source: a, target: b, label: from + " → " + to });
      }
    }
    if (!edges.length || nodes.size > 1500) return null;
    edges.forEach((e) => { e.source.degree += 1; e.target.degree += 1; });
    return { nodes: Array.from(nodes.values()), edges: edges };
  }

  // ---------------------------------------------------------------- drawing helpers

  function frame(yasr, name, caption) {
    const box = document.createElement("div");
    box.className = "result-view result-view-" + name;
    box.dataset.view = name;
    const note = document.createElement("p");
    note.className = "result-view-caption muted";
    note.textContent = caption;
    box.appendChild(note);
    yasr.resultsEl.appendChild(box);
    return box;
  }

  function link(parent, iri) {
    if (!iri || !/^https?:/.test(iri)) return parent;
    return parent.append("a").attr("href", iri);
  }

  // ---------------------------------------------------------------- the views

  class MapView {
    constructor(yasr) { this.yasr = yasr; this.label = "Map"; this.priority = 5; watch(yasr); }
    canHandleResults() { return !!mapShape(this.yasr); }
    getIcon() { return icon("M2 4l5-2 6 2 5-2v14l-5 2-6-2-5 2z"); }
    async draw() {
      const shape = mapShape(this.yasr);
      if (!shape) return;
      const box = frame(this.yasr, "map", mapCaption(shape));
      if (!world) world = await fetch(worldUrl).then((r) => r.json());
      const width = 960, height = 520;
      const svg = d3.select(box).append("svg").attr("viewBox", `0 0 ${width} ${height}`).attr("class", "result-map").attr("role", "img");
      const countries = topojson.feature(world, world.objects.countries);
      const byCountry = new Map();
      if (shape.country) {
        for (const row of shape.table.rows) {
          const numeric = row[shape.country] && countryOf(row[shape.country]);
          if (!numeric) continue;
          const entry = byCountry.get(numeric) || { value: 0, labels: [], iri: row[shape.country].type === "uri" ? row[shape.country].value : null };
          entry.value += shape.value ? Number(row[shape.value].value) : 1;
          if (shape.label && row[shape.label]) entry.labels.push(labelOf(row[shape.label], row, shape.label));
          byCountry.set(numeric, entry);
        }
      }
      const points = shape.lat ? shape.table.rows.filter((r) => r[shape.lat] && r[shape.lon]).map((r) => ({
        lat: Number(r[shape.lat].value), lon: Number(r[shape.lon].value), row: r,
      })) : [];
      // Fit the countries and points that carry data (Europe, mostly), not the whole world.
      // A country counts by its largest polygon (mainland France, not French Guiana; Denmark, not Greenland).
      const focus = countries.features.filter((f) => byCountry.has(String(Number(f.id)))).map(mainland);
      const fit = { type: "FeatureCollection", features: focus.concat(points.map((p) => ({ type: "Feature", geometry: { type: "Point", coordinates: [p.lon, p.lat] } }))) };
      const projection = d3.geoNaturalEarth1().fitExtent([[10, 10], [width - 10, height - 10]], fit.features.length ? fit : countries);
      const path = d3.geoPath(projection);
      const max = d3.max(Array.from(byCountry.values()), (c) => c.value) || 1;
      const shade = d3.scaleSequential(d3.interpolateBlues).domain([0, max * 1.2]);
      svg.append("g").attr("class", "countries").selectAll("path").data(countries.features).join("path")
        .attr("d", path)
        .attr("class", (f) => byCountry.has(String(Number(f.id))) ? "country has-data" : "country")
        .attr("data-numeric", (f) => String(Number(f.id)))
        .style("fill", (f) => byCountry.has(String(Number(f.id))) ? shade(byCountry.get(String(Number(f.id))).value) : null)
        .append("title").text((f) => {
          const c = byCountry.get(String(Number(f.id)));
          return (f.properties.name || "") + (c ? `: ${c.value}${shape.value ? " (" + shape.value + ")" : " row(s)"}` : "");
        });
      const dots = svg.append("g").attr("class", "points").selectAll("circle").data(points).join("circle")
        .attr("class", "point")
        .attr("r", 4)
        .attr("cx", (p) => (projection([p.lon, p.lat]) || [-10, -10])[0])
        .attr("cy", (p) => (projection([p.lon, p.lat]) || [-10, -10])[1]);
      dots.append("title").text((p) => (shape.label ? labelOf(p.row[shape.label], p.row, shape.label) + " " : "") + `(${p.lat}, ${p.lon})`);
    }
  }

  function mainland(feature) {
    if (feature.geometry.type !== "MultiPolygon") return feature;
    const polygons = feature.geometry.coordinates.map((c) => ({ type: "Polygon", coordinates: c }));
    const largest = polygons.reduce((a, b) => (d3.geoArea(b) > d3.geoArea(a) ? b : a));
    return { type: "Feature", geometry: largest };
  }

  function mapCaption(shape) {
    const parts = [];
    if (shape.country) parts.push(`countries from ?${shape.country}` + (shape.value ? `, shaded by ?${shape.value}` : ", shaded by the number of rows"));
    if (shape.lat) parts.push(`points at ?${shape.lat} / ?${shape.lon}`);
    return "Map: " + parts.join("; ") + ". Outlines: Natural Earth via world-atlas.";
  }

  class NetworkView {
    constructor(yasr) { this.yasr = yasr; this.label = "Network"; this.priority = 5; watch(yasr); }
    canHandleResults() { return !!networkShape(this.yasr); }
    getIcon() { return icon("M4 4h3v3H4zM13 4h3v3h-3zM8 13h3v3H8zM6 6l3 8M14 6l-4 8M7 5h6"); }
    draw() {
      const shape = networkShape(this.yasr);
      if (!shape) return;
      const box = frame(this.yasr, "network", `Network: ${shape.nodes.length} nodes, ${shape.edges.length} edges` +
        (this.yasr.results.getType() === "ttl" ? " (the triples whose object is a resource; labels from rdfs:label, skos:prefLabel, dct:title, name)." : " (the first two IRI columns as edges)."));
      const width = 960, height = 620;
      const svg = d3.select(box).append("svg").attr("viewBox", `0 0 ${width} ${height}`).attr("class", "result-network").attr("role", "img");
      // The layout runs to rest before drawing (a fixed number of ticks): the same result gives the same picture.
      shape.nodes.forEach((n, i) => { n.x = width / 2 + 200 * Math.cos(i); n.y = height / 2 + 200 * Math.sin(i); });
      const simulation = d3.forceSimulation(shape.nodes)
        .randomSource(d3.randomLcg(42))
        .force("link", d3.forceLink(shape.edges).distance(60))
        .force("charge", d3.forceManyBody().strength(-120))
        .force("center", d3.forceCenter(width / 2, height / 2))
        .force("collide", d3.forceCollide(8))
        .force("x", d3.forceX(width / 2).strength(0.07))  // pull separate components together
        .force("y", d3.forceY(height / 2).strength(0.07))
        .stop();
      for (let i = 0; i < 300; i += 1) simulation.tick();
      const [x0, x1] = d3.extent(shape.nodes, (n) => n.x), [y0, y1] = d3.extent(shape.nodes, (n) => n.y);
      svg.attr("viewBox", `${x0 - 60} ${y0 - 30} ${Math.max(200, x1 - x0 + 120)} ${Math.max(150, y1 - y0 + 60)}`);
      svg.append("g").attr("class", "edges").selectAll("line").data(shape.edges).join("line")
        .attr("class", "edge")
        .attr("x1", (e) => e.source.x).attr("y1", (e) => e.source.y).attr("x2", (e) => e.target.x).attr("y2", (e) => e.target.y)
        .append("title").text((e) => `${e.source.label} — ${e.label} → ${e.target.label}`);
      const nodes = svg.append("g").attr("class", "nodes").selectAll("g").data(shape.nodes).join("g").attr("class", "node");
      nodes.each(function (n) {
        const target = link(d3.select(this), n.kind === "NamedNode" ? n.id : null);
        target.append("circle").attr("cx", n.x).attr("cy", n.y).attr("r", Math.min(12, 3 + Math.sqrt(n.degree)));
        target.append("text").attr("x", n.x + 6).attr("y", n.y - 6).text(n.label.length > 40 ? n.label.slice(0, 39) + "…" : n.label);
        target.append("title").text(n.kind === "NamedNode" ? `${n.label}\n${n.id}` : n.label);
      });
    }
  }

  class ChartView {
    constructor(yasr) { this.yasr = yasr; this.label = "Chart"; this.priority = 5; watch(yasr); }
    canHandleResults() { return !!chartShape(this.yasr); }
    getIcon() { return icon("M3 17V9h3v8zM8.5 17V3h3v14zM14 17v-6h3v6z"); }
    draw() {
      const shape = chartShape(this.yasr);
      if (!shape) return;
      const box = frame(this.yasr, "chart", `Bar chart: ?${shape.value} for each ?${shape.label}, in the order of the result.`);
      const data = shape.table.rows.filter((r) => r[shape.value]).map((r) => ({
        label: r[shape.label] ? labelOf(r[shape.label], r, shape.label) : "(none)", value: Number(r[shape.value].value),
        iri: r[shape.label] && r[shape.label].type === "uri" ? r[shape.label].value : null,
      }));
      const bar = 18, left = 260, right = 70, width = 960, height = data.length * bar + 40;
      const x = d3.scaleLinear().domain([Math.min(0, d3.min(data, (d) => d.value)), d3.max(data, (d) => d.value) || 1]).nice().range([left, width - right]);
      const svg = d3.select(box).append("svg").attr("viewBox", `0 0 ${width} ${height}`).attr("class", "result-chart").attr("role", "img");
      svg.append("g").attr("transform", "translate(0,20)").call(d3.axisTop(x).ticks(6));
      const rows = svg.append("g").selectAll("g").data(data).join("g").attr("class", "bar")
        .attr("transform", (d, i) => `translate(0,${24 + i * bar})`);
      rows.append("text").attr("class", "bar-label").attr("x", left - 6).attr("y", bar / 2 + 4).attr("text-anchor", "end")
        .text((d) => d.label.length > 42 ? d.label.slice(0, 41) + "…" : d.label);
      rows.append("rect").attr("x", (d) => x(Math.min(0, d.value))).attr("y", 2).attr("height", bar - 4)
        .attr("width", (d) => Math.abs(x(d.value) - x(0)));
      rows.append("text").attr("class", "bar-value").attr("x", (d) => x(Math.max(0, d.value)) + 4).attr("y", bar / 2 + 4).text((d) => d.value);
      rows.append("title").text((d) => `${d.label}: ${d.value}`);
    }
  }

  class TimelineView {
    constructor(yasr) { this.yasr = yasr; this.label = "Timeline"; this.priority = 5; watch(yasr); }
    canHandleResults() { return !!timelineShape(this.yasr); }
    getIcon() { return icon("M2 10h16M5 6v8M10 6v8M15 6v8"); }
    draw() {
      const shape = timelineShape(this.yasr);
      if (!shape) return;
      const box = frame(this.yasr, "timeline", `Timeline: each row at ?${shape.start}` + (shape.end ? ` until ?${shape.end}` : "") +
        (shape.label ? `, labelled by ?${shape.label}.` : "."));
      const items = shape.table.rows.filter((r) => r[shape.start]).map((r) => {
        const start = yearOf(r[shape.start]);
        let end = shape.end && r[shape.end] ? yearOf(r[shape.end]) : null;
        if (end && /^-?\d{4}$/.test(r[shape.end].value.replace(/Z|[+-]\d\d:\d\d$/, ""))) end = d3.utcYear.offset(end, 1);  // a year ends on 31 December
        return { start: start, end: end && end >= start ? end : null, row: r,
          label: shape.label && r[shape.label] ? labelOf(r[shape.label], r, shape.label) : r[shape.start].value };
      }).filter((d) => d.start).sort((a, b) => a.start - b.start);
      const lane = 16, left = 20, right = 280, width = 960, height = items.length * lane + 40;
      const extent = d3.extent(items.flatMap((d) => d.end ? [d.start, d.end] : [d.start]));
      if (+extent[0] === +extent[1]) { extent[0] = d3.utcYear.offset(extent[0], -1); extent[1] = d3.utcYear.offset(extent[1], 1); }
      const x = d3.scaleUtc().domain(extent).nice().range([left, width - right]);
      const svg = d3.select(box).append("svg").attr("viewBox", `0 0 ${width} ${height}`).attr("class", "result-timeline").attr("role", "img");
      svg.append("g").attr("transform", "translate(0,20)").call(d3.axisTop(x).ticks(8));
      const marks = svg.append("g").selectAll("g").data(items).join("g").attr("class", "event")
        .attr("transform", (d, i) => `translate(0,${28 + i * lane})`);
      marks.filter((d) => d.end).append("rect").attr("class", "span").attr("x", (d) => x(d.start)).attr("y", 0)
        .attr("width", (d) => Math.max(2, x(d.end) - x(d.start))).attr("height", lane - 6);
      marks.filter((d) => !d.end).append("circle").attr("class", "moment").attr("cx", (d) => x(d.start)).attr("cy", (lane - 6) / 2).attr("r", 4);
      marks.append("text").attr("x", (d) => x(d.end || d.start) + 8).attr("y", lane - 7)
        .text((d) => d.label.length > 50 ? d.label.slice(0, 49) + "…" : d.label);
      marks.append("title").text((d) => `${d.label}: ${d.row[shape.start].value}${d.end ? " – " + d.row[shape.end].value : ""}`);
    }
  }

  // Only the views that fit the result have a tab: YASR greys out the others; here they are hidden.
  const VIEWS = ["map", "network", "chart", "timeline"];
  const watched = new WeakSet();

  function refreshTabs(yasr) {
    if (!yasr.pluginSelectorsEl) return;
    for (const name of VIEWS) {
      const button = yasr.pluginSelectorsEl.querySelector(".select_" + name);
      const plugin = yasr.plugins[name];
      if (button && plugin) button.parentElement.hidden = !yasr.results || !plugin.canHandleResults();
    }
  }

  function watch(yasr) {
    if (watched.has(yasr)) return;
    watched.add(yasr);
    yasr.on("drawn", () => refreshTabs(yasr));
    yasr.on("change", () => refreshTabs(yasr));
    setTimeout(() => refreshTabs(yasr), 0);  // the tabs are drawn after the plugins are made
  }

  function icon(pathData) {
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", "0 0 20 20");
    svg.setAttribute("width", "16");
    svg.setAttribute("height", "16");
    svg.setAttribute("aria-hidden", "true");
    const path = document.createElementNS(SVG, "path");
    path.setAttribute("d", pathData);
    path.setAttribute("class", "view-icon");
    svg.appendChild(path);
    return svg;
  }

  Yasr.registerPlugin("map", MapView);
  Yasr.registerPlugin("network", NetworkView);
  Yasr.registerPlugin("chart", ChartView);
  Yasr.registerPlugin("timeline", TimelineView);

  // The country codes come from the server (pycountry), once; results that arrive before them are
  // looked at again when they come (the map tab then appears).
  fetch(document.currentScript.dataset.countries).then((r) => r.json()).then((codes) => {
    countryCodes = codes;
    const editor = window.icgraphEditor;
    if (!editor) return;
    Object.values(editor.yasgui._tabs || {}).forEach((tab) => {
      const yasr = tab.getYasr && tab.getYasr();
      if (yasr && yasr.results) { yasr.updatePluginSelectors(yasr.getCompatiblePlugins()); refreshTabs(yasr); }
    });
  });

  window.icgraphResultViews = { mapShape: mapShape, chartShape: chartShape, timelineShape: timelineShape, networkShape: networkShape };
})();
