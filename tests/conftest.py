"""Fixtures shared by the whole suite: one real build of the graph, made once per test session."""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

import pyoxigraph as ox
import pytest

from icgraph.config import PROJECT_DIR, Settings

ARTIFACTS = PROJECT_DIR / "test-artifacts"


@pytest.fixture(scope="session")
def built(tmp_path_factory) -> Settings:
    """Settings of a store built from the real sources and curation (built once, then read-only)."""
    from icgraph.build import build

    root = tmp_path_factory.mktemp("icgraph")
    settings = Settings(store=root / "store", build_dir=root / "build")
    result = build(settings)
    settings.build_result = result  # type: ignore[attr-defined]
    return settings


@pytest.fixture(scope="session")
def store(built) -> ox.Store:
    """The built store, opened read-only."""
    from icgraph.store import open_store

    return open_store(built.store)


@pytest.fixture
def project_copy(tmp_path) -> Settings:
    """A private copy of the project's inputs (ontology, shapes, data, queries) that a test may break."""
    for folder in ("ontology", "shapes", "data", "queries"):
        source = PROJECT_DIR / folder
        if source.exists():
            shutil.copytree(source, tmp_path / folder)
    return Settings(project_dir=tmp_path, store=tmp_path / ".icgraph" / "store", build_dir=tmp_path / "build")


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where tests leave files for people to look at (screenshots, reports)."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@contextlib.contextmanager
def pooled_client(app, settings: Settings | None = None):
    """A TestClient over ``app`` whose pages reach the store as the server's do: through a reader pool
    (``app.state.pool``, started over ``settings.store`` and closed afterwards), with the endpoint's
    plain-text refusals (504 past the time limit, 503 when busy)."""
    from fastapi.testclient import TestClient

    from icgraph.server.app import endpoint_error
    from icgraph.server.pools import pool_of
    from icgraph.server.security import EndpointError

    if settings is not None:
        app.state.settings = settings
    app.add_exception_handler(EndpointError, endpoint_error)
    with TestClient(app) as client:  # one event loop for the pool and every request
        client.portal.call(pool_of, app)
        try:
            yield client
        finally:
            client.portal.call(app.state.pool.close)
            del app.state.pool


def library_with_an_endless_query(tmp_path: Path, queries_dir: Path) -> Path:
    """A query library folder: cooperation-edges, and a query that counts every pair of triples (billions of rows at
    1x: past any precompute limit on any machine, where a tiny limit instead would race the pool's timer against the
    fast jobs, which can finish before it looks)."""
    import shutil

    queries = tmp_path / "queries"
    queries.mkdir()
    shutil.copy(queries_dir / "cooperation-edges.rq", queries)
    (queries / "every-pair-of-triples.rq").write_text(
        "#+ summary: Every pair of triples, counted\n#+ description: Runs for hours\n#+ tags: [test]\n"
        "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f }\n", encoding="utf-8")
    return queries
