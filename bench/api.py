"""The query library through the query API at a scale (``python -m bench api``): does every query
answer within the time limit, and how (precomputed, whole, or its first page)?

``python -m bench api --store LOCATION --scale N [--out DIR]`` starts ``icgraph serve --store
LOCATION --query-timeout T`` and asks each library query (``queries/*.rq``, its default
parameters) through ``/api/queries/{name}``, one request at a time:

- **whole**: the whole answer (SPARQL JSON results, Turtle for a CONSTRUCT); ``precomputed`` when the release answered it
  from ``aggregates.sqlite`` (``icgraph_aggregate_answers_total`` on ``/metrics`` moved);
- **first page**: ``limit=PAGE`` (the paged path: `icgraph.server.paging`).

The ``path`` column says how the query is answered within the limit: ``precomputed``,
``whole`` (live), ``first page`` (the whole answer is refused or late, its first page is not),
or ``refused`` (neither: the status says why). A 504/503 is the endpoint's own refusal at the
time limit or the memory ceiling; the server is restarted after one, so the next query starts
with idle readers.

``--wrap-plain STORE``: the store of ``python -m bench --prepare-only`` is a plain Oxigraph
folder, which has no precomputed answers. ``LOCATION`` is then made a release around it
(`release_around`): ``LOCATION.releases/<id>/`` with ``store`` (a link to STORE) and
``aggregates.sqlite`` written by `icgraph.precompute.write_aggregates` under
``--precompute-timeout`` (``--library-only``: the library's answers, not the pages'; what ``icgraph build`` / ``icgraph load`` write with the release; the
dumps, search index and SHACL report of a real release are left out: the query API does not
read them).

``--virtuoso FOLDER --dump DUMP``: the same library on Virtuoso (bench.systems), the query
text with its defaults inlined (bench.library) at ``/sparql``, ``--runs`` times each (the p50
is reported), with the same time limit as the client's timeout. Virtuoso is restarted after a
timeout (it may still be evaluating).

Writes ``OUT/api.csv`` (rows of the other system are kept) and ``OUT/api.md``. Each row has the
1-minute load average when it was taken.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import statistics
import sys
import time
from pathlib import Path

import httpx

from bench import library
from bench.systems import Server, icgraph_server

COLUMNS = [
    "date", "scale", "system", "query", "path", "status", "seconds", "rows", "precomputed",
    "page_status", "page_seconds", "page_rows", "more", "page_precomputed", "runs", "loadavg_1m",
]


def log(message: str) -> None:
    print(f"[api {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- a plain store as a release


def release_around(plain: Path, location: Path, queries_dir: Path, timeout: float, max_result_bytes: int,
                   library_only: bool = False) -> Path:
    """Make ``location`` a release whose store is the plain Oxigraph folder ``plain`` (linked, not
    copied), with the aggregates a release writes; returns the release folder. Reused when present."""
    from icgraph import __version__
    from icgraph.aggregates import AGGREGATES
    from icgraph.precompute import write_aggregates
    from icgraph.release import MANIFEST

    location = Path(location).absolute()
    if (location / MANIFEST).is_file():
        log(f"{location}: a release already ({location.resolve().name}), reused")
        return location.resolve()
    release_id = "bench-" + dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S")
    folder = location.with_name(location.name + ".releases") / release_id
    folder.mkdir(parents=True)
    (folder / "store").symlink_to(Path(plain).resolve())
    log(f"aggregates of {plain} (each job at most {timeout:g} s{'; the library only' if library_only else ''})")
    started = time.perf_counter()
    entry = write_aggregates(folder / "store", folder / AGGREGATES, queries_dir, max_result_bytes, timeout, library_only)
    seconds = time.perf_counter() - started
    log(f"aggregates: {entry['answers']} answers in {seconds:.0f} s; not precomputed: {sorted(entry['refused'])}")
    (folder / MANIFEST).write_text(json.dumps({
        "id": release_id, "created": dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(), "icgraph": __version__,
        "note": "python -m bench api --wrap-plain: a plain store with the release's aggregates only (no dumps, search index, report)",
        "aggregates": entry, "timings": {"aggregates": round(seconds, 3)}, "loadavg": os.getloadavg(),
    }, indent=1), encoding="utf-8")
    if location.is_symlink():
        location.unlink()
    location.symlink_to(folder)
    return folder


# --------------------------------------------------------------------------- icgraph through /api/queries


def aggregate_answers(client: httpx.Client, base: str) -> float:
    text = client.get(base + "/metrics").text
    for line in text.splitlines():
        if line.startswith("icgraph_aggregate_answers_total "):
            return float(line.split()[1])
    raise RuntimeError("/metrics has no icgraph_aggregate_answers_total")


def _get(client: httpx.Client, url: str, params: dict, accept: str) -> tuple[int | None, float, bytes, bool]:
    """(status, seconds, body, whether a next page follows: its Link header)."""
    started = time.perf_counter()
    try:
        response = client.get(url, params=params, headers={"Accept": accept})
        code, body, more = response.status_code, response.content, 'rel="next"' in response.headers.get("link", "")
    except httpx.HTTPError as error:
        code, body, more = None, f"{type(error).__name__}: {error}".encode(), False
    return code, time.perf_counter() - started, body, more


def _status(code: int | None, body: bytes) -> str:
    if code == 200:
        return "ok"
    detail = body.decode(errors="replace")
    try:
        detail = json.loads(detail).get("detail", detail)
    except (ValueError, AttributeError):
        pass
    return f"{code or 'no answer'}: {str(detail).strip()[:100]}"


def _rows(body: bytes, form: str) -> int:
    """Rows of a SPARQL JSON answer, or triples of a Turtle graph."""
    return library.count(body, form)


def measure_icgraph(location, queries, args, base_row: dict) -> list[dict]:
    rows = []
    server = icgraph_server(location, extra=["--query-timeout", f"{args.query_timeout:g}"])
    server.start(timeout=900)
    try:
        for query in queries:
            base = server.url.removesuffix("/sparql")
            url = f"{base}/api/queries/{query.name}"
            with httpx.Client(timeout=args.query_timeout + 60) as client:
                before = aggregate_answers(client, base)
                code, seconds, body, _ = _get(client, url, {}, query.accept)
                precomputed = aggregate_answers(client, base) > before
                whole_rows = _rows(body, query.form) if code == 200 else None
                restart = code in (None, 503, 504)
                if restart:
                    server = _restart(server)
                    base = server.url.removesuffix("/sparql")
                    url = f"{base}/api/queries/{query.name}"
                before = aggregate_answers(client, base)
                page_code, page_seconds, page_body, more = _get(client, url, {"limit": str(args.page_size)}, query.accept)
                page_precomputed = page_code == 200 and aggregate_answers(client, base) > before
                page_rows = _rows(page_body, query.form) if page_code == 200 else None
                if page_code in (None, 503, 504):
                    server = _restart(server)
            limit = args.query_timeout
            if code == 200 and seconds <= limit:
                path = "precomputed" if precomputed else "whole"
            elif page_code == 200 and page_seconds <= limit:
                path = "first page"
            else:
                path = "refused"
            rows.append({**base_row, "system": "icgraph", "query": query.name, "path": path, "status": _status(code, body),
                         "seconds": round(seconds, 3), "rows": whole_rows, "precomputed": precomputed,
                         "page_status": _status(page_code, page_body), "page_seconds": round(page_seconds, 3),
                         "page_rows": page_rows, "more": more, "page_precomputed": page_precomputed, "runs": 1, "loadavg_1m": os.getloadavg()[0]})
            log(f"icgraph {query.name}: {path}; whole {_status(code, body)[:40]} in {seconds:.2f} s"
                f"{' (precomputed)' if precomputed else ''}; page {_status(page_code, page_body)[:40]} in {page_seconds:.2f} s")
    finally:
        server.stop()
    return rows


def _restart(server: Server) -> Server:
    """A refused or abandoned request may leave a reader busy: start the server afresh."""
    server.stop()
    server.start(timeout=900)
    return server


# --------------------------------------------------------------------------- Virtuoso at /sparql


def measure_virtuoso(folder: Path, dump: Path, queries, args, base_row: dict) -> list[dict]:
    from bench.systems import virtuoso_server

    rows = []
    server = virtuoso_server(folder, dump)
    server.start(timeout=900)
    if server.load_seconds is not None:
        log(f"virtuoso bulk load: {server.load_seconds:.0f} s")
    try:
        for query in queries:
            times, status, count = [], "ok", None
            for _ in range(args.runs):
                with httpx.Client(timeout=args.query_timeout) as client:
                    started = time.perf_counter()
                    try:
                        response = client.get(server.url, params={"query": query.text}, headers={"Accept": query.accept})
                    except httpx.TimeoutException:
                        status = f"timeout ({args.query_timeout:g} s)"
                    except httpx.HTTPError as error:
                        status = f"error: {type(error).__name__}"
                    else:
                        if response.status_code != 200:
                            status = f"{response.status_code}: {response.text.strip()[:100]}"
                        elif response.headers.get("x-sql-state"):  # an "anytime" answer: cut, not whole
                            status = f"partial ({response.headers.get('x-sql-state')})"
                        else:
                            count = library.count(response.content, query.form)
                    elapsed = time.perf_counter() - started
                if status != "ok":
                    server.stop()
                    server.start(timeout=900)
                    break
                times.append(elapsed)
            p50 = statistics.median(times) if times else None
            rows.append({**base_row, "system": "virtuoso", "query": query.name, "path": "whole" if status == "ok" else "refused",
                         "status": status, "seconds": round(p50, 3) if p50 is not None else None, "rows": count,
                         "runs": len(times), "loadavg_1m": os.getloadavg()[0]})
            log(f"virtuoso {query.name}: {status} p50 {p50 if p50 is None else round(p50, 3)} s over {len(times)} runs, {count} rows")
    finally:
        server.stop()
    return rows


# --------------------------------------------------------------------------- output


def write(out: Path, rows: list[dict], systems: set[str], scale: int) -> None:
    out.mkdir(parents=True, exist_ok=True)
    path = out / "api.csv"
    kept = []
    if path.exists():
        with path.open(newline="") as handle:
            kept = [r for r in csv.DictReader(handle) if not (r["system"] in systems and int(r["scale"]) == scale)]
    every = kept + [{k: r.get(k) for k in COLUMNS} for r in rows]
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, COLUMNS)
        writer.writeheader()
        writer.writerows(every)
    by_query: dict[tuple[str, str], dict] = {}
    for row in every:
        by_query.setdefault((str(row["scale"]), row["query"]), {})[row["system"]] = row
    lines = [
        "# The query library at each scale, through the query API (`python -m bench api`)",
        "",
        "icgraph: `/api/queries/{name}` with its default parameters; `path` says how it answers within the limit "
        "(precomputed with the release, whole answer live, or first page only). Virtuoso: the same text with the "
        "defaults inlined, at /sparql, p50 of its runs. Seconds; load average (1 min) when taken.",
        "",
        "| scale | query | icgraph path | whole s | rows | first page s | page status | Virtuoso p50 s | Virtuoso rows | Virtuoso status | load |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for (scale_text, name), systems_rows in sorted(by_query.items(), key=lambda item: (int(item[0][0]), item[0][1])):
        own, peer = systems_rows.get("icgraph", {}), systems_rows.get("virtuoso", {})
        lines.append("| " + " | ".join(str(x) if x not in (None, "") else "" for x in (
            scale_text, name, own.get("path"), own.get("seconds"), own.get("rows"), own.get("page_seconds"),
            (own.get("page_status") or "")[:40], peer.get("seconds"), peer.get("rows"), (peer.get("status") or "")[:40],
            own.get("loadavg_1m") or peer.get("loadavg_1m"))) + " |")
    (out / "api.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench api", description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", type=Path, help="the release (or store location) icgraph serves")
    parser.add_argument("--wrap-plain", type=Path, default=None, metavar="STORE",
                        help="make --store a release around this plain Oxigraph folder, with its aggregates")
    parser.add_argument("--precompute-timeout", type=float, default=None, help="seconds per precomputed job (--wrap-plain; default ICGRAPH_PRECOMPUTE_TIMEOUT)")
    parser.add_argument("--library-only", action="store_true",
                        help="--wrap-plain precomputes the library queries only, not the pages' answers (home counts, map, browser)")
    parser.add_argument("--virtuoso", type=Path, default=None, metavar="FOLDER", help="also (or only) Virtuoso on this folder")
    parser.add_argument("--dump", type=Path, default=None, help="the N-Quads dump Virtuoso bulk-loads (first start)")
    parser.add_argument("--no-icgraph", action="store_true", help="Virtuoso only")
    parser.add_argument("--scale", type=int, required=True)
    parser.add_argument("--queries", default=None, help="comma-separated names (default: the whole library)")
    parser.add_argument("--query-timeout", type=float, default=30.0, help="icgraph's --query-timeout, and Virtuoso's client timeout")
    parser.add_argument("--page-size", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3, help="requests per query on Virtuoso (p50)")
    parser.add_argument("--out", type=Path, required=True)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    from icgraph.config import Settings

    args = parse_args(argv)
    settings = Settings()
    queries = library.bench_queries(settings.queries_dir, args.queries.split(",") if args.queries else None)
    base_row = {"date": dt.datetime.now().astimezone().isoformat(timespec="seconds"), "scale": args.scale}
    rows, systems = [], set()
    log(f"{len(queries)} queries at {args.scale}x; load average {os.getloadavg()}")
    if not args.no_icgraph:
        if args.wrap_plain:
            release_around(args.wrap_plain, args.store, settings.queries_dir, args.precompute_timeout or settings.precompute_timeout, settings.max_result_bytes,
                           args.library_only)
        systems.add("icgraph")
        rows += measure_icgraph(args.store, queries, args, base_row)
        write(args.out, rows, systems, args.scale)
    if args.virtuoso:
        systems.add("virtuoso")
        rows += measure_virtuoso(args.virtuoso, args.dump, queries, args, base_row)
    write(args.out, rows, systems, args.scale)
    log(f"done; load average {os.getloadavg()}; {args.out / 'api.csv'}")


if __name__ == "__main__":
    main()
