// The SPARQL editor: YASGUI (vendored) against this server's /sparql, with the query library as a picker.
// Nothing here talks to another host: prefix.cc and LOV lookups are switched off.
(function () {
  "use strict";
  const config = JSON.parse(document.getElementById("editor-config").textContent);
  const endpoint = new URL(config.endpoint, window.location.href).href;
  const library = new Map(config.library.map((q) => [q.name, q]));

  const yasgui = new Yasgui(document.getElementById("yasgui"), {
    requestConfig: { endpoint: endpoint, method: "POST" },
    copyEndpointOnNewTab: true,
    endpointCatalogueOptions: { getData: () => [{ endpoint: endpoint }], keys: [] },
    persistenceId: null,
    populateFromUrl: true,
    yasqe: {
      value: config.defaultQuery,
      prefixCcApi: null,
      autocompleters: ["prefixes", "variables"],
      resizeable: true,
      editorHeight: "320px",
    },
    yasr: { prefixes: config.prefixes, defaultPlugin: "table", pluginOrder: ["table", "response"] },
  });

  function currentTab() { return yasgui.getTab(); }

  function isGraphQuery(query) {
    const body = query.replace(/#[^\n]*/g, "").replace(/PREFIX\s+\S*\s*<[^>]*>/gi, "").replace(/BASE\s*<[^>]*>/gi, "");
    return /^\s*(CONSTRUCT|DESCRIBE)\b/i.test(body);
  }

  // Download links and the permalink follow the query in the editor.
  function refreshLinks() {
    const tab = currentTab();
    if (!tab) return;
    const query = tab.getQuery();
    const graph = isGraphQuery(query);
    document.querySelectorAll("#downloads [data-kind]").forEach((span) => {
      span.classList.toggle("inactive", (span.dataset.kind === "graph") !== graph);
    });
    document.querySelectorAll("#downloads a[data-format]").forEach((a) => {
      a.href = config.endpoint + "?query=" + encodeURIComponent(query) + "&format=" + a.dataset.format;
      a.setAttribute("download", "icgraph-results." + a.dataset.format);
    });
    const permalink = window.location.pathname + "#query=" + encodeURIComponent(query) + "&endpoint=" + encodeURIComponent(endpoint);
    document.getElementById("permalink").href = permalink;
  }

  function openLibraryQuery(name) {
    const entry = library.get(name);
    if (!entry) return;
    let tab = currentTab();
    if (tab && tab.getQuery().trim() && tab.getName() !== entry.summary && tab.hasResults()) {
      tab = yasgui.addTab(true, { name: entry.summary });
    }
    tab.setName(entry.summary);
    tab.setQuery(entry.query);
    refreshLinks();
    history.replaceState(null, "", window.location.pathname + "#query=" + encodeURIComponent(entry.query));
    tab.query().catch(() => {});
  }

  document.querySelectorAll(".library-query").forEach((button) => {
    button.addEventListener("click", () => openLibraryQuery(button.dataset.name));
  });
  document.getElementById("library-filter").addEventListener("input", (event) => {
    const needle = event.target.value.toLowerCase();
    document.querySelectorAll("#library-list li").forEach((li) => {
      li.hidden = needle && !li.textContent.toLowerCase().includes(needle);
    });
  });

  yasgui.on("tabChange", refreshLinks);
  yasgui.on("tabSelect", () => setTimeout(refreshLinks, 0));
  yasgui.on("query", refreshLinks);
  refreshLinks();
  window.icgraphEditor = { yasgui: yasgui, open: openLibraryQuery };
})();
