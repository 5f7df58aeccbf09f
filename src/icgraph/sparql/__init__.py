"""The SPARQL that icgraph's own code runs, one ``.rq`` file a query, with the grlc header of
``queries/`` (``#+ summary``, ``#+ tags``; parameters are the ``?_name_type`` variables).

`load(name)` returns a query ready to run: the file's text after the project's PREFIX
prologue; `query(name)` the parsed file (header, parameters), for the server's pages
(`icgraph.server.prepared`). Values are never pasted into a query; they are bound as RDF
terms (``substitutions``), or, several values of one variable, as a VALUES block of terms.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

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


@lru_cache(maxsize=None)
def query(name: str):
    """The file ``sparql/NAME.rq`` parsed: text, summary, tags, parameters (`icgraph.queries.LibraryQuery`)."""
    from icgraph.queries import parse_query_file

    path = FOLDER / f"{name}.rq"
    if not path.is_file():
        raise KeyError(f"no query file {path}")
    return parse_query_file(path)


def names() -> list[str]:
    return sorted(p.stem for p in FOLDER.glob("*.rq"))


def as_values(results) -> list[dict[str, Any]] | list | bool:
    """Query results as plain Python values: rows ``{variable: term or None}``, a list of triples, or a boolean."""
    import pyoxigraph as ox

    if isinstance(results, ox.QueryBoolean):
        return bool(results)
    if isinstance(results, ox.QuerySolutions):
        names = [v.value for v in results.variables]
        return [{name: row[name] for name in names} for row in results]
    return list(results)
