"""One settings object for every command and the server: paths, limits, tokens."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

#: The project folder (the one that holds ontology/, shapes/, data/, queries/).
PROJECT_DIR = Path(os.environ.get("ICGRAPH_HOME", Path(__file__).resolve().parents[2]))


def _env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value else default


@dataclass
class Settings:
    """Where things are and how the server behaves. Environment variables override the defaults."""

    project_dir: Path = PROJECT_DIR
    store: Path = field(default_factory=lambda: Path(os.environ.get("ICGRAPH_STORE", PROJECT_DIR / ".icgraph" / "store")))
    build_dir: Path = field(default_factory=lambda: Path(os.environ.get("ICGRAPH_BUILD_DIR", PROJECT_DIR / "build")))
    query_timeout: float = field(default_factory=lambda: _env_float("ICGRAPH_QUERY_TIMEOUT", 30.0))
    update_token: str | None = field(default_factory=lambda: os.environ.get("ICGRAPH_UPDATE_TOKEN") or None)
    union_default_graph: bool = True

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
