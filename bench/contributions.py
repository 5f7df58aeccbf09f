"""Contribution timings: submit-to-feedback and accept-to-published, at k times the real graph.

At scale 1 the release is a copy of the current one (``--source``, default the store's current
release); at scale k it is made from ``bench.generate``'s k-times N-Quads (``icgraph load``'s
path: no SHACL report of its own). Then, through the real application (FastAPI TestClient, the
reader pool started):

- submit-to-feedback: POST /api/submissions of tests/fixtures/contributions/practice.ttl with a
  mistake (422 with the SHACL results) and without (201), ``--submissions`` times each;
  the first includes reading the release's registry once;
- accept-to-published: POST .../decision {"action": "accept"} until /sparql answers the new
  practice (the accept's process: the release writer, the SHACL gate, the link's rename,
  and the server following it).

The accept writes its release from the previous one (`icgraph.contributions.incremental`); its
SHACL gate validates the focus nodes the change can affect (`icgraph.contributions.gate`). The load average before and after is recorded with
the figures (the machine is shared).

The aggregates of the new release follow publication in a process of their own
(`icgraph.precompute.complete_release`); ``aggregates_after_publication_seconds`` is how long after
publication they were there.

Usage: ``python -m bench.contributions --scale 1 --work build/bench/contrib``
(``--dump FILE``: at scale k, an existing k-times N-Quads file instead of generating one;
``--copy-release DIR``: a release folder to copy instead, with hard links (``cp -al``: nothing of it is
ever written; the files an accept writes are new files), e.g. /tmp/pages100/x100b/store;
``--search-index FILE``: the copy's search index replaced by this one (one written by this code, which an
accept extends); ``--gate stages``: only
the stages besides the gate, run on their own: the new tail from the change alone
(`icgraph.contributions.incremental.next_tail`), the delta writer and the release made current).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import time
from pathlib import Path

from icgraph.config import Settings
from icgraph.contributions import accounts
from icgraph.release import current_release

HERE = Path(__file__).resolve().parent
PRACTICE = (HERE.parent / "tests" / "fixtures" / "contributions" / "practice.ttl").read_bytes()


def _loadavg() -> str:
    return Path("/proc/loadavg").read_text().strip() if Path("/proc/loadavg").is_file() else ""


def _release_at(scale: int, work: Path, source: Settings, seed: int, dump: Path | None = None, copy_release: Path | None = None,
                search_index: Path | None = None) -> Settings:
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    settings = Settings(store=work / "store", build_dir=work / "build", state_dir=work / "state", query_workers=2)
    if copy_release is not None:
        import subprocess

        folder = copy_release.resolve()
        (work / "store.releases").mkdir()
        subprocess.run(["cp", "-al", str(folder), str(work / "store.releases" / folder.name)], check=True)
        (work / "store").symlink_to(work / "store.releases" / folder.name)
        if search_index is not None:  # a new file in the copy, never a write into a linked one
            (work / "store.releases" / folder.name / "search.sqlite").unlink()
            shutil.copyfile(search_index, work / "store.releases" / folder.name / "search.sqlite")
        settings.prepared_index = _extendable_search_index(settings)
        return settings
    release = current_release(source.store, source.build_dir)
    if release is None:
        sys.exit("no current release: run `icgraph build` first (or give --store)")
    if scale == 1:
        (work / "store.releases").mkdir()
        shutil.copytree(release.path, work / "store.releases" / release.id)
        (work / "store").symlink_to(work / "store.releases" / release.id)
        settings.prepared_index = _extendable_search_index(settings)
    else:
        from bench.generate import generate_file
        from icgraph.publish import release_from_dump

        if dump is None:
            from bench.generate import load_template

            dump = work / f"x{scale}.nq"
            generate_file(dump, scale, seed=seed, template=load_template(release.dump("icgraph.nq")))
        release_from_dump(dump, settings.store, settings.build_dir)
    return settings


def _cpu() -> dict:
    import resource

    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"self": own.ru_utime + own.ru_stime, "children": children.ru_utime + children.ru_stime}


def _extendable_search_index(settings: Settings) -> dict | None:
    """Prepare the copied release's search index for an accept to extend, if it cannot yet (an index written before it
    kept the similar practices' basis, as the 100x release's): part of preparing, not of the accept.

    Its documents and similar lists are kept; the vocabulary is counted if it is empty, and the basis, each
    practice's values (`icgraph.search.practice_features`) and text vectors are added, as `icgraph.similar.write_table`
    writes them. The result is a new file: a linked original is never written."""
    import sqlite3
    from collections import Counter

    import pyoxigraph as ox

    from icgraph import similar
    from icgraph.search import _vocabulary_of, practice_features

    release = current_release(settings.store, settings.build_dir)
    with sqlite3.connect(f"file:{release.search_index}?mode=ro", uri=True) as db:
        extendable = similar.has_basis(db)
    db.close()
    if extendable:
        return None
    started = time.perf_counter()
    fresh = release.path / "search.sqlite.new"
    shutil.copyfile(release.search_index, fresh)
    store = ox.Store.read_only(str(release.store))
    with sqlite3.connect(fresh) as db:
        documents = [(kind, slug, iri, title, names, body) for kind, slug, iri, title, names, body in db.execute(
            "SELECT d.kind, d.slug, d.iri, d.title, t.names, t.body FROM document d JOIN text t ON t.rowid = d.id ORDER BY d.id")]
        if db.execute("SELECT count(*) FROM vocabulary").fetchone()[0] == 0:
            vocabulary = Counter(w for _, _, _, title, names, body in documents for w in _vocabulary_of(title, names, body))
            db.executemany("INSERT INTO vocabulary VALUES (?, ?)", sorted(vocabulary.items()))
        features = [row for d in documents if d[0] == "practice" for row in practice_features(store, ox.NamedNode(d[2]))]
        basis = similar.basis_of(documents, features)
        texts = similar._texts(documents)
        values, labels = similar._values(texts, features)
        corpus = similar.Corpus({p: values.get(p, {}) for p in texts}, labels,
                                {p: similar._vector(similar._word_counts(t), basis) for p, t in texts.items()})
        db.executescript("\n".join(line for line in similar._TABLES.splitlines() if "similar (" not in line and "similar_other" not in line
                                   and "PRIMARY KEY (practice, rank)" not in line))
        db.execute("CREATE INDEX IF NOT EXISTS similar_other ON similar (other)")
        rows = [("practices", "", basis.practices)] + [("value", k, n) for k, n in basis.holders.items()]
        db.executemany("INSERT INTO similar_basis VALUES (?, ?, ?)", rows + [("word", k, n) for k, n in basis.words.items()])
        for practice in corpus.vectors:
            similar._write_practice(db, practice, corpus)
    db.close()
    fresh.replace(release.search_index)
    return {"seconds": round(time.perf_counter() - started, 1), "practices": basis.practices, "similar lists": "kept from the copied index"}


def _accept_stages(settings: Settings, submission_id: str) -> dict:
    """The stages of an accept besides the SHACL gate, run here on their own (``--gate stages``): the contribution's
    triples, the new tail from the change alone (`icgraph.contributions.incremental.next_tail`), the release
    written from the previous one (`DeltaReleaseWriter.write_delta`: store, dumps, search index, VoID) and made
    current (`finish`), whose process for the aggregates then starts. The submission's state is not changed."""
    import pyoxigraph as ox

    from icgraph.contributions import publication, submissions
    from icgraph.contributions.incremental import HEAD_KEY, DeltaReleaseWriter, head_of, next_tail, tail_of
    from icgraph.terms import to_ox

    submission = submissions.get(settings.state_dir, submission_id)
    reviewer = accounts.find_user(settings.state_dir, "rui")
    previous = current_release(settings.store, settings.build_dir)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    added = [ox.Triple(to_ox(s), to_ox(p), to_ox(o)) for s, p, o in publication.contribution_triples(submission, reviewer, publication._now())]
    head = head_of(previous)
    old_tail = tail_of(previous, head)
    timings["contribution and old tail"] = time.perf_counter() - started
    started = time.perf_counter()
    tail = next_tail(ox.Store.read_only(str(previous.store)), old_tail, added, ontology_dir=settings.ontology_dir,
                     cache_dir=settings.build_dir / "cache")
    timings["infer (next_tail)"] = time.perf_counter() - started
    assert tail is not None, "the contribution takes back an inferred triple: the release would be written anew"
    inputs = {**previous.manifest.get("inputs", {}), f"submission:{submission.id}": publication._digest(submission.rdf)}
    writer = DeltaReleaseWriter(settings.store, settings.build_dir, inputs, settings)
    try:
        writer.write_delta(previous, head, old_tail, tail)
        started = time.perf_counter()
        accepted = publication.published_submissions(previous) + [submission.id]
        release = writer.finish(None, timings, extra={publication.MANIFEST_KEY: accepted, HEAD_KEY: head})
    except BaseException:
        writer.discard()
        raise
    return {"release": release.id, "after_publication": writer.after_publication, "finish_seconds": round(time.perf_counter() - started, 2)}


def measure(scale: int, work: Path, source: Settings, submissions: int, seed: int = 1, dump: Path | None = None,
            feedback_only: bool = False, copy_release: Path | None = None, search_index: Path | None = None,
            gate: str = "full", wait_aggregates: bool = True) -> dict:
    from fastapi.testclient import TestClient

    from icgraph.server.app import create_app

    started = time.perf_counter()
    if feedback_only:  # the source's release read in place (nothing is accepted, so nothing is written beside it)
        if work.exists():
            shutil.rmtree(work)
        settings = Settings(store=source.store, build_dir=source.build_dir, state_dir=work / "state", query_workers=2)
    else:
        settings = _release_at(scale, work, source, seed, dump, copy_release, search_index)
    prepared = time.perf_counter() - started
    accounts.add_user(settings.state_dir, "carla", "contributor", "bench password 1")
    accounts.add_user(settings.state_dir, "rui", "reviewer", "bench password 2")
    carla = {"Authorization": "Bearer " + accounts.new_token(settings.state_dir, "carla"), "Content-Type": "text/turtle"}
    rui = {"Authorization": "Bearer " + accounts.new_token(settings.state_dir, "rui")}
    settings.submission_rate = "100000/hour"
    broken = PRACTICE.replace(b"principle:interaction", b"principle:nonsense")
    result = {"scale": scale, "prepare_seconds": round(prepared, 2), "loadavg_before": _loadavg(),
              "prepared_search_index": getattr(settings, "prepared_index", None)}
    with TestClient(create_app(settings), base_url="https://bench") as client:
        rows = {"422": [], "201": []}
        last = None
        for _ in range(submissions):
            for body, status in ((broken, 422), (PRACTICE, 201)):
                t = time.perf_counter()
                answer = client.post("/api/submissions", content=body, headers=carla)
                rows[str(status)].append(time.perf_counter() - t)
                assert answer.status_code == status, answer.text
                last = answer.json() if status == 201 else last
        result["submit_to_feedback_first_seconds"] = round(rows["422"][0], 3)
        for status, times in rows.items():
            rest = times[1:] or times
            result[f"submit_to_feedback_{status}_median_seconds"] = round(statistics.median(rest), 3)
            result[f"submit_to_feedback_{status}_max_seconds"] = round(max(rest), 3)
        if feedback_only:
            result["loadavg_after"] = _loadavg()
            return result
        result["loadavg_at_accept"] = _loadavg()
        result["gate"] = gate
        cpu = _cpu()
        t = time.perf_counter()
        if gate == "stages":
            accepted = _accept_stages(settings, last["id"])
            result["finish_seconds"] = accepted["finish_seconds"]
        else:
            answer = client.post(last["url"] + "/decision", json={"action": "accept"}, headers=rui)
            assert answer.status_code == 200, answer.text
            accepted = {"after_publication": None}
        decided = time.perf_counter() - t
        query = f"ASK {{ <{last['practice']}> ?p ?o }}"
        while not client.get("/sparql", params={"query": query}, headers={"Accept": "application/sparql-results+json"}).json()["boolean"]:
            time.sleep(0.05)
        result["accept_seconds"] = round(decided, 2)
        result["accept_to_published_seconds"] = round(time.perf_counter() - t, 2)
        published = time.perf_counter()
        used = _cpu()
        result["accept_cpu_seconds"] = {k: round(used[k] - cpu[k], 2) for k in used}
        result["loadavg_at_published"] = _loadavg()
        release = current_release(settings.store, settings.build_dir)
        if wait_aggregates:
            from icgraph.precompute import written_entry

            process = accepted.get("after_publication")
            if process is not None:
                process.wait()
            while not (release.path / "aggregates.sqlite").is_file():
                time.sleep(1)
            result["aggregates_after_publication_seconds"] = round(time.perf_counter() - published, 1)
            entry = written_entry(release.path) or {}
            result["aggregates_after_publication"] = {k: entry.get(k) for k in ("answers", "seconds", "refused")}
        result["release_timings"] = release.manifest.get("timings")
        result["triples"] = release.manifest.get("triples")
        result["incremental"] = release.manifest.get("head") is not None
    result["loadavg_after"] = _loadavg()
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.contributions", description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=int, default=1)
    parser.add_argument("--submissions", type=int, default=10)
    parser.add_argument("--work", type=Path, default=Settings().build_dir / "bench" / "contributions")
    parser.add_argument("--store", type=Path, default=None, help="the store whose current release is the model")
    parser.add_argument("--build-dir", type=Path, default=None)
    parser.add_argument("--dump", type=Path, default=None, help="at scale k, an existing k-times N-Quads file (bench.generate's)")
    parser.add_argument("--feedback-only", action="store_true",
                        help="submit-to-feedback alone, on --store's release as it is (--scale then only labels it; no accept)")
    parser.add_argument("--copy-release", type=Path, default=None,
                        help="at scale k, a release folder to copy with hard links (cp -al) instead of generating one")
    parser.add_argument("--search-index", type=Path, default=None, help="with --copy-release: the copy's search index replaced by this file")
    parser.add_argument("--gate", choices=["full", "stages"], default="full",
                        help="full: the accept as the server runs it; stages: only the stages besides the gate (next_tail, the delta writer, finish)")
    parser.add_argument("--no-wait-aggregates", action="store_true", help="do not wait for the aggregates that follow publication")
    parser.add_argument("--output", type=Path, default=None, help="also write the result to this JSON file")
    args = parser.parse_args(argv)
    source = Settings()
    if args.store:
        source.store = args.store
    if args.build_dir:
        source.build_dir = args.build_dir
    result = measure(args.scale, args.work / f"x{args.scale}", source, args.submissions, dump=args.dump,
                     feedback_only=args.feedback_only, copy_release=args.copy_release, search_index=args.search_index,
                     gate=args.gate, wait_aggregates=not args.no_wait_aggregates)
    print(json.dumps(result, indent=1))
    if args.output:
        args.output.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
