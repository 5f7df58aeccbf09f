"""The benchmark harness (bench/): the scale generator is deterministic and valid, and a tiny
run produces its tables with the expected columns. No timing is asserted."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys

import pytest
from rdflib import Dataset

from icgraph.config import PROJECT_DIR
from icgraph.validate import validate

sys.path.insert(0, str(PROJECT_DIR))  # bench/ is a top-level folder of the project, not part of the package
from bench import report, systems  # noqa: E402
from bench.__main__ import SYSTEMS  # noqa: E402
from bench.generate import generate, load_template  # noqa: E402


@pytest.fixture(scope="module")
def template(built):
    return load_template(built.build_result.release.dump("icgraph.nq"))


def _generated(template, scale: int, seed: int, **options) -> str:
    out = io.StringIO()
    generate(out, scale, seed, template=template, **options)
    return out.getvalue()


def test_generator_gives_the_same_bytes_for_the_same_seed(template):
    first, second = _generated(template, 2, seed=7), _generated(template, 2, seed=7)
    assert first == second
    assert _generated(template, 2, seed=8) != first


def test_generator_scales_the_instance_data_and_shares_the_vocabularies(template):
    one = _generated(template, 1, seed=1).count("\n")
    three = _generated(template, 3, seed=1).count("\n")
    assert three == len(template.shared) + 3 * template.quads_per_shard
    assert one == len(template.shared) + template.quads_per_shard
    assert "--s2" in _generated(template, 3, seed=1)


def test_generated_1x_conforms_to_the_shapes(template):
    dataset = Dataset()
    dataset.parse(data=_generated(template, 1, seed=1), format="nquads")
    result = validate(dataset)
    assert result.conforms, [i.message for i in result.violations][:5]


def test_a_sample_shard_of_a_large_scale_conforms(template):
    dataset = Dataset()
    dataset.parse(data=_generated(template, 1000, seed=1, shards=[417]), format="nquads")
    assert validate(dataset).conforms


def test_tiny_run_writes_its_tables(built, tmp_path):
    installed = [s for s in SYSTEMS if systems.available("icgraph" if s == "icgraph-warm" else s)]
    out = tmp_path / "results"
    command = [
        sys.executable, "-m", "bench", "--scales", "1", "--no-real-build",
        "--queries", "practices-per-country,practice-graph", "--concurrency", "1,2", "--duration", "1",
        "--max-requests", "20", "--cold-starts", "1", "--systems", ",".join(installed),
        "--work", str(tmp_path / "work"), "--out", str(out),
    ]
    env = {**os.environ, "ICGRAPH_BUILD_DIR": str(built.build_dir), "ICGRAPH_STORE": str(built.store)}
    done = subprocess.run(command, cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=900)  # seven servers (Virtuoso among them) on a shared machine
    assert done.returncode == 0, done.stderr[-2000:]
    expected = {
        "latency.csv": report.LATENCY_COLUMNS,
        "ratios.csv": report.RATIO_COLUMNS,
        "build.csv": report.BUILD_COLUMNS,
        "coldstart.csv": report.COLD_COLUMNS,
        "shape.csv": report.SHAPE_COLUMNS,
        "overhead.csv": report.OVERHEAD_COLUMNS,
    }
    for name, columns in expected.items():
        with (out / name).open(encoding="utf-8") as stream:
            rows = list(csv.DictReader(stream))
        assert rows, name
        assert list(rows[0]) == columns, name
    with (out / "latency.csv").open(encoding="utf-8") as stream:
        latency = list(csv.DictReader(stream))
    measured = {(r["system"], r["concurrency"]) for r in latency if r["status"] == "ok"}
    assert ("floor", "1") in measured
    for system in installed:
        if system != "floor":
            assert {(system, "1"), (system, "2")} <= measured, system
    assert all(r["load1"] for r in latency if r["status"] == "ok")
    with (out / "ratios.csv").open(encoding="utf-8") as stream:
        ratio_rows = list(csv.DictReader(stream))
    # icgraph cold (result cache off) and warm (the same query again, from the cache) side by side
    assert all(r["icgraph_p50_ms"] and r["icgraph_warm_p50_ms"] for r in ratio_rows), ratio_rows
    text = (out / "results.md").read_text(encoding="utf-8")
    for heading in ("## Targets", "## Ratios per query", "## Build cost per stage", "## Cold start"):
        assert heading in text

    # Again on the same data (--reuse-data: nothing generated or loaded), as a scale above
    # --full-max-scale: each query once on icgraph under its own time limit, then a last probe.
    again = tmp_path / "again"
    survival = command[:command.index("--concurrency")] + [
        "--cold-starts", "1", "--no-profile", "--reuse-data", "--full-max-scale", "0", "--survival-timeout", "10",
        "--work", str(tmp_path / "work"), "--out", str(again),
    ]
    done = subprocess.run(survival, cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "reusing the data generated and loaded" in done.stderr
    with (again / "build.csv").open(encoding="utf-8") as stream:
        build = list(csv.DictReader(stream))
    assert "store load" in {r["stage"] for r in build}
    assert all("reused" in r["note"] for r in build)
    with (again / "latency.csv").open(encoding="utf-8") as stream:
        latency = list(csv.DictReader(stream))
    assert {(r["system"], r["tool"]) for r in latency} == {("icgraph", "survival")}
    assert [r["query"] for r in latency] == ["practices-per-country", "practice-graph", "(still up at the end)"]
    assert all(r["status"] == "ok" for r in latency), latency
    assert all(int(r["rows"]) > 0 for r in latency[:2])

    # One scaling plot across separate runs.
    figure = tmp_path / "scaling.png"
    done = subprocess.run([sys.executable, "-m", "bench.report", str(out), str(again), "-o", str(figure)],
                          cwd=PROJECT_DIR, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert figure.read_bytes().startswith(b"\x89PNG") and "1x" in done.stdout



def test_pages_run_times_every_page_cold_and_warm_and_keeps_other_runs(built, tmp_path):
    """`python -m bench pages` on the real release: a row per page for cold and each warm concurrency,
    every page answered (200), and a second run label added beside the first, not over it."""
    from bench import pages

    out = tmp_path / "results"
    (out).mkdir()
    with (out / "pages.csv").open("w", encoding="utf-8") as stream:  # an earlier run's row stays
        stream.write(",".join(pages.COLUMNS) + "\n" + "before,,1,,home,/,cold,1,1,0,1,1,1,10,ok,0\n")
    command = [
        sys.executable, "-m", "bench", "pages", "--store", str(built.store), "--run", "after", "--cold-rounds", "1",
        "--duration", "0.2", "--min-requests", "2", "--max-requests", "4", "--concurrency", "1,2", "--out", str(out),
    ]
    env = {**os.environ, "ICGRAPH_BUILD_DIR": str(built.build_dir)}
    done = subprocess.run(command, cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    with (out / "pages.csv").open(encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream))
    assert list(rows[0]) == pages.COLUMNS
    assert [r["run"] for r in rows[:1]] == ["before"]
    after = [r for r in rows if r["run"] == "after"]
    names = [p.name for p in pages.PAGES]
    assert {(r["page"], r["phase"], r["concurrency"]) for r in after} == {
        (name, phase, c) for name in names for phase, c in [("cold", "1"), ("warm", "1"), ("warm", "2")]
    }
    assert all(r["status"] == "ok" and int(r["bytes"]) > 0 and float(r["p50_ms"]) > 0 for r in after), after
    assert all(int(r["triples"]) > 40_000 for r in after)
    text = (out / "pages.md").read_text(encoding="utf-8")
    assert "## before" in text and "## after" in text


def test_page_queries_times_each_query_of_the_practice_and_actor_pages(built, tmp_path):
    """`python -m bench.page_queries` on the real release: a row per query of each page, with the rows the
    query answered (the benchmark's practice and actor are real entities) and its times, appended to the CSV."""
    from bench import page_queries

    page_queries.main(["--store", str(built.store), "--rounds", "2", "--run", "test", "--out", str(tmp_path)])
    with (tmp_path / "page-queries.csv").open(encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream))
    assert list(rows[0]) == page_queries.COLUMNS
    by_query = {(r["page"], r["query"]): r for r in rows}
    expected = {("practice", q) for q in page_queries.PRACTICE_QUERIES} | {
        ("actor", q) for q in page_queries.ACTOR_QUERIES + page_queries.ACTOR_BOUND}
    assert expected < set(by_query)
    assert int(by_query[("actor", "actor-partners")]["rows"]) > 0 and int(by_query[("practice", "labels")]["rows"]) > 10
    assert all(r["run"] == "test" and r["rounds"] == "2" for r in rows)
    described = [r for r in rows if r["query"].startswith("describe")]
    assert len(described) == 2 and all(int(r["rows"]) > 10 and float(r["wall_ms"]) > 0 for r in described)
