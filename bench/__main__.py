"""``python -m bench`` (``make bench``): build cost, cold start and query latency of icgraph
side by side with its peers, at 1x and 10x the real graph (more with ``--scales``).

``python -m bench pages --store STORE`` times the pages users touch instead (bench/pages.py).

Writes bench/results/: results.md (the report, with the machine), latency.csv, ratios.csv,
build.csv, coldstart.csv, overhead.csv, shape.csv and scaling.png. See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import random
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pyoxigraph as ox

from bench import library, loadgen, report, systems
from icgraph.config import Settings
from icgraph.release import store_path as oxigraph_folder
from icgraph.store import default_dataset, open_store
from bench.generate import default_source

HERE = Path(__file__).resolve().parent

#: The systems of a run: the peers of bench.systems, and icgraph twice. ``icgraph`` (and
#: ``icgraph-virtuoso``) run with the result cache off, so every request is evaluated by a reader:
#: the cold figures. ``icgraph-warm`` keeps its result cache (the default): the checked first
#: answer fills it, and every timed request is the same query again, answered from memory.
SYSTEMS = ("floor", "icgraph", "icgraph-warm", *systems.SYSTEMS[2:])
#: How a cold icgraph is started: the result cache holds nothing (`Settings.result_cache_bytes`).
CACHE_OFF = ["env", "ICGRAPH_RESULT_CACHE_BYTES=0"]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--scales", default="1,10", help="comma-separated multiples of the real graph (1,10,100,1000)")
    parser.add_argument("--quick", action="store_true", help="1x only, 6 queries, 1 s per measurement, no profile")
    parser.add_argument("--queries", default=None, help="comma-separated query names (default: the whole library)")
    parser.add_argument("--systems", default=",".join(SYSTEMS), help=",".join(SYSTEMS) + " (icgraph: result cache off, cold; icgraph-warm: the same query again, from the cache; virtuoso: Debian's virtuoso-t and isql-vt; icgraph-virtuoso: icgraph serve on that Virtuoso)")
    parser.add_argument("--concurrency", default="1,8")
    parser.add_argument("--duration", type=float, default=1.0, help="seconds per query, system and concurrency")
    parser.add_argument("--max-requests", type=int, default=2000, help="cap per measurement (python client, floor)")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds before one request counts as timed out")
    parser.add_argument("--rdflib-max-scale", type=int, default=1, help="largest scale served by rdflib-endpoint")
    parser.add_argument("--validate-max-scale", type=int, default=10, help="validate whole graphs up to this scale; a sample above")
    parser.add_argument("--infer-max-scale", type=int, default=10, help="run icgraph.infer up to this scale")
    parser.add_argument("--cold-starts", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--loadgen", choices=["wrk", "httpx"], default=None, help="default: wrk when installed")
    parser.add_argument("--work", type=Path, default=Settings().build_dir / "bench", help="scratch stores and dumps")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument("--no-profile", action="store_true", help="skip the per-request overhead breakdown")
    parser.add_argument("--no-real-build", action="store_true", help="measure 1x on the generated graph, skip the real build")
    parser.add_argument("--reuse-data", action="store_true",
                        help="reuse a generated and loaded scale from an earlier run with the same seed (its build rows are copied, marked)")
    parser.add_argument("--prepare-only", action="store_true", help="generate and load the scales, measure nothing else")
    parser.add_argument("--full-max-scale", type=int, default=100,
                        help="above this scale, only the survival run: each query once on icgraph, under its own time limit")
    parser.add_argument("--survival-timeout", type=float, default=30.0,
                        help="icgraph's query time limit (--query-timeout) in the survival run, seconds")
    parser.add_argument("--stage-timeout", type=float, default=4 * 3600.0,
                        help="seconds one build stage (generate, validate, load) may take; the 1000x store load "
                             "took more than an hour on a shared machine (2026-12-05)")
    args = parser.parse_args(argv)
    if args.quick:
        args.scales = "1"
        args.queries = args.queries or "practices-per-country,practice-actors,actor-profile,practice-graph,cooperation-edges,level-span-distribution"
        args.cold_starts = 1
        args.no_profile = True
    args.scale_list = sorted({int(s) for s in args.scales.split(",")})
    args.concurrency_list = [int(c) for c in args.concurrency.split(",")]
    args.system_list = [s for s in args.systems.split(",") if s]
    return args


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def stage(name: str, timeout: float = 4 * 3600.0, **options) -> dict:
    """Run one stage of bench.stages in its own process; its JSON report, or {"error": ...}."""
    command = [sys.executable, "-m", "bench.stages", name]
    for key, value in options.items():
        if value is not None:
            command += [f"--{key.replace('_', '-')}", str(value)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=HERE.parent)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:g} s"}
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def machine() -> dict:
    memory = None
    try:
        with open("/proc/meminfo") as meminfo:
            memory = int(meminfo.readline().split()[1]) / 1024 / 1024
    except OSError:
        pass
    cpu = ""
    try:
        cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    versions = {}
    for package in ("pyoxigraph", "oxigraph", "rdflib", "rdflib-endpoint", "pyshacl", "fastapi", "uvicorn", "httpx"):
        try:
            from importlib.metadata import version

            versions[package] = version(package)
        except Exception:  # noqa: BLE001 - not installed
            versions[package] = "not installed"
    return {
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "nproc": os.cpu_count(),
        "memory_gib": round(memory, 1) if memory else None,
        "cpu": cpu,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": versions,
        "loadgen": loadgen.tool(),
        "load_average": os.getloadavg(),
    }


# ---------------------------------------------------------------------------
# Data at each scale
# ---------------------------------------------------------------------------


def prepare_scale(scale: int, args, build_rows: list[dict]) -> tuple[Path, Path, int]:
    """Build (1x: the real build) or generate the graph, measuring each stage; returns (store, dump, triples)."""
    folder = args.work / f"x{scale}"
    folder.mkdir(parents=True, exist_ok=True)
    store = folder / "store"

    def row(stage_name: str, result: dict, note: str = "") -> dict:
        entry = {
            "scale": scale, "stage": stage_name, "seconds": result.get("seconds"), "read_seconds": result.get("read_seconds"),
            "peak_mib": result.get("peak_mib"), "note": result.get("error") or note,
        }
        build_rows.append(entry)
        return entry

    if scale == 1 and not args.no_real_build:
        log("1x: the real build (icgraph.build.build) in a scratch store")
        result = stage("real-build", args.stage_timeout, store=store, build_dir=folder / "dump")
        if "error" in result:
            raise SystemExit(f"the real build failed: {result['error']}")
        peak = result["peak_mib"]
        for name, seconds in result["timings"].items():
            build_rows.append({"scale": 1, "stage": name, "seconds": seconds, "read_seconds": None, "peak_mib": None, "note": ""})
        build_rows.append(
            {"scale": 1, "stage": "full build", "seconds": result["seconds"], "read_seconds": None, "peak_mib": peak,
             "note": f"{result['triples']} triples; SHACL conforms: {result['conforms']}; peak is the whole build's"}
        )
        dump = store / "dumps" / "icgraph.nq"  # the release the real build made
        # The synthetic 1x must be valid too: generate it and check it with icgraph.validate.
        sample = folder / "synthetic-x1.nq"
        row("generate (synthetic 1x)", stage("generate", args.stage_timeout, scale=1, seed=args.seed, output=sample, source=dump))
        checked = stage("validate", args.stage_timeout, input=sample)
        row("validate (synthetic 1x)", checked, _conformance(checked))
        return store, store / "dumps" / "icgraph.trig", _count_triples(store)

    source = _real_dump(args)
    everything, asserted = folder / f"icgraph-x{scale}.nq", folder / f"icgraph-x{scale}-asserted.nq"
    marker = folder / "prepared.json"
    if args.reuse_data and marker.exists() and store.exists():
        saved = json.loads(marker.read_text())
        if saved["scale"] == scale and saved["seed"] == args.seed:
            log(f"{scale}x: reusing the data generated and loaded on {saved['date']}")
            for entry in saved["rows"]:
                build_rows.append({**entry, "note": "; ".join(x for x in (entry["note"], f"measured {saved['date']}, reused") if x)})
            return store, everything, saved["triples"]
    first_row = len(build_rows)
    log(f"{scale}x: generate")
    generated = stage("generate", args.stage_timeout, scale=scale, seed=args.seed, output=everything, asserted_output=asserted if scale <= args.infer_max_scale else None, source=source)
    if "error" in generated:
        raise SystemExit(f"generation failed at {scale}x: {generated['error']}")
    row("generate", generated, f"{generated['quads']} quads (replaces the curation mapping)")
    if scale <= args.infer_max_scale:
        log(f"{scale}x: infer")
        inferred = stage("infer", args.stage_timeout, input=asserted, expected=everything)
        row("infer", inferred, _inference_note(inferred))
    else:
        row("infer", {}, "skipped: the generator writes the renamed real inferred graph")
    if scale <= args.validate_max_scale:
        log(f"{scale}x: validate")
        checked = stage("validate", args.stage_timeout, input=everything)
        row("validate", checked, _conformance(checked))
    else:
        shard = random.Random(args.seed).randrange(scale)
        sample = folder / f"sample-shard-{shard}.nq"
        _generate_sample(source, scale, args.seed, shard, sample)
        checked = stage("validate", args.stage_timeout, input=sample)
        row(f"validate (sample: shard {shard})", checked, _conformance(checked))
    log(f"{scale}x: load")
    loaded = stage("load", args.stage_timeout, input=everything, store=store)
    row("store load", loaded)
    if "error" in loaded:
        raise SystemExit(f"loading failed at {scale}x: {loaded['error']}")
    triples = _count_triples(store)
    marker.write_text(json.dumps({
        "scale": scale, "seed": args.seed, "triples": triples, "rows": build_rows[first_row:],
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
    }, indent=1))
    return store, everything, triples


def _generate_sample(source: Path, scale: int, seed: int, shard: int, path: Path) -> None:
    from bench.generate import generate_file, load_template

    generate_file(path, scale, seed, template=load_template(source), shards=[shard])


def _inference_note(result: dict) -> str:
    if "error" in result:
        return result["error"]
    derived, written = result.get("inferred"), result.get("expected")
    if derived is None or written is None:
        return ""
    share = (derived - written) / written * 100 if written else 0.0
    return (f"icgraph.infer derives {derived} triples, the generator wrote {written} ({derived - written:+d}, {share:+.2f} %); "
            "cooperation-edge IRIs differ (they hash the renamed agents)")


def _conformance(result: dict) -> str:
    if "error" in result:
        return result["error"]
    counts = result.get("counts", {})
    return f"conforms: {result.get('conforms')}; {counts.get('Violation')} violations, {counts.get('Warning')} warnings; {result.get('triples')} triples"


def _real_dump(args) -> Path:
    real = args.work / "x1" / "store" / "dumps" / "icgraph.nq"
    return real if real.exists() else default_source()


def _count_triples(location: Path) -> int:
    """Distinct triples of the default dataset (a release's default graph holds the merge: not len(store), twice that)."""
    store = open_store(location)
    count = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
    return int(next(iter(store.query(count, **default_dataset(store))))["n"].value)


# ---------------------------------------------------------------------------
# Queries
# ---------------------------------------------------------------------------


def measure_floor(store: ox.Store, query: library.BenchQuery, duration: float, max_requests: int) -> dict:
    library.run_in_process(store, query)  # warm
    latencies = []
    started = time.perf_counter()
    while time.perf_counter() - started < duration and len(latencies) < max_requests:
        t0 = time.perf_counter()
        library.run_in_process(store, query)
        latencies.append((time.perf_counter() - t0) * 1000)
    elapsed = time.perf_counter() - started
    return {
        "requests": len(latencies), "seconds": elapsed, "rps": len(latencies) / elapsed,
        "p50_ms": loadgen.percentile(latencies, 50), "p95_ms": loadgen.percentile(latencies, 95),
        "p99_ms": loadgen.percentile(latencies, 99), "errors": 0, "tool": "in-process", "load1": os.getloadavg()[0],
    }


def fetch_count(url: str, query: library.BenchQuery, timeout: float) -> int:
    with httpx.Client(timeout=timeout) as client:
        response = client.get(url, params={"query": query.text}, headers={"Accept": query.accept})
    if response.status_code != 200:
        raise RuntimeError(f"HTTP {response.status_code}: {response.text[:200]}")
    return library.count(response.content, query.form)


def run_queries(scale: int, triples: int, store_path: Path, dump: Path, queries, args, rows: list[dict], build_rows: list[dict] | None = None) -> None:
    """Every query on every system, the systems back to back per query.

    All servers run at once (idle but for the one measured), so that each query's cells are
    measured within seconds of each other: on a shared machine whose speed drifts by tens of
    per cent over minutes, ratios between systems are only fair when taken close together.
    """
    store = open_store(store_path)
    base = {"scale": scale, "triples": triples}
    servers: dict[str, systems.Server] = {}
    try:
        for system in args.system_list:
            if system == "floor":
                continue
            if not systems.available("icgraph" if system == "icgraph-warm" else system):
                log(f"{system}: not installed, skipped")
                continue
            if system == "rdflib-endpoint" and scale > args.rdflib_max_scale:
                log(f"{system}: skipped above {args.rdflib_max_scale}x (--rdflib-max-scale)")
                continue
            log(f"{scale}x: starting {system}")
            server = server_for(system, store_path, dump, servers)
            try:
                server.start(timeout=900)
            except RuntimeError as error:
                log(f"{system}: {error}")
                continue
            servers[system] = server
            loaded = getattr(server, "load_seconds", None)
            if loaded is not None and build_rows is not None:  # Virtuoso's bulk load, the first time it holds this scale
                build_rows.append({"scale": scale, "stage": "virtuoso bulk load", "seconds": loaded, "read_seconds": None, "peak_mib": None,
                                   "note": "ld_dir + rdf_loader_run + checkpoint (isql-vt), N-Quads dump"})
        for query in queries:
            log(f"{scale}x: {query.name}")
            expected = library.count(library.run_in_process(store, query), query.form)
            own = library.library_count(store, query)
            if own != expected:
                log(f"warning: {query.name}: inlined defaults give {expected} rows, the library {own}")
            if "floor" in args.system_list:
                result = measure_floor(store, query, args.duration, args.max_requests)
                rows.append({**base, "system": "floor", "query": query.name, "concurrency": 1, "rows": expected, "status": "ok", **result})
            for system, server in servers.items():
                measure_server(server, query, expected, {**base, "system": system, "query": query.name}, args, rows)
            if getattr(args, "write_so_far", None):  # a run stopped later keeps the queries measured so far
                args.write_so_far()
    finally:
        for server in servers.values():
            server.stop()


def server_for(system: str, store_path: Path, dump: Path, running: dict[str, systems.Server]) -> systems.Server:
    """The server of ``system`` (see `SYSTEMS`): icgraph cold with its result cache off, or warm with it on."""
    if system == "icgraph-warm":
        server = systems.icgraph_server(store_path)
        server.system = system
        return server
    if system == "oxigraph":
        return oxigraph_server(store_path)
    server = systems.server_for(system, store_path, dump, running)
    if system in ("icgraph", "icgraph-virtuoso"):
        server.command = [*CACHE_OFF, *server.command]
    return server


def oxigraph_server(location: Path) -> systems.Server:
    """The Oxigraph server on the Oxigraph folder of ``location`` (a release's store/). A release's default
    graph already holds the merge of its named graphs: there the server reads it as it is, since
    ``--union-default-graph`` would add the named graphs to it and count every triple twice."""
    folder = oxigraph_folder(location)
    server = systems.oxigraph_server(folder)
    if library.dataset_of(open_store(location)) == {}:
        server.command.remove("--union-default-graph")
    return server


def measure_server(server: systems.Server, query, expected: int, entry: dict, args, rows: list[dict]) -> None:
    """One query on one running server: a checked first answer, then each concurrency."""
    try:
        t0 = time.perf_counter()
        rows_seen = fetch_count(server.url, query, args.timeout)
        single = time.perf_counter() - t0
    except (httpx.HTTPError, RuntimeError) as error:
        timed_out = isinstance(error, httpx.TimeoutException)
        status = f"timeout ({args.timeout:g} s)" if timed_out else f"error: {str(error)[:80]}"
        rows.append({**entry, "concurrency": None, "rows": None, "status": status})
        if timed_out:  # the server may still be evaluating it (rdflib cannot stop); start afresh
            server.stop()
            server.start(timeout=900)
        return
    if rows_seen != expected:
        rows.append({**entry, "concurrency": None, "rows": rows_seen, "status": f"mismatch: {rows_seen} rows, floor {expected}"})
        return
    # A slow system still gets a few answers per measurement (bounded at 10 s).
    duration = max(args.duration, min(10.0, math.ceil(single * 4)))
    for concurrency in args.concurrency_list:
        result = loadgen.measure(server.url, query.text, query.accept, concurrency, duration, args.max_requests, args.timeout, args.loadgen)
        status = "ok" if not result["errors"] else f"{result['errors']} errors"
        if not result["requests"]:
            status = f"no answer within {duration:g} s"
        if status != "ok":  # requests the client gave up on may still be queued: start afresh
            server.stop()
            server.start(timeout=900)
        rows.append({**entry, "concurrency": concurrency, "rows": rows_seen, "status": status, **result, "load1": os.getloadavg()[0]})


def survival(scale: int, triples: int, store_path: Path, queries, args, rows: list[dict]) -> None:
    """Above --full-max-scale: each library query once on icgraph, whose own time limit is
    --survival-timeout. Each request must end with the answer (200) or the endpoint's own
    refusal (504 at the limit, 503 past the memory ceiling) within the limit plus 5 s, and the
    server must still be up and answering at the end."""
    base = {"scale": scale, "triples": triples, "system": "icgraph", "concurrency": 1, "tool": "survival"}
    limit = args.survival_timeout
    server = systems.icgraph_server(store_path, extra=["--query-timeout", f"{limit:g}"])
    server.start(timeout=900)
    try:
        with httpx.Client(timeout=limit + 60) as client:
            for query in queries:
                t0 = time.perf_counter()
                try:
                    response = client.get(server.url, params={"query": query.text}, headers={"Accept": query.accept})
                    code, body = response.status_code, response.content
                except httpx.HTTPError as error:
                    code, body = None, str(error).encode()
                elapsed = time.perf_counter() - t0
                alive = server.process.poll() is None
                if code == 200:
                    status = "ok"
                elif code in (503, 504):
                    status = f"refused {code}: {body.decode(errors='replace').strip()[:90]}"
                else:
                    status = f"error {code}: {body.decode(errors='replace').strip()[:90]}"
                if elapsed > limit + 5:
                    status += f" (after {elapsed:.1f} s, past the limit)"
                if not alive:
                    status += " (the server died)"
                rows.append({**base, "query": query.name, "requests": 1, "seconds": elapsed, "p50_ms": elapsed * 1000,
                             "rows": library.count(body, query.form) if code == 200 else None, "errors": 0 if code == 200 else 1,
                             "status": status})
                log(f"{scale}x survival: {query.name}: {status.split(':')[0]} in {elapsed:.1f} s")
                if not alive:
                    server.start(timeout=900)
            probe = client.get(server.url, params={"query": systems.PROBE}, headers={"Accept": "application/sparql-results+json"})
            rows.append({**base, "query": "(still up at the end)", "concurrency": None, "requests": 1,
                         "status": "ok" if probe.status_code == 200 else f"error {probe.status_code}"})
    finally:
        server.stop()


def cold_start(scale: int, store_path: Path, runs: int, rows: list[dict]) -> None:
    for run in range(runs):
        server = systems.icgraph_server(store_path)
        try:
            server.start(timeout=120)
            rows.append({"scale": scale, "run": run + 1, "seconds": server.ready_after})
        finally:
            server.stop()


def shape_statistics(scale: int, store_path: Path, rows: list[dict]) -> None:
    store = open_store(store_path)
    for statistic, key, value in report.shape_of(store):
        rows.append({"scale": scale, "statistic": statistic, "key": key, "value": value})


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["pages"]:  # the pages users touch: bench/pages.py
        from bench import pages

        return pages.main(argv[1:])
    if argv[:1] == ["api"]:  # the query library through /api/queries, and on Virtuoso: bench/api.py
        from bench import api

        return api.main(argv[1:])
    args = parse_args(argv)
    started = time.perf_counter()
    args.work.mkdir(parents=True, exist_ok=True)
    args.out.mkdir(parents=True, exist_ok=True)
    facts = machine()
    queries = library.bench_queries(Settings().queries_dir, args.queries.split(",") if args.queries else None)
    log(f"{len(queries)} queries, scales {args.scale_list}, systems {args.system_list}, load generator {args.loadgen or loadgen.tool()}")
    build_rows, latency_rows, cold_rows, shape_rows, scales = [], [], [], [], {}
    for scale in args.scale_list:
        store_path, dump, triples = prepare_scale(scale, args, build_rows)
        scales[scale] = triples
        if args.prepare_only:
            continue
        log(f"{scale}x: {triples} triples; cold start")
        args.write_so_far = lambda: report.write(
            args.out, facts=facts, args=args, scales=scales, build=build_rows, latency=latency_rows, cold=cold_rows,
            shape=shape_rows, overhead=[], elapsed=time.perf_counter() - started,
        )
        cold_start(scale, store_path, args.cold_starts, cold_rows)
        shape_statistics(scale, store_path, shape_rows)
        if scale > args.full_max_scale:
            survival(scale, triples, store_path, queries, args, latency_rows)
        else:
            run_queries(scale, triples, store_path, dump, queries, args, latency_rows, build_rows)
        # Write what there is after each scale, so a failure later keeps the measurements so far.
        report.write(
            args.out, facts=facts, args=args, scales=scales, build=build_rows, latency=latency_rows, cold=cold_rows,
            shape=shape_rows, overhead=[], elapsed=time.perf_counter() - started,
        )
    overhead_rows = []
    if not args.no_profile and not args.prepare_only:
        try:
            overhead_rows = report.overhead(queries, latency_rows, min(scales))
        except Exception as error:  # noqa: BLE001 - the measurements stand without the breakdown
            log(f"overhead breakdown failed: {type(error).__name__}: {error}")
    report.write(
        args.out, facts=facts, args=args, scales=scales, build=build_rows, latency=latency_rows, cold=cold_rows,
        shape=shape_rows, overhead=overhead_rows, elapsed=time.perf_counter() - started,
    )
    log(f"done in {time.perf_counter() - started:.0f} s; results in {args.out}")


if __name__ == "__main__":
    main()
