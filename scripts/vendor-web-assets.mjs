// Copy the browser libraries pinned in package.json into src/icgraph/server/static/vendor/,
// so the server needs neither npm nor a CDN. Run: npm ci && npm run vendor
import { cpSync, mkdirSync, rmSync, statSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const modules = join(root, "node_modules");
const vendor = join(root, "src", "icgraph", "server", "static", "vendor");

// [package, file in the package, file under vendor/]
const FILES = [
  ["@zazuko/yasgui", "build/yasgui.min.js", "yasgui/yasgui.min.js"],
  ["@zazuko/yasgui", "build/yasgui.min.css", "yasgui/yasgui.min.css"],
  ["@zazuko/yasgui", "package.json", "yasgui/package.json"],
  ["d3", "dist/d3.min.js", "d3/d3.min.js"],
  ["d3", "LICENSE", "d3/LICENSE"],
  ["topojson-client", "dist/topojson-client.min.js", "topojson-client/topojson-client.min.js"],
  ["topojson-client", "LICENSE", "topojson-client/LICENSE"],
  ["world-atlas", "countries-50m.json", "world-atlas/countries-50m.json"],
  ["world-atlas", "LICENSE", "world-atlas/LICENSE"],
];

rmSync(vendor, { recursive: true, force: true });
let total = 0;
for (const [pkg, from, to] of FILES) {
  const target = join(vendor, to);
  mkdirSync(dirname(target), { recursive: true });
  cpSync(join(modules, pkg, from), target);
  const size = statSync(target).size;
  total += size;
  console.log(`${to.padEnd(44)} ${(size / 1024).toFixed(0).padStart(6)} KiB`);
}
console.log(`${"total".padEnd(44)} ${(total / 1024).toFixed(0).padStart(6)} KiB`);
