// The SPARQL editor: YASGUI (vendored) against this server's /sparql, with the query library as a picker.
// Nothing here talks to another host: prefix.cc and LOV lookups are switched off; autocompletion
// asks this server's /api/complete, and the table's labels come from /sparql (result-table.js).
(function () {
  "use strict";
  const config = JSON.parse(document.getElementById("editor-config").textContent);
  const endpoint = new URL(config.endpoint, window.location.href).href;
  const library = new Map(config.library.map((q) => [q.name, q]));
  const note = document.getElementById("editor-note");

  // ---------------------------------------------------------------------------------------------
  // icgraph prefixes a query uses without declaring them are declared before it is sent.
  // ---------------------------------------------------------------------------------------------

  // Strings, IRIs and comments, skipped whole when looking for prefixed names.
  const SKIPPED = /"""[\s\S]*?"""|'''[\s\S]*?'''|"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|<[^<>"{}|^`\\\u0000-\u0020]*>|#[^\n]*/g;
  const PREFIXED_NAME = /(?<![\w?$.:\-])([A-Za-z][\w.\-]*):/g;
  const DECLARED = /\bPREFIX\s+([A-Za-z][\w.\-]*)?:/gi;

  function undeclaredPrefixes(query) {
    const text = query.replace(SKIPPED, " ");
    const declared = new Set(Array.from(text.matchAll(DECLARED), (m) => m[1] || ""));
    const missing = [];
    for (const match of text.matchAll(PREFIXED_NAME)) {
      const prefix = match[1];
      if (!declared.has(prefix) && prefix in config.prefixes && !missing.includes(prefix)) missing.push(prefix);
    }
    return missing;
  }

  function withDeclaredPrefixes(query) {
    const missing = undeclaredPrefixes(query);
    if (!missing.length) return { query: query, added: [] };
    const lines = missing.map((p) => "PREFIX " + p + ": <" + config.prefixes[p] + ">");
    return { query: lines.join("\n") + "\n" + query, added: missing };
  }

  function say(text) {
    note.textContent = text;
    note.hidden = !text;
  }

  // YASQE calls this for the text to send: the editor shows the declarations it added, so what ran is what is shown.
  function queryToSend(yasqe) {
    const result = withDeclaredPrefixes(yasqe.getValue());
    if (result.added.length) {
      const cursor = yasqe.getDoc().getCursor();
      yasqe.setValue(result.query);
      yasqe.getDoc().setCursor({ line: cursor.line + result.added.length, ch: cursor.ch });
      say("Added " + result.added.map((p) => "PREFIX " + p + ":").join(", ") + " (the query used it without declaring it).");
    } else {
      say("");
    }
    return result.query;
  }

  // ---------------------------------------------------------------------------------------------
  // The results table (result-table.js) in place of YASR's, before YASGUI starts.
  // ---------------------------------------------------------------------------------------------

  const ResultTable = window.IcgraphResultTable.PlainTable;
  ResultTable.options = { prefixes: config.prefixes, root: config.root, endpoint: endpoint };
  Yasgui.Yasr.registerPlugin("table", ResultTable);
  // YASGUI builds each tab's error renderers from YASR's defaults (after its own CORS check).
  Yasgui.Yasr.defaults.errorRenderers = [renderError];

  const yasgui = new Yasgui(document.getElementById("yasgui"), {
    requestConfig: { endpoint: endpoint, method: "POST", adjustQueryBeforeRequest: queryToSend },
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
    yasr: {
      prefixes: config.prefixes,
      defaultPlugin: "table",
      pluginOrder: ["table", "response"],
    },
  });

  function currentTab() { return yasgui.getTab(); }

  // ---------------------------------------------------------------------------------------------
  // Errors: the endpoint's message (query_errors.py) laid out, and the place marked in the editor.
  // ---------------------------------------------------------------------------------------------

  const WHERE = /at line (\d+), column (\d+)(?:, at "([^"\n]*)")?: ([^\n]*)(?:\nHint: ([^\n]*))?/;
  let errorMark = null;

  function markError(line, column, token) {
    const tab = currentTab();
    const yasqe = tab && tab.getYasqe();
    if (!yasqe) return;
    if (errorMark) errorMark.clear();
    const from = { line: line - 1, ch: column - 1 };
    const to = { line: line - 1, ch: column - 1 + Math.max(token.length, 1) };
    errorMark = yasqe.getDoc().markText(from, to, { className: "query-error-mark" });
    yasqe.on("change", function clear() { if (errorMark) errorMark.clear(); errorMark = null; yasqe.off("change", clear); });
  }

  async function renderError(error) {
    const text = (error && error.text) || "";
    const box = document.createElement("div");
    box.className = "query-error";
    const match = WHERE.exec(text);
    if (match) {
      const [, line, column, token, detail, hint] = match;
      const where = document.createElement("p");
      where.className = "query-error-where";
      where.textContent = "Line " + line + ", column " + column + (token ? ", at " + token : "") + ": " + detail;
      box.appendChild(where);
      if (hint) {
        const advice = document.createElement("p");
        advice.className = "query-error-hint";
        advice.textContent = "Hint: " + hint;
        box.appendChild(advice);
      }
      markError(Number(line), Number(column), token || "");
    } else {
      const message = document.createElement("pre");
      message.className = "query-error-message";
      message.textContent = text || "The query failed (no answer from the endpoint).";
      box.appendChild(message);
    }
    return box;
  }

  // ---------------------------------------------------------------------------------------------
  // Autocompletion from icgraph's own data (/api/complete): after an icgraph prefix as one types
  // ("icg:gov", "place:ber"), and for any word by label with Ctrl-Space ("anti-rumours").
  // ---------------------------------------------------------------------------------------------

  const PREFIXED_BEFORE_CURSOR = /(?:^|[^\w?$:.\-])([A-Za-z][\w\-]*):([\w.\-]*)$/;
  const WORD_BEFORE_CURSOR = /(?:^|[^\w?$:.\-])([A-Za-z][\w\-]{1,})$/;
  let pending = null;
  let typingTimer = null;

  function completionTarget(cm, byLabel) {
    const cursor = cm.getDoc().getCursor();
    const before = cm.getDoc().getLine(cursor.line).slice(0, cursor.ch);
    const prefixed = PREFIXED_BEFORE_CURSOR.exec(before);
    if (prefixed && prefixed[1] in config.prefixes && !/^\s*PREFIX\b/i.test(before)) {
      const start = cursor.ch - prefixed[1].length - 1 - prefixed[2].length;
      return { prefix: prefixed[1], text: prefixed[2], from: { line: cursor.line, ch: start }, to: cursor };
    }
    const word = byLabel && WORD_BEFORE_CURSOR.exec(before);
    if (word) return { prefix: null, text: word[1], from: { line: cursor.line, ch: cursor.ch - word[1].length }, to: cursor };
    return null;
  }

  function renderSuggestion(element, self, item) {
    const name = document.createElement("span");
    name.className = "hint-name";
    name.textContent = item.text;
    const label = document.createElement("span");
    label.className = "hint-label";
    label.textContent = item.suggestion.label + " · " + item.suggestion.kind;
    element.appendChild(name);
    element.appendChild(label);
  }

  async function suggest(cm, byLabel) {
    const target = completionTarget(cm, byLabel);
    if (!target) return false;
    const params = new URLSearchParams({ q: target.text, limit: "15" });
    if (target.prefix) params.set("prefix", target.prefix);
    if (pending) pending.abort();
    pending = new AbortController();
    let suggestions;
    try {
      const response = await fetch(config.complete + "?" + params.toString(), { signal: pending.signal, headers: { Accept: "application/json" } });
      if (!response.ok) return false;
      suggestions = (await response.json()).suggestions;
    } catch (error) {
      return false; // aborted by the next keystroke, or the server is away
    }
    const now = completionTarget(cm, byLabel);
    if (!now || now.text !== target.text || now.prefix !== target.prefix || !suggestions.length) return false;
    const list = suggestions.map((s) => ({ text: s.name, displayText: s.name + " " + s.label, suggestion: s, render: renderSuggestion }));
    cm.showHint({
      completeSingle: false,
      closeCharacters: /[\s()\[\]{};,]/,
      hint: (editor) => {
        const here = completionTarget(editor, byLabel);
        return here ? { list: list, from: here.from, to: here.to } : null;
      },
    });
    return true;
  }

  function attachCompletion(yasqe) {
    if (!yasqe || yasqe.icgraphCompletion) return;
    yasqe.icgraphCompletion = true;
    yasqe.on("inputRead", (cm) => {
      clearTimeout(typingTimer);
      typingTimer = setTimeout(() => suggest(cm, false), 120);
    });
    // Ctrl-Space: a label search for the word at the cursor; elsewhere YASQE's own completion (variables, prefixes).
    yasqe.addKeyMap({
      "Ctrl-Space": (cm) => {
        if (completionTarget(cm, true)) suggest(cm, true);
        else cm.autocomplete();
      },
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Links, the library, and what happens when a result arrives
  // ---------------------------------------------------------------------------------------------

  function isGraphQuery(query) {
    const body = query.replace(/#[^\n]*/g, "").replace(/PREFIX\s+\S*\s*<[^>]*>/gi, "").replace(/BASE\s*<[^>]*>/gi, "");
    return /^\s*(CONSTRUCT|DESCRIBE)\b/i.test(body);
  }

  // Download links and the permalink follow the query in the editor (with the declarations it needs).
  function refreshLinks() {
    const tab = currentTab();
    if (!tab) return;
    const query = withDeclaredPrefixes(tab.getQuery()).query;
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

  // A result has arrived in a tab (YASR has drawn it with the table of result-table.js).
  // Other views of the result hook in here.
  function resultArrived(tab) {
    refreshLinks();
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
    attachCompletion(tab.getYasqe());
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
  yasgui.on("tabSelect", () => setTimeout(() => { refreshLinks(); attachCompletion(currentTab() && currentTab().getYasqe()); }, 0));
  yasgui.on("tabAdd", () => setTimeout(() => attachCompletion(currentTab() && currentTab().getYasqe()), 0));
  yasgui.on("query", refreshLinks);
  yasgui.on("queryResponse", (instance, tab) => resultArrived(tab));
  attachCompletion(currentTab() && currentTab().getYasqe());
  refreshLinks();
  window.icgraphEditor = { yasgui: yasgui, open: openLibraryQuery, withDeclaredPrefixes: withDeclaredPrefixes };
})();
