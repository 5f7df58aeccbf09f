"""Each query of the practice and actor pages timed directly on a store (``python -m bench.page_queries``).

``python -m bench.page_queries --store STORE [--rounds 3] [--run LABEL] [--out bench/results/x100]`` runs, in this
process, the queries the pages of `bench.pages.PAGES` send for their practice and actor (their
description, the labels of what they show, and each query of the actor page) exactly as a reader
runs them (`icgraph.server.workers.run_here`: same text, bindings and dataset), ``--rounds`` times
each, and writes ``OUT/page-queries.csv``: one row per query with its rows, the median wall and CPU
milliseconds and the load average. Less noisy than a page's time on a shared machine: no pool, no
HTTP, no template. The first round reads the store's files from disk if the cache has lost them.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import datetime as dt
import pickle
import statistics
import time
from pathlib import Path

import pyoxigraph as ox

from bench.pages import loadavg

PRACTICE = "https://w3id.org/icgraph/id/practice/bilbao-anti-rumours-strategy"
ACTOR = "https://w3id.org/icgraph/id/actor/municipality-bilbao"
#: The actor page's queries bound by substitution (linked_data._actor_context), then those opened with a VALUES row.
ACTOR_QUERIES = ("actor-practices", "actor-memberships", "actor-members", "actor-sub-organisations", "actor-partnerships",
                 "entity-stated-relations")
ACTOR_BOUND = ("actor-partners",)
PRACTICE_QUERIES = ("practice-partnerships", "entity-stated-relations")
COLUMNS = ["run", "date", "store", "page", "query", "rows", "wall_ms", "cpu_ms", "rounds", "loadavg_1m"]


class TimingPool:
    """Has the pool's ``prepared``; runs each job in this process as a reader does and records its time."""

    def __init__(self, store: Path, label: str):
        from icgraph.server.workers import local_reader

        self.store, self.label = str(store), label
        self.reader = local_reader(10**10)
        self.times: list[tuple[str, int, float, float]] = []

    async def prepared(self, query, bindings=None, *, fmt=None, hide=(), timeout=None):
        from icgraph.server.workers import prepared_job, run_here

        job = prepared_job(query, bindings, fmt, hide)
        wall, cpu = time.perf_counter(), time.process_time()
        reply = run_here(self.reader, self.store, job)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        values = pickle.loads(reply["body"])
        self.times.append((self.label, len(values) if isinstance(values, list) else int(bool(values)), wall, cpu))
        return values


async def _page(pool: TimingPool, iri: str, names: tuple[str, ...], bound: tuple[str, ...]) -> None:
    from icgraph.server import linked_data, prepared

    pool.label = "describe (describe-parts, describe-meeting-parts, describe-triples per part)"
    triples = await linked_data.describe(pool, iri)
    pool.label = "labels"
    iris = sorted({t for triple in triples for t in triple if isinstance(t, ox.NamedNode)}, key=str)
    await pool.prepared(prepared.with_groups("labels", prepared.values("s", iris)))
    for name in names:
        pool.label = name
        await pool.prepared(name, {"entity": ox.NamedNode(iri)})
    for name in bound:
        pool.label = name
        if hasattr(linked_data, "select_bound"):
            await linked_data.select_bound(pool, name, entity=iri)
        else:  # a checkout from before select_bound (a "before" run): bound by substitution, as its page did
            await pool.prepared(name, {"entity": ox.NamedNode(iri)})


def measure(store: Path, rounds: int, run: str) -> list[dict]:
    rows = []
    for page, iri, names, bound in (("practice", PRACTICE, PRACTICE_QUERIES, ()), ("actor", ACTOR, ACTOR_QUERIES, ACTOR_BOUND)):
        runs: dict[str, list[tuple[int, float, float]]] = {}
        load = loadavg()
        pool = TimingPool(store, "")  # one reader for the rounds, as a server's reader serves one page after another
        for _ in range(rounds):
            pool.times = []
            asyncio.run(_page(pool, iri, names, bound))
            summed: dict[str, list] = {}
            for label, count, wall, cpu in pool.times:  # a description is several queries: summed
                entry = summed.setdefault(label, [0, 0.0, 0.0])
                entry[0] += count
                entry[1] += wall
                entry[2] += cpu
            for label, (count, wall, cpu) in summed.items():
                runs.setdefault(label, []).append((count, wall, cpu))
        for label, measured in runs.items():
            rows.append({
                "run": run, "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "store": str(store), "page": page,
                "query": label, "rows": measured[0][0], "wall_ms": round(statistics.median(m[1] for m in measured) * 1000, 2),
                "cpu_ms": round(statistics.median(m[2] for m in measured) * 1000, 2), "rounds": rounds, "loadavg_1m": load,
            })
            print(f"{page:8s} {label[:60]:60s} {rows[-1]['rows']:6d} rows {rows[-1]['wall_ms']:9.1f} ms wall "
                  f"{rows[-1]['cpu_ms']:9.1f} ms CPU (load {load})", flush=True)
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.page_queries", description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, required=True, help="a release (its folder or the store link)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None, help="write OUT/page-queries.csv (appended)")
    parser.add_argument("--run", default="", help="label of this run in page-queries.csv (e.g. the commit)")
    args = parser.parse_args(argv)
    store = args.store.resolve() / "store" if (args.store.resolve() / "store").is_dir() else args.store
    rows = measure(store, args.rounds, args.run)
    if args.out is not None:
        path = args.out / "page-queries.csv"
        new = not path.exists()
        with path.open("a", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=COLUMNS)
            if new:
                writer.writeheader()
            writer.writerows(rows)


if __name__ == "__main__":
    main()
