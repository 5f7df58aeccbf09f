"""The SPARQL that icgraph's own code runs, one ``.rq`` file a query (header: summary, tags).

`load(name)` returns a query ready to run: the file's text after the project's PREFIX
prologue. Values are never pasted into it; they are bound as RDF terms (``substitutions``).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

FOLDER = Path(__file__).parent


@lru_cache(maxsize=None)
def read(name: str) -> str:
    """The text of ``sparql/NAME.rq`` as it is (its header comments included)."""
    path = FOLDER / f"{name}.rq"
    if not path.is_file():
        raise KeyError(f"no query file {path}")
    return path.read_text(encoding="utf-8")


@lru_cache(maxsize=None)
def load(name: str) -> str:
    """The query ``name`` (``sparql/NAME.rq``) with the project's prefixes declared."""
    from icgraph.namespaces import sparql_prefixes

    return sparql_prefixes() + read(name)


def names() -> list[str]:
    return sorted(p.stem for p in FOLDER.glob("*.rq"))
