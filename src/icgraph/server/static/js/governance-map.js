// The governance map: organisations in tiers (international at the top, local at the bottom), lines for
// shared practices, partnerships and memberships. Positions come from the server (/api/map); this draws them.
(function () {
  "use strict";
  const svg = document.getElementById("governance-map");
  // The data comes from /api/map/drawing (the page's filters), fetched: at 100x it is too large to inline in the page.
  // Its nodes and edges are rows of named fields; an edge's ends are positions in the nodes.
  fetch(svg.dataset.source, { headers: { Accept: "application/json" } }).then((r) => r.json()).then(read).then(draw);

  function objects(table) {
    return table.rows.map((row) => Object.fromEntries(table.fields.map((name, index) => [name, row[index]])));
  }

  function read(data) {
    const nodes = objects(data.nodes);
    const edges = objects(data.edges).map((edge) => ({ ...edge, source: nodes[edge.source].id, target: nodes[edge.target].id }));
    return { ...data, nodes: nodes, edges: edges };
  }

  function draw(data) {
    const NS = "http://www.w3.org/2000/svg";
    const width = 1200, rowHeight = 34, tierGap = 44, left = 130, right = 20, top = 20;

    // Vertical layout: each tier takes as many rows as the server gave it.
    let y = top;
    const tierTop = {};
    data.tiers.forEach((tier, index) => {
      tierTop[index] = y;
      y += tier.rows * rowHeight + tierGap;
    });
    const height = y;
    svg.setAttribute("viewBox", `0 0 ${width} ${height}`);

    function el(name, attributes, parent) {
      const node = document.createElementNS(NS, name);
      for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
      (parent || svg).appendChild(node);
      return node;
    }

    data.tiers.forEach((tier, index) => {
      const band = el("g", { class: "tier tier-" + tier.id });
      el("rect", { x: 0, y: tierTop[index] - 14, width: width, height: tier.rows * rowHeight + 10, class: "tier-band" }, band);
      const label = el("text", { x: 8, y: tierTop[index] + 4, class: "tier-label" }, band);
      label.textContent = `${tier.label} (${tier.count})`;
    });

    const position = {};
    data.nodes.forEach((node) => {
      position[node.id] = {
        x: left + node.x * (width - left - right),
        y: tierTop[node.tier] + node.row * rowHeight + 4,
      };
    });

    const edges = el("g", { class: "edges" });
    data.edges.forEach((edge) => {
      const a = position[edge.source], b = position[edge.target];
      if (!a || !b) return;
      const bend = a.y === b.y ? -Math.min(60, Math.abs(a.x - b.x) / 4) : 0;
      const path = el("path", {
        d: `M${a.x},${a.y} Q${(a.x + b.x) / 2},${(a.y + b.y) / 2 + bend} ${b.x},${b.y}`,
        class: "edge edge-" + edge.kind,
        "data-source": edge.source, "data-target": edge.target,
      }, edges);
      const title = el("title", {}, path);
      title.textContent = edge.practices
        ? `${edge.practices} shared practice(s)` : edge.kind === "membership" ? "member of the network" : "same partnership";
    });

    const nodes = el("g", { class: "nodes" });
    const info = document.getElementById("node-info");
    data.nodes.forEach((node) => {
      const p = position[node.id];
      const link = el("a", { href: node.url, class: "node level-" + node.level, "data-id": node.id }, nodes);
      link.setAttributeNS("http://www.w3.org/1999/xlink", "xlink:title", node.label);
      el("circle", { cx: p.x, cy: p.y, r: Math.min(11, 4 + Math.sqrt(node.degree || 1)) }, link);
      const title = el("title", {}, link);
      title.textContent = `${node.label} — ${node.level}${node.countryLabel ? ", " + node.countryLabel : ""}`;
      link.addEventListener("mouseenter", () => {
        info.textContent = title.textContent;
        svg.querySelectorAll(".edge").forEach((e) => {
          e.classList.toggle("highlight", e.dataset.source === node.id || e.dataset.target === node.id);
        });
      });
      link.addEventListener("mouseleave", () => {
        svg.querySelectorAll(".edge.highlight").forEach((e) => e.classList.remove("highlight"));
      });
    });
    svg.setAttribute("data-ready", "true");
  }

  // Filters: every change is a new URL (so each state can be shared), answered by the server.
  const form = document.getElementById("map-filters");
  form.querySelectorAll("select").forEach((select) => {
    select.addEventListener("change", () => {
      const params = new URLSearchParams();
      form.querySelectorAll("select").forEach((s) => { if (s.value) params.set(s.name, s.value); });
      const query = params.toString();
      window.location.assign("/map" + (query ? "?" + query : ""));
    });
  });
})();
