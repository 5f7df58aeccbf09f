// Sharing from the query editor: the Share button stores the query on the server (POST /api/short-links)
// and shows its short link (/q/{id}; the same query always gets the same link). Also: a page opened
// with ?run=1 (the library's "Run in the editor") runs its query at once. Loads after query-editor.js.
(function () {
  "use strict";
  const editor = window.icgraphEditor;
  const button = document.getElementById("share-query");
  const output = document.getElementById("share-result");

  async function share() {
    const tab = editor.yasgui.getTab();
    const query = tab ? tab.getQuery() : "";
    output.textContent = "Saving…";
    const response = await fetch(button.dataset.api, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ query: query }),
    });
    const answer = await response.json().catch(() => ({}));
    output.textContent = "";
    if (!response.ok) {
      output.textContent = "Not shared: " + (answer.detail || response.statusText);
      output.classList.add("error");
      return;
    }
    output.classList.remove("error");
    const url = new URL(answer.url, window.location.href).href;
    const field = document.createElement("input");
    field.type = "text";
    field.readOnly = true;
    field.value = url;
    field.id = "share-url";
    field.setAttribute("aria-label", "Short link to this query");
    const open = document.createElement("a");
    open.href = answer.url;
    open.textContent = "open";
    output.append("Short link: ", field, " ", open);
    field.select();
    if (navigator.clipboard) navigator.clipboard.writeText(url).then(() => output.append(" (copied)"), () => {});
  }

  button.addEventListener("click", () => { share().catch((error) => { output.textContent = "Not shared: " + error.message; }); });

  if (new URLSearchParams(window.location.search).get("run") === "1") {
    const tab = editor.yasgui.getTab();
    if (tab && tab.getQuery().trim()) tab.query().catch(() => {});
  }
})();
