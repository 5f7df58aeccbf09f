// Practices on a map: country outlines from the vendored world-atlas (no tile server), shaded by the
// number of practices, and a dot for each city or region at its schema:latitude / schema:longitude.
(function () {
  "use strict";
  const element = document.getElementById("practice-map");
  // The practices by place come from /api/map/places (the page's filters), fetched rather than inlined.
  Promise.all([fetch(element.dataset.source, { headers: { Accept: "application/json" } }).then((r) => r.json()),
               fetch(element.dataset.world).then((r) => r.json())]).then(([data, world]) => render(data, world));

  function render(data, world) {
    const svg = d3.select("#practice-map");
    const width = 960, height = 600;
    svg.attr("viewBox", `0 0 ${width} ${height}`);
    const info = document.getElementById("place-info");
    const counts = new Map(data.countries.filter((c) => c.numeric).map((c) => [String(Number(c.numeric)), c]));
    const max = d3.max(data.countries, (c) => c.count) || 1;
    const shade = d3.scaleSequential(d3.interpolateBlues).domain([0, max * 1.2]);
    const views = {
      europe: { type: "Feature", geometry: { type: "MultiPoint", coordinates: [[-24, 34], [45, 34], [45, 71], [-24, 71]] } },
    };

    const countries = topojson.feature(world, world.objects.countries);
    views.world = countries;
    const projection = d3.geoNaturalEarth1();
    const path = d3.geoPath(projection);
    const outlines = svg.append("g").attr("class", "countries");
    const dots = svg.append("g").attr("class", "places");

    function draw(view) {
      projection.fitSize([width, height], views[view]);
      outlines.selectAll("path").data(countries.features).join("path")
        .attr("d", path)
        .attr("class", (f) => counts.has(String(Number(f.id))) ? "country has-practices" : "country")
        .style("fill", (f) => counts.has(String(Number(f.id))) ? shade(counts.get(String(Number(f.id))).count) : null)
        .on("click", (event, f) => {
          const c = counts.get(String(Number(f.id)));
          if (c) window.location.assign(c.url);
        })
        .selectAll("title").data((f) => [f]).join("title")
        .text((f) => {
          const c = counts.get(String(Number(f.id)));
          return (f.properties.name || "") + (c ? `: ${c.count} practice(s)` : "");
        });
      const anchors = dots.selectAll("a").data(data.places, (p) => p.id).join((enter) => {
        const a = enter.append("a").attr("class", "place")
          .attr("href", (p) => p.practices.length === 1 ? p.practices[0].url : "/id/place/" + p.id)
          .attr("data-id", (p) => p.id);
        a.append("circle");
        a.append("title").text((p) => `${p.label}: ${p.practices.map((x) => x.title).join("; ")}`);
        a.on("mouseenter", (event, p) => { info.textContent = `${p.label}: ${p.practices.length} practice(s)`; });
        return a;
      });
      anchors.select("circle")
        .attr("cx", (p) => projection([p.lon, p.lat])[0])
        .attr("cy", (p) => projection([p.lon, p.lat])[1])
        .attr("r", (p) => 3 + 2 * Math.sqrt(p.practices.length));
      document.querySelectorAll(".geo-controls button").forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.view === view)));
    }

    document.querySelectorAll(".geo-controls button").forEach((b) => b.addEventListener("click", () => draw(b.dataset.view)));
    draw("europe");
    svg.attr("data-ready", "true");
  }
})();
