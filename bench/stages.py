"""One build stage per process, so that its peak memory is its own.

``python -m bench.stages STAGE [options]`` runs the stage, then prints one JSON line:
``{"stage": ..., "seconds": ..., "read_seconds": ..., "peak_mib": ..., ...}``. ``seconds``
times the stage itself; ``read_seconds`` the parse of its input (rdflib or Oxigraph), which
a real build does not pay because the graphs are already in memory.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _dataset(path: Path):
    from rdflib import Dataset

    dataset = Dataset()
    dataset.parse(str(path), format="nquads")
    return dataset


def _cpu_seconds() -> float:
    """CPU time of this process and of its children that have ended (the gate's workers, the release's helpers)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def real_build(args) -> dict:
    """The whole `icgraph build` of the real sources, into a scratch store and build folder.

    Besides the wall-clock seconds, the CPU seconds of the whole build (its worker processes
    included), each stage's CPU seconds (``cpu``) and the load average before and after: on a
    shared machine the wall clock says more about the neighbours than about the build, the CPU
    time much less.
    """
    from icgraph.build import build
    from icgraph.config import Settings

    settings = Settings()
    settings.store = Path(args.store)
    settings.build_dir = Path(args.build_dir)
    load_before = os.getloadavg()
    cpu = _cpu_seconds()
    started = time.perf_counter()
    result = build(settings)
    total = time.perf_counter() - started
    return {
        "seconds": total,
        "cpu_seconds": _cpu_seconds() - cpu,
        "load_average": {"before": load_before, "after": os.getloadavg()},
        "timings": result.timings,
        # Each stage's CPU seconds in the thread or process that ran it: "gate" is its workers', "aggregates"
        # its process's whole (start-up and readers included), "json-ld" its forked process's.
        "cpu": {stage: round(seconds, 3) for stage, seconds in result.cpu.items()},
        "triples": result.triples,
        "conforms": result.validation.conforms,
        "violations": len(result.validation.violations),
    }


def generate(args) -> dict:
    from bench.generate import generate_file, load_template

    started = time.perf_counter()
    template = load_template(args.source)
    count = generate_file(Path(args.output), args.scale, args.seed, template=template, graphs=args.graphs)
    if args.asserted_output:
        generate_file(Path(args.asserted_output), args.scale, args.seed, template=template, graphs="asserted")
    return {"seconds": time.perf_counter() - started, "quads": count}


def infer(args) -> dict:
    """icgraph.infer on a generated asserted graph; compares with the generator's inferred graph."""
    from rdflib import Graph

    from icgraph.infer import infer as run_infer
    from icgraph.namespaces import INFERRED_GRAPH

    started = time.perf_counter()
    dataset = _dataset(Path(args.input))
    read = time.perf_counter() - started
    started = time.perf_counter()
    inferred = run_infer(dataset)
    seconds = time.perf_counter() - started
    report = {"seconds": seconds, "read_seconds": read, "inferred": len(inferred)}
    if args.expected:
        expected = Graph()
        for s, p, o, g in _dataset(Path(args.expected)).quads((None, None, None, None)):
            if g == INFERRED_GRAPH or getattr(g, "identifier", None) == INFERRED_GRAPH:
                expected.add((s, p, o))
        report["expected"] = len(expected)
        derived = set(inferred)
        report["differs"] = len(derived ^ set(expected))
        report["matches_generator"] = report["differs"] == 0
    return report


def validate(args) -> dict:
    from icgraph.validate import validate as run_validate

    started = time.perf_counter()
    dataset = _dataset(Path(args.input))
    read = time.perf_counter() - started
    result = run_validate(dataset)
    return {
        "seconds": result.seconds,
        "read_seconds": read,
        "conforms": result.conforms,
        "counts": result.counts,
        "triples": result.triples,
    }


def load(args) -> dict:
    """Bulk-load a generated dump into a plain Oxigraph folder (what a release's store load does, alone)."""
    import shutil

    import pyoxigraph as ox

    target = Path(args.store)
    if target.is_symlink():
        target.unlink()
    elif target.exists():
        shutil.rmtree(target)  # a scratch store of an earlier run (bench/ --work)
    started = time.perf_counter()
    store = ox.Store(str(target))
    store.bulk_load(path=str(args.input), format=ox.RdfFormat.N_QUADS)
    store.flush()
    store.optimize()
    del store
    return {"seconds": time.perf_counter() - started}


STAGES = {"real-build": real_build, "generate": generate, "infer": infer, "validate": validate, "load": load}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.stages")
    parser.add_argument("stage", choices=sorted(STAGES))
    parser.add_argument("--input")
    parser.add_argument("--expected")
    parser.add_argument("--output")
    parser.add_argument("--asserted-output")
    parser.add_argument("--source")
    parser.add_argument("--store")
    parser.add_argument("--build-dir")
    parser.add_argument("--scale", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--graphs", default="all")
    args = parser.parse_args(argv)
    report = {"stage": args.stage, **STAGES[args.stage](args), "peak_mib": _peak_mib(), "pid": os.getpid()}
    sys.stdout.write(json.dumps(report) + "\n")


if __name__ == "__main__":
    main()
