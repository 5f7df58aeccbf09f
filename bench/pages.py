"""The pages users touch, timed against a real ``icgraph serve`` (``python -m bench pages``).

``python -m bench pages --store STORE [--out bench/results] [--run LABEL]`` starts
``icgraph serve --store STORE`` on 127.0.0.1 and times each page of `PAGES` (home, the
practice browser with 0, 1 and 3 facets, a practice page, an actor page, the map, a search):

- **cold**: ``--cold-rounds`` times, a freshly started server (timed to its first answer to
  ``ASK``, as bench.systems does), then each page once, in order: the first request for that
  page since the server started, so nothing the server keeps in memory (per-release caches,
  a result cache) has it yet. The operating system's file cache is warm: the store was read
  by the rounds before.
- **warm**: one more server, each page once to prime it, then the same URL again and again
  for ``--duration`` seconds (at least ``--min-requests`` answers, at most ``--max-requests``)
  at each ``--concurrency``. Each concurrent client binds its own loopback address
  (127.0.0.2, 127.0.0.3, ...): the server gives one client address at most all readers but
  one (server/workers.py ``_share``), and the benchmark measures pages, not that rule.

A request that exceeds ``--timeout`` counts as timed out; the server is then restarted (its
readers may still be busy with the abandoned request), and a page that timed out cold is not
measured warm. Each row carries the 1-minute load average of the machine when it was taken.

Writes ``OUT/pages.csv`` (rows of other ``--run`` labels already there are kept, so a
"before" and an "after" run sit side by side) and ``OUT/pages.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.loadgen import percentile
from bench.systems import Server, icgraph_server

HERE = Path(__file__).resolve().parent
COLUMNS = [
    "run", "date", "scale", "triples", "page", "url", "phase", "concurrency", "requests", "errors",
    "p50_ms", "p95_ms", "max_ms", "bytes", "status", "loadavg_1m",
]
ACCEPT = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"


@dataclass(frozen=True)
class Page:
    name: str
    path: str
    params: tuple[tuple[str, str], ...] = ()

    @property
    def url(self) -> str:
        return str(httpx.URL(self.path, params=list(self.params)))


#: The pages of a visit, in the order a visitor meets them. The entities are the real graph's
#: (shard 0 of a generated graph keeps their IRIs), so they exist at every scale.
PAGES = [
    Page("home", "/"),
    Page("practices", "/practices"),
    Page("practices-1-facet", "/practices", (("country", "es"),)),
    Page("practices-3-facets", "/practices", (("country", "es"), ("level", "regional"), ("role", "lead"))),
    Page("practice", "/id/practice/bilbao-anti-rumours-strategy.html"),
    Page("actor", "/id/actor/municipality-bilbao.html"),
    Page("map", "/map"),
    Page("search", "/search", (("q", "roma"),)),
]


def loadavg() -> float:
    return round(os.getloadavg()[0], 2)


def triples_of(store: Path | str) -> int | None:
    """The served release's triple count, from its manifest (None for a plain store)."""
    if str(store).startswith("sparql+"):  # a remote store: the release `icgraph load` recorded in the build folder
        from icgraph.config import Settings

        manifest = (Settings().build_dir / "current").resolve() / "manifest.json"
    else:
        manifest = Path(store).resolve() / "manifest.json"
    try:
        return json.loads(manifest.read_text(encoding="utf-8")).get("triples")
    except (OSError, ValueError):
        return None


def _base(server: Server) -> str:
    return server.url.removesuffix("/sparql")


@dataclass
class Answer:
    status: int | None  # None: timed out or failed
    seconds: float
    bytes: int
    error: str = ""
    load: float = 0.0  # the 1-minute load average when it was sent


def get(client: httpx.Client, base: str, page: Page, timeout: float) -> Answer:
    load = loadavg()
    started = time.perf_counter()
    try:
        response = client.get(base + page.path, params=list(page.params), timeout=timeout)
    except httpx.TimeoutException:
        return Answer(None, time.perf_counter() - started, 0, f"no answer within {timeout:g} s", load)
    except httpx.HTTPError as error:
        return Answer(None, time.perf_counter() - started, 0, f"{type(error).__name__}: {error}"[:100], load)
    return Answer(response.status_code, time.perf_counter() - started, len(response.content), load=load)


def _status(answers: list[Answer]) -> str:
    failed = [a for a in answers if a.status != 200]
    if not failed:
        return "ok"
    first = failed[0]
    reason = first.error or f"HTTP {first.status} after {first.seconds:.1f} s"
    return f"{len(failed)} of {len(answers)} failed ({reason})"


def _row(base: dict, page: Page, phase: str, concurrency: int, answers: list[Answer], load: float) -> dict:
    good = [a.seconds * 1000 for a in answers if a.status == 200]
    sizes = [a.bytes for a in answers if a.status == 200]
    return {
        **base, "page": page.name, "url": page.url, "phase": phase, "concurrency": concurrency,
        "requests": len(answers), "errors": len(answers) - len(good),
        "p50_ms": statistics.median(good) if good else None, "p95_ms": percentile(good, 95) if good else None,
        "max_ms": max(good) if good else None, "bytes": round(statistics.median(sizes)) if sizes else None,
        "status": _status(answers), "loadavg_1m": load,
    }


def start(store: Path | str, extra: list[str]) -> Server:
    return icgraph_server(store, extra=extra).start(timeout=300)


def cold(store: Path, pages: list[Page], rounds: int, timeout: float, extra: list[str], log) -> tuple[dict[str, list[Answer]], list[float]]:
    """Each page's first request after a fresh start, ``rounds`` times; and the start-up times."""
    answers: dict[str, list[Answer]] = {p.name: [] for p in pages}
    starts = []
    for number in range(rounds):
        server = start(store, extra)
        starts.append(server.ready_after)
        try:
            with httpx.Client(headers={"Accept": ACCEPT}) as client:
                for page in pages:
                    answer = get(client, _base(server), page, timeout)
                    answers[page.name].append(answer)
                    log(f"cold {number + 1}/{rounds} {page.name}: {answer.status or answer.error} in {answer.seconds * 1000:.0f} ms, {answer.bytes} B")
                    if answer.status is None:  # the abandoned request may still hold readers: start afresh
                        server.stop()
                        server = start(store, extra)
        finally:
            server.stop()
    return answers, starts


async def _repeat(base: str, page: Page, concurrency: int, duration: float, min_requests: int, max_requests: int, timeout: float) -> list[Answer]:
    """``concurrency`` clients, each from its own loopback address, repeating one URL."""
    answers: list[Answer] = []
    deadline = time.perf_counter() + duration

    async def client(number: int) -> None:
        transport = httpx.AsyncHTTPTransport(local_address=f"127.0.0.{2 + number % 250}")
        async with httpx.AsyncClient(transport=transport, headers={"Accept": ACCEPT}, timeout=timeout) as session:
            while len(answers) < max_requests and (time.perf_counter() < deadline or len(answers) < min_requests):
                started = time.perf_counter()
                try:
                    response = await session.get(base + page.path, params=list(page.params))
                    answers.append(Answer(response.status_code, time.perf_counter() - started, len(response.content)))
                except httpx.TimeoutException:
                    answers.append(Answer(None, time.perf_counter() - started, 0, f"no answer within {timeout:g} s"))
                    return
                except httpx.HTTPError as error:
                    answers.append(Answer(None, time.perf_counter() - started, 0, f"{type(error).__name__}"))
                    return

    await asyncio.gather(*(client(n) for n in range(concurrency)))
    return answers


def warm(store: Path, pages: list[Page], skip: set[str], args, extra: list[str], base_row: dict, log) -> list[dict]:
    rows = []
    server = start(store, extra)
    try:
        with httpx.Client(headers={"Accept": ACCEPT}) as client:
            for page in pages:
                if page.name in skip:
                    rows.append({**base_row, "page": page.name, "url": page.url, "phase": "warm", "requests": 0,
                                 "status": "not measured (no answer cold)", "loadavg_1m": loadavg()})
                    continue
                primed = get(client, _base(server), page, args.timeout)
                if primed.status != 200:
                    rows.append(_row(base_row, page, "warm", 1, [primed], loadavg()))
                    server.stop()
                    server = start(store, extra)
                    continue
                for concurrency in args.concurrency_list:
                    load = loadavg()
                    answers = asyncio.run(_repeat(_base(server), page, concurrency, args.duration, args.min_requests, args.max_requests, args.timeout))
                    row = _row(base_row, page, "warm", concurrency, answers, load)
                    rows.append(row)
                    log(f"warm c={concurrency} {page.name}: {row['requests']} requests, p50 {row['p50_ms'] or 0:.1f} ms, {row['status']}")
                    if row["errors"]:
                        server.stop()
                        server = start(store, extra)
    finally:
        server.stop()
    return rows


def git_label() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=HERE, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def write(out: Path, rows: list[dict], run: str) -> list[dict]:
    """Merge into OUT/pages.csv (the rows of other runs stay) and rewrite OUT/pages.md."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / "pages.csv"
    kept = []
    if path.exists():
        with path.open(encoding="utf-8") as stream:
            kept = [r for r in csv.DictReader(stream) if r.get("run") != run]
    everything = kept + rows
    from bench.report import _fmt

    with path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.DictWriter(stream, fieldnames=COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for row in everything:
            writer.writerow({k: _fmt(row.get(k)) if not isinstance(row.get(k), str) else row[k] for k in COLUMNS})
    text = ["# Pages: cold and warm (`python -m bench pages`)", "",
            "Written by bench/pages.py; method in docs/benchmarks.md. One table per run label; times in ms "
            "(p50 / p95), bytes of the page body; the full rows are in pages.csv.", ""]
    for label in dict.fromkeys(r["run"] for r in everything):
        chosen = [r for r in everything if r["run"] == label]
        first = chosen[0]
        loads = sorted(float(r["loadavg_1m"]) for r in chosen if r.get("loadavg_1m") not in (None, ""))
        text += [f"## {label}", "", f"{first['date']}, {first['scale']}x ({first['triples']} triples); "
                 f"1-minute load average {loads[0]:.1f}-{loads[-1]:.1f}" if loads else "", "", summary_table(chosen), ""]
    (out / "pages.md").write_text("\n".join(text), encoding="utf-8")
    return everything


def summary_table(rows: list[dict]) -> str:
    """One line per page: bytes, then p50 / p95 cold and at each warm concurrency (or why not)."""
    def cell(row) -> str:
        if row is None:
            return ""
        if row.get("status") != "ok":
            return str(row.get("status"))
        return f"{float(row['p50_ms']):.0f} / {float(row['p95_ms']):.0f}"

    concurrencies = sorted({int(r["concurrency"]) for r in rows if r["phase"] == "warm" and r.get("concurrency") not in (None, "")})
    columns = ["page", "bytes", "cold"] + [f"warm c={c}" for c in concurrencies]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for name in dict.fromkeys(r["page"] for r in rows):
        mine = [r for r in rows if r["page"] == name]
        def find(phase, c=None):
            exact = next((r for r in mine if r["phase"] == phase and (c is None or str(r.get("concurrency")) == str(c))), None)
            # a page not measured warm has one row without a concurrency, saying why
            return exact or next((r for r in mine if r["phase"] == phase and r.get("concurrency") in (None, "")), None)

        size = next((r["bytes"] for r in mine if r.get("bytes") not in (None, "")), "")
        lines.append("| " + " | ".join([name, str(size), cell(find("cold"))] + [cell(find("warm", c)) for c in concurrencies]) + " |")
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench pages", description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", type=Path, required=True, help="the store (a release of `icgraph build` / `icgraph load`) to serve")
    parser.add_argument("--virtuoso", type=Path, default=None, metavar="FOLDER",
                        help="serve from Virtuoso instead: start Debian's virtuoso-t on FOLDER (a new database), "
                             "`icgraph load` the --store release's dump into it, and serve with --store sparql+http://…")
    parser.add_argument("--scale", type=int, default=1, help="the multiple of the real graph the store holds (a label)")
    parser.add_argument("--run", default=None, help="label of this run in pages.csv (default: the short git commit)")
    parser.add_argument("--pages", default=None, help=f"comma-separated page names (default: all: {', '.join(p.name for p in PAGES)})")
    parser.add_argument("--cold-rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=3.0, help="seconds per page and concurrency, warm")
    parser.add_argument("--min-requests", type=int, default=3)
    parser.add_argument("--max-requests", type=int, default=500)
    parser.add_argument("--concurrency", default="1,4", help="warm: clients at once, each from its own loopback address")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds before one request counts as timed out")
    parser.add_argument("--query-timeout", type=float, default=None, help="passed to icgraph serve --query-timeout")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args(argv)
    args.concurrency_list = [int(c) for c in args.concurrency.split(",") if c]
    names = args.pages.split(",") if args.pages else [p.name for p in PAGES]
    unknown = set(names) - {p.name for p in PAGES}
    if unknown:
        parser.error(f"no such pages: {', '.join(sorted(unknown))}; choose from {', '.join(p.name for p in PAGES)}")
    args.page_list = [p for p in PAGES if p.name in names]
    args.run = args.run or git_label()
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)

    def log(message: str) -> None:
        print(f"[pages {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)

    extra = ["--query-timeout", f"{args.query_timeout:g}"] if args.query_timeout else []
    virtuoso = None
    store: Path | str = args.store
    if args.virtuoso:
        virtuoso, store = on_virtuoso(args.store, args.virtuoso, log)
    try:
        measure(args, store, extra, log)
    finally:
        if virtuoso is not None:
            virtuoso.stop()


def on_virtuoso(release: Path, folder: Path, log):
    """A Virtuoso holding the release's dump, loaded the way users load it (`icgraph load`); (server, store)."""
    from bench.systems import executable, virtuoso_server

    dump = Path(release).resolve() / "dumps" / "icgraph.nq"
    server = virtuoso_server(folder, None, size_of=dump).start(timeout=300)
    base = server.url.removesuffix("/sparql")
    os.environ.update({  # for `icgraph load` and the `icgraph serve` processes started after it
        "ICGRAPH_STORE_UPDATE_URL": base + "/sparql-auth", "ICGRAPH_STORE_USER": "dba", "ICGRAPH_STORE_PASSWORD": "dba",
        "ICGRAPH_BUILD_DIR": str(Path(folder).resolve() / "icgraph-build"),
    })
    store = "sparql+" + server.url
    started = time.perf_counter()
    done = subprocess.run([executable("icgraph"), "load", "--store", store, "--from", str(dump)], capture_output=True, text=True)
    if done.returncode != 0:
        server.stop()
        raise SystemExit(f"icgraph load into Virtuoso failed: {done.stderr[-1500:]}")
    log(f"icgraph load into Virtuoso: {time.perf_counter() - started:.1f} s ({done.stdout.strip()})")
    return server, store


def measure(args, store, extra: list[str], log) -> None:
    base_row = {"run": args.run, "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
                "scale": args.scale, "triples": triples_of(store)}
    log(f"{args.scale}x ({base_row['triples']} triples), run {args.run}, load average {os.getloadavg()}")
    answers, starts = cold(store, args.page_list, args.cold_rounds, args.timeout, extra, log)
    rows = [_row(base_row, page, "cold", 1, answers[page.name], statistics.median(a.load for a in answers[page.name]))
            for page in args.page_list]
    timed_out = {name for name, got in answers.items() if not any(a.status == 200 for a in got)}
    rows += warm(store, args.page_list, timed_out, args, extra, base_row, log)
    write(args.out, rows, args.run)
    log(f"server ready after {statistics.median(starts):.2f} s (median of {len(starts)}); load average {os.getloadavg()}; "
        f"results in {args.out / 'pages.csv'}")


if __name__ == "__main__":
    main()
