"""One settings object for every command and the server: paths, limits, tokens."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: The project folder (the one that holds ontology/, shapes/, data/, queries/).
PROJECT_DIR = Path(os.environ.get("ICGRAPH_HOME", Path(__file__).resolve().parents[2]))


def _env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value else default


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def _env_store():
    """``ICGRAPH_STORE``: a path, ``oxigraph:PATH`` or ``sparql+http://host:port/path`` (see icgraph.backends)."""
    from icgraph.backends import parse_location

    return parse_location(os.environ.get("ICGRAPH_STORE") or str(PROJECT_DIR / ".icgraph" / "store"))


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value) if value else None


@dataclass
class Settings:
    """Where things are and how the server behaves. Environment variables override the defaults."""

    project_dir: Path = PROJECT_DIR
    #: A Path (the embedded Oxigraph store) or an `icgraph.backends.RemoteEndpoint` (``sparql+http://...``).
    store: Path | Any = field(default_factory=lambda: _env_store())
    build_dir: Path = field(default_factory=lambda: Path(os.environ.get("ICGRAPH_BUILD_DIR", PROJECT_DIR / "build")))
    query_timeout: float = field(default_factory=lambda: _env_float("ICGRAPH_QUERY_TIMEOUT", 30.0))
    update_token: str | None = field(default_factory=lambda: os.environ.get("ICGRAPH_UPDATE_TOKEN") or None)
    union_default_graph: bool = True

    # --- SPARQL endpoint (src/icgraph/server): limits that keep a public endpoint safe ---
    #: A file holding the update token (first line); wins over ``update_token``. No token: updates are off.
    update_token_file: Path | None = field(default_factory=lambda: _env_path("ICGRAPH_UPDATE_TOKEN_FILE"))
    #: Worker processes that evaluate queries (each holds the store open read-only). At least 2,
    #: so one runaway query never blocks everyone else.
    query_workers: int = field(default_factory=lambda: _env_int("ICGRAPH_QUERY_WORKERS", max(2, os.cpu_count() or 2)))
    #: Address-space ceiling of each worker process, in MiB (RLIMIT_AS); a query beyond it fails cleanly.
    query_memory_mb: int = field(default_factory=lambda: _env_int("ICGRAPH_QUERY_MEMORY_MB", 2048))
    #: Largest serialised result a query may return, in bytes.
    max_result_bytes: int = field(default_factory=lambda: _env_int("ICGRAPH_MAX_RESULT_BYTES", 128 * 1024 * 1024))
    #: Largest request body (query, update or uploaded graph), in bytes; larger ones get 413.
    max_request_bytes: int = field(default_factory=lambda: _env_int("ICGRAPH_MAX_REQUEST_BYTES", 10 * 1024 * 1024))
    #: Deepest nesting an uploaded RDF document may have (elements, JSON objects, blank nodes, lists).
    max_rdf_nesting: int = field(default_factory=lambda: _env_int("ICGRAPH_MAX_RDF_NESTING", 64))
    #: Failed update tokens from one client: past the first rate its answers are slowed, past the
    #: second it is refused (429) until the window moves on (`limits` notation, moving windows).
    failed_token_limits: tuple[str, str] = ("3/minute", "10/15 minutes")
    #: Requests allowed to wait for a busy worker; one more gets 503 with Retry-After.
    max_waiting_requests: int = field(default_factory=lambda: _env_int("ICGRAPH_MAX_WAITING_REQUESTS", 16))
    #: Longest wait for a free worker, in seconds, before 503 with Retry-After.
    queue_timeout: float = field(default_factory=lambda: _env_float("ICGRAPH_QUEUE_TIMEOUT", 10.0))
    #: SERVICE / LOAD targets allowed (IRI prefixes, space-separated in the environment). Empty: no
    #: outbound traffic at all, and the worker processes run without network access where the OS allows.
    federation_allowlist: tuple[str, ...] = field(
        default_factory=lambda: tuple(os.environ.get("ICGRAPH_FEDERATION_ALLOWLIST", "").split())
    )

    @property
    def ontology_dir(self) -> Path:
        return self.project_dir / "ontology"

    @property
    def shapes_dir(self) -> Path:
        return self.project_dir / "shapes"

    @property
    def sources_dir(self) -> Path:
        return self.project_dir / "data" / "sources"

    @property
    def curation_dir(self) -> Path:
        return self.project_dir / "data" / "curation"

    @property
    def queries_dir(self) -> Path:
        return self.project_dir / "queries"
