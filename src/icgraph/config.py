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


def _env_flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if not value:
        return default
    if value.lower() not in ("1", "true", "yes", "on", "0", "false", "no", "off"):
        raise ValueError(f"{name}={value!r}: say 1, true, yes or on, or 0, false, no or off")
    return value.lower() in ("1", "true", "yes", "on")


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value) if value else None


def _setting(env: str, default_factory, doc: str):
    """A field of `Settings` read from the environment variable ``env`` (docs/settings.md lists them all)."""
    return field(default_factory=default_factory, metadata={"env": env, "doc": doc})


def _env_text(name: str) -> str | None:
    return os.environ.get(name) or None


@dataclass
class Settings:
    """Where things are and how the server behaves: the one settings object of every command and the server.

    Each field that an environment variable sets names it in its metadata (``env``);
    docs/settings.md documents every one, and a test keeps the two in step.

    Among the server's limits, ``max_facet_values`` (``ICGRAPH_MAX_FACET_VALUES``, default 50) is
    the most facet values one /practices request may select in all; a request with more gets 400
    saying how many are allowed (each value joins the page's queries, so the number is bounded).
    """

    #: The project folder (ontology/, shapes/, data/, queries/); set once per process by ICGRAPH_HOME.
    project_dir: Path = field(default=PROJECT_DIR, metadata={"env": "ICGRAPH_HOME", "doc": "the project folder"})
    #: A Path (the embedded Oxigraph store: a release link, or a plain store folder) or an
    #: `icgraph.backends.RemoteEndpoint` (``sparql+http://...``).
    store: Path | Any = _setting("ICGRAPH_STORE", lambda: _env_store(), "where the data lives")
    build_dir: Path = _setting(
        "ICGRAPH_BUILD_DIR", lambda: Path(os.environ.get("ICGRAPH_BUILD_DIR", PROJECT_DIR / "build")),
        "the build's caches (and a remote store's releases)",
    )
    #: Where the server keeps what users create and must survive restarts (short links, accounts,
    #: submissions): SQLite files written atomically, never inside a release.
    state_dir: Path = _setting(
        "ICGRAPH_STATE_DIR", lambda: Path(os.environ.get("ICGRAPH_STATE_DIR", PROJECT_DIR / ".icgraph" / "state")),
        "durable server state (short links, accounts, submissions)",
    )
    #: The public address of the site and endpoint (no trailing slash needed), named by VoID, the
    #: service description, feeds and pages. Unset: the ROOT of icgraph's IRIs (https://w3id.org/icgraph/).
    base_url: str | None = _setting("ICGRAPH_BASE_URL", lambda: _env_text("ICGRAPH_BASE_URL"), "public base URL")
    #: Largest practice one account may submit or edit at once (Turtle or JSON-LD), in bytes; larger gets 413.
    submission_max_bytes: int = _setting(
        "ICGRAPH_SUBMISSION_MAX_BYTES", lambda: _env_int("ICGRAPH_SUBMISSION_MAX_BYTES", 256 * 1024), "largest submission"
    )
    #: Submissions and edits one account may send (`limits` notation, a moving window, counted in the
    #: contributions database so a restart forgets nothing); more gets 429 with Retry-After.
    submission_rate: str = _setting(
        "ICGRAPH_SUBMISSION_RATE", lambda: os.environ.get("ICGRAPH_SUBMISSION_RATE", "30/hour"), "submissions per account"
    )
    #: Login attempts per account name, and per client address (`limits` notation, moving window); more gets 429.
    login_rate: str = _setting(
        "ICGRAPH_LOGIN_RATE", lambda: os.environ.get("ICGRAPH_LOGIN_RATE", "10/10 minutes"), "login attempts per account"
    )
    login_address_rate: str = _setting(
        "ICGRAPH_LOGIN_ADDRESS_RATE", lambda: os.environ.get("ICGRAPH_LOGIN_ADDRESS_RATE", "30/10 minutes"),
        "login attempts per client address",
    )
    query_timeout: float = _setting("ICGRAPH_QUERY_TIMEOUT", lambda: _env_float("ICGRAPH_QUERY_TIMEOUT", 30.0), "seconds a query may run")
    precompute_timeout: float = _setting(
        "ICGRAPH_PRECOMPUTE_TIMEOUT", lambda: _env_float("ICGRAPH_PRECOMPUTE_TIMEOUT", 900.0), "seconds one precomputed answer may take while a release is written"
    )
    #: Quads of a loaded dump (`icgraph load`) above which the release leaves out its derived copies (TriG,
    #: Turtle, JSON-LD, per-graph N-Triples; `icgraph.dump_writers`): disk and hours, while icgraph.nq holds the data.
    dump_max_quads: int = _setting(
        "ICGRAPH_DUMP_MAX_QUADS", lambda: _env_int("ICGRAPH_DUMP_MAX_QUADS", 20_000_000), "largest load written in every dump format"
    )
    update_token: str | None = _setting("ICGRAPH_UPDATE_TOKEN", lambda: _env_text("ICGRAPH_UPDATE_TOKEN"), "the update token")
    union_default_graph: bool = True

    # --- a remote store (icgraph.backends.parse_location reads these with ICGRAPH_STORE) ---
    store_engine: str | None = _setting("ICGRAPH_STORE_ENGINE", lambda: _env_text("ICGRAPH_STORE_ENGINE"), "remote store engine")
    store_update_url: str | None = _setting("ICGRAPH_STORE_UPDATE_URL", lambda: _env_text("ICGRAPH_STORE_UPDATE_URL"), "remote store update URL")
    store_gsp_url: str | None = _setting("ICGRAPH_STORE_GSP_URL", lambda: _env_text("ICGRAPH_STORE_GSP_URL"), "remote store Graph Store URL")
    store_user: str | None = _setting("ICGRAPH_STORE_USER", lambda: _env_text("ICGRAPH_STORE_USER"), "remote store user")
    store_password: str | None = field(
        default_factory=lambda: _env_text("ICGRAPH_STORE_PASSWORD"),
        metadata={"env": "ICGRAPH_STORE_PASSWORD", "doc": "remote store password"}, repr=False,
    )
    store_graph_prefix: str | None = _setting(
        "ICGRAPH_STORE_GRAPH_PREFIX", lambda: _env_text("ICGRAPH_STORE_GRAPH_PREFIX"), "remote store graph IRI prefix"
    )

    # --- SPARQL endpoint (src/icgraph/server): limits that keep a public endpoint safe ---
    #: A file holding the update token (first line); wins over ``update_token``. No token: updates are off.
    update_token_file: Path | None = _setting("ICGRAPH_UPDATE_TOKEN_FILE", lambda: _env_path("ICGRAPH_UPDATE_TOKEN_FILE"), "update token file")
    #: Worker processes that evaluate queries (each holds the store open read-only). At least 2,
    #: so one runaway query never blocks everyone else. The default is one per core plus two: a
    #: client may hold all readers but one (`icgraph.server.workers.StorePool`), so a single busy
    #: client keeps every core evaluating, with one query more to cover the time a reply takes to
    #: travel to the server, while another client always finds a reader.
    query_workers: int = _setting(
        "ICGRAPH_QUERY_WORKERS", lambda: _env_int("ICGRAPH_QUERY_WORKERS", max(2, os.cpu_count() or 2) + 2), "query processes"
    )
    #: A line per request on standard output (uvicorn's access log). Off by default: it names every client's
    #: address and query, and costs more than a cached answer itself; /metrics counts the requests.
    access_log: bool = _setting("ICGRAPH_ACCESS_LOG", lambda: _env_flag("ICGRAPH_ACCESS_LOG", False), "access log")
    #: Address-space ceiling of each worker process, in MiB (RLIMIT_AS); a query beyond it fails cleanly.
    query_memory_mb: int = _setting("ICGRAPH_QUERY_MEMORY_MB", lambda: _env_int("ICGRAPH_QUERY_MEMORY_MB", 2048), "memory per query process")
    #: Largest serialised result a query may return, in bytes.
    max_result_bytes: int = _setting(
        "ICGRAPH_MAX_RESULT_BYTES", lambda: _env_int("ICGRAPH_MAX_RESULT_BYTES", 128 * 1024 * 1024), "largest result"
    )
    #: Bytes of answers the web process keeps until the next release (an LRU; 0 turns it off).
    result_cache_bytes: int = _setting(
        "ICGRAPH_RESULT_CACHE_BYTES", lambda: _env_int("ICGRAPH_RESULT_CACHE_BYTES", 256 * 1024 * 1024), "result cache size"
    )
    #: Short links (``POST /api/short-links``) kept at most; past it a new query gets 507, known ones keep their id.
    max_short_links: int = _setting(
        "ICGRAPH_MAX_SHORT_LINKS", lambda: _env_int("ICGRAPH_MAX_SHORT_LINKS", 100_000), "most short links"
    )
    #: Largest request body (query, update or uploaded graph), in bytes; larger ones get 413.
    max_request_bytes: int = _setting(
        "ICGRAPH_MAX_REQUEST_BYTES", lambda: _env_int("ICGRAPH_MAX_REQUEST_BYTES", 10 * 1024 * 1024), "largest request body"
    )
    #: Deepest nesting an uploaded RDF document may have (elements, JSON objects, blank nodes, lists).
    max_rdf_nesting: int = _setting("ICGRAPH_MAX_RDF_NESTING", lambda: _env_int("ICGRAPH_MAX_RDF_NESTING", 64), "deepest RDF nesting")
    #: Failed update tokens from one client: past the first rate its answers are slowed, past the
    #: second it is refused (429) until the window moves on (`limits` notation, moving windows).
    failed_token_limits: tuple[str, str] = ("3/minute", "10/15 minutes")
    #: Requests allowed to wait for a busy worker; one more gets 503 with Retry-After.
    max_waiting_requests: int = _setting(
        "ICGRAPH_MAX_WAITING_REQUESTS", lambda: _env_int("ICGRAPH_MAX_WAITING_REQUESTS", 64), "requests that may wait"
    )
    #: Longest wait for a free worker, in seconds, before 503 with Retry-After.
    queue_timeout: float = _setting("ICGRAPH_QUEUE_TIMEOUT", lambda: _env_float("ICGRAPH_QUEUE_TIMEOUT", 10.0), "longest wait")
    #: Facet values one /practices request may select, all facets together; more gets 400 saying how many are allowed.
    max_facet_values: int = _setting(
        "ICGRAPH_MAX_FACET_VALUES", lambda: _env_int("ICGRAPH_MAX_FACET_VALUES", 50), "facet values per /practices request"
    )
    #: SERVICE / LOAD targets allowed (IRI prefixes, space-separated in the environment). Empty: no
    #: outbound traffic at all, and the worker processes run without network access where the OS allows.
    federation_allowlist: tuple[str, ...] = _setting(
        "ICGRAPH_FEDERATION_ALLOWLIST", lambda: tuple(os.environ.get("ICGRAPH_FEDERATION_ALLOWLIST", "").split()),
        "SERVICE targets allowed",
    )

    @classmethod
    def environment_variables(cls) -> dict[str, str]:
        """Every environment variable a setting reads: name -> field name."""
        from dataclasses import fields

        return {f.metadata["env"]: f.name for f in fields(cls) if "env" in f.metadata}

    def public_url(self, path: str = "") -> str:
        """The public address of ``path`` on this site (``base_url``, or the ROOT of icgraph's IRIs):
        the one base VoID, the service description and the pages name."""
        from icgraph.namespaces import ROOT

        return (self.base_url or ROOT).rstrip("/") + "/" + path.lstrip("/")

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
