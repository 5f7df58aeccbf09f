"""A bounded soak of icgraph's server: abandoned heavy queries, then a mix of pages and queries.

``python -m bench.soak [--store PATH] [--duration 180] [--concurrency 32]`` (``make soak``)
starts ``icgraph serve`` on a release (the current one by default) on 127.0.0.1 and:

1. **Abandoned heavy queries.** Measures a cheap query alone, then while two heavy queries
   run whose clients hang up after one second, as a careless client does.
2. **Soak.** ``--concurrency`` visitors, each from its own loopback address (``--one-address``:
   all from one), send the page/query mix of `MIX` for ``--duration`` seconds (and at most
   ``--max-requests``).

It prints and writes (``--out``, JSON) the requests by status, p50 and p99 of the cheap
requests and of everything, and the resident memory of the server and its query processes
before and after. Every loop is bounded in time and count; traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import sys
import time
from pathlib import Path

import httpx

from bench.loadgen import percentile
from bench.proctree import descendants
from bench.systems import icgraph_server

CHEAP = "ASK { ?s ?p ?o }"
_NUMBERS = " ".join(str(n) for n in range(200))
HEAVY = "SELECT (COUNT(*) AS ?n) WHERE { " + " ".join(f"VALUES ?{v} {{ {_NUMBERS} }}" for v in "abcd") + " }"

#: (kind, path, params, cheap?): what visitors and researchers request, in the proportions of a browsing session.
MIX = [
    ("sparql-ask", "/sparql", {"query": CHEAP}, True),
    ("static", "/static/web.css", {}, True),
    ("home", "/", {}, False),
    ("practices", "/practices", {}, False),
    ("practices-1-facet", "/practices", {"country": "es"}, False),
    ("practices-3-facets", "/practices", {"country": "es", "level": "regional", "role": "lead"}, False),
    ("practice-page", "/id/practice/bilbao-anti-rumours-strategy.html", {}, False),
    ("search", "/search", {"q": "roma"}, False),
    ("map-data", "/api/map", {}, False),
    ("library-query", "/api/queries/practices-per-country", {}, False),
    ("sparql-select", "/sparql", {"query": "SELECT ?p ?t WHERE { ?p <http://purl.org/dc/terms/title> ?t } LIMIT 50"}, False),
]


def rss_mib(root_pid: int) -> float:
    """Resident memory of a process and all its descendants, in MiB (from /proc)."""
    total = 0
    for pid in [root_pid, *descendants(root_pid)]:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def summary(latencies: list[float]) -> dict:
    return {"n": len(latencies), "p50_ms": round(percentile(latencies, 50) * 1000, 2), "p99_ms": round(percentile(latencies, 99) * 1000, 2)}


async def _timed_get(client: httpx.AsyncClient, path: str, params: dict, timeout: float) -> tuple[int, float]:
    started = time.perf_counter()
    try:
        response = await client.get(path, params=params, timeout=timeout)
        status = response.status_code
    except httpx.TimeoutException:
        status = 0
    except httpx.HTTPError:
        status = -1
    return status, time.perf_counter() - started


async def abandoned_heavy(base: str, samples: int = 40) -> dict:
    """Cheap-query latency alone, then while two heavy queries are abandoned after 1 s."""
    headers = {"Accept": "application/sparql-results+json"}
    async with httpx.AsyncClient(base_url=base, headers=headers) as client:
        alone = [(await _timed_get(client, "/sparql", {"query": CHEAP}, 60)) for _ in range(samples)]
        async with httpx.AsyncClient(base_url=base, headers=headers) as careless:
            heavy = [asyncio.ensure_future(_timed_get(careless, "/sparql", {"query": HEAVY}, 1.0)) for _ in range(2)]
            await asyncio.sleep(0.2)  # both heavy queries are running before the cheap ones start
            during = []
            deadline = time.perf_counter() + 10
            while time.perf_counter() < deadline and len(during) < samples * 5:
                during.append(await _timed_get(client, "/sparql", {"query": CHEAP}, 60))
            await asyncio.gather(*heavy)
    return {
        "alone": summary([t for s, t in alone if s == 200]),
        "with_two_abandoned_heavy": summary([t for s, t in during if s == 200]),
        "statuses": dict(collections.Counter(s for s, _ in during)),
    }


async def soak(base: str, concurrency: int, duration: float, max_requests: int, one_address: bool = False) -> dict:
    """``concurrency`` visitors, each from its own loopback address (127.0.0.2, .3, ...) as distinct users
    would be, or all from one (``one_address``: one client with many connections, which the server's
    per-client share holds to all readers but one)."""
    results: list[tuple[str, bool, int, float]] = []
    deadline = time.perf_counter() + duration

    async def visitor(number: int) -> None:
        transport = None if one_address else httpx.AsyncHTTPTransport(local_address=f"127.0.0.{2 + number % 250}")
        async with httpx.AsyncClient(base_url=base, transport=transport,
                                     headers={"Accept": "text/html,application/sparql-results+json;q=0.9"}) as client:
            index = number
            while time.perf_counter() < deadline and len(results) < max_requests:
                kind, path, params, cheap = MIX[index % len(MIX)]
                index += 1
                status, seconds = await _timed_get(client, path, params, 60)
                results.append((kind, cheap, status, seconds))

    started = time.perf_counter()
    await asyncio.gather(*(visitor(n) for n in range(concurrency)))
    elapsed = time.perf_counter() - started
    by_kind = {}
    for kind, *_ in MIX:
        times = [t for k, _, s, t in results if k == kind and s == 200]
        by_kind[kind] = summary(times)
    return {
        "seconds": round(elapsed, 1),
        "requests": len(results),
        "requests_per_second": round(len(results) / elapsed, 1),
        "statuses": dict(collections.Counter(str(s) for _, _, s, _ in results)),
        "cheap": summary([t for _, cheap, s, t in results if cheap and s == 200]),
        "all": summary([t for _, _, s, t in results if s == 200]),
        "by_kind": by_kind,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", type=Path, default=None, help="the release to serve (default: ICGRAPH_STORE's current)")
    parser.add_argument("--duration", type=float, default=180.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--max-requests", type=int, default=200_000)
    parser.add_argument("--one-address", action="store_true", help="all visitors from 127.0.0.1 (one client, many connections)")
    parser.add_argument("--out", type=Path, default=None, help="write the figures as JSON here")
    args = parser.parse_args(argv)
    from icgraph.config import Settings

    store = args.store or Settings().store
    with icgraph_server(store) as server:
        base = server.url.removesuffix("/sparql")
        pid = server.process.pid
        report = {"store": str(store), "rss_mib_before": round(rss_mib(pid), 1)}
        report["abandoned_heavy"] = asyncio.run(abandoned_heavy(base))
        report["soak"] = asyncio.run(soak(base, args.concurrency, args.duration, args.max_requests, args.one_address))
        report["soak"]["addresses"] = 1 if args.one_address else min(args.concurrency, 250)
        report["rss_mib_after"] = round(rss_mib(pid), 1)
        metrics = httpx.get(base + "/metrics", timeout=10).text
        report["pool_metrics"] = [line for line in metrics.splitlines() if line.startswith("icgraph_pool_") and "created" not in line]
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
