"""Full-text search over practices and actors: an SQLite FTS5 index built from the store.

`build_search_index(source, path)` reads practices (title, texts, areas, actor names) and
actors (names, aliases) with one SPARQL query each and writes ``path`` (usually
``build_dir/search.sqlite``) atomically: a temporary file in the same folder, then
``os.replace``. `search(path, text)` answers a query ranked by bm25, titles weighing most.
"""

from __future__ import annotations

import html
import os
import re
import sqlite3
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import pyoxigraph as ox

from icgraph.namespaces import ACTOR, PRACTICE

#: bm25 weights of the indexed columns (title, names, body): a hit in a title counts most.
WEIGHTS = (10.0, 4.0, 1.0)
# Snippet markers: private-use characters that no source text contains, turned into <mark> after escaping.
_OPEN, _CLOSE = "\ue000", "\ue001"

#: The queries that read the documents (icgraph/sparql): practices, then actors.
DOCUMENT_QUERIES = ("search-practices", "search-actors")


@dataclass(frozen=True)
class Hit:
    """One search result: what it is, where its page is, and a highlighted snippet (safe HTML)."""

    kind: str  # "practice" or "actor"
    slug: str
    iri: str
    title: str
    url: str
    snippet: str
    score: float

    def as_dict(self) -> dict:
        return asdict(self)


def _documents(practices: list[dict], actors: list[dict]):
    """(kind, slug, iri, title, names, body) of each practice and actor row of the DOCUMENT_QUERIES."""
    for kind, rows, namespace in (("practice", practices, str(PRACTICE)), ("actor", actors, str(ACTOR))):
        for row in rows:
            iri = row["doc"].value
            if not iri.startswith(namespace) or "#" in iri:
                continue

            def text(name: str) -> str:
                term = row[name]
                return term.value if term is not None else ""

            yield kind, iri[len(namespace):], iri, text("title"), text("names"), text("body")


def _as_store(source) -> ox.Store:
    """A pyoxigraph Store from a Store, or from an rdflib Graph / Dataset (copied into memory)."""
    if isinstance(source, ox.Store) or hasattr(source, "named_graphs"):  # or a remote store (icgraph.backends)
        return source
    store = ox.Store()
    data = source.serialize(format="nt", encoding="utf-8")
    store.load(data, format=ox.RdfFormat.N_TRIPLES)
    return store


def build_search_index(graph_or_store, path: Path) -> Path:
    """Index the practices and actors of a store (or rdflib graph) into the SQLite file ``path``, atomically."""
    from icgraph import sparql
    from icgraph.store import default_dataset

    store = _as_store(graph_or_store)
    practices, actors = (
        sparql.as_values(store.query(sparql.load(name), **default_dataset(store))) for name in DOCUMENT_QUERIES
    )
    return write_search_index(practices, actors, path)


def write_search_index(practices: list[dict], actors: list[dict], path: Path) -> Path:
    """Write the rows of the DOCUMENT_QUERIES (``{variable: term}``) into the SQLite file ``path``, atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=path.name + ".", suffix=".partial", dir=path.parent)
    os.close(handle)
    try:
        with sqlite3.connect(temporary) as db:
            db.execute("CREATE TABLE document (id INTEGER PRIMARY KEY, kind TEXT, slug TEXT, iri TEXT UNIQUE, title TEXT)")
            db.execute(
                "CREATE VIRTUAL TABLE text USING fts5(title, names, body, "
                "tokenize = 'porter unicode61 remove_diacritics 2')"
            )
            for number, (kind, slug, iri, title, names, body) in enumerate(_documents(practices, actors), start=1):
                db.execute("INSERT INTO document VALUES (?, ?, ?, ?, ?)", (number, kind, slug, iri, title))
                db.execute("INSERT INTO text (rowid, title, names, body) VALUES (?, ?, ?, ?)", (number, title, names, body))
            db.execute("INSERT INTO text (text) VALUES ('optimize')")
        db.close()
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def fts_query(text: str, any_word: bool = False) -> str | None:
    """The user's words as an FTS5 query: each word quoted (so no operator syntax leaks in), the last one a prefix."""
    words = re.findall(r"\w+", text, flags=re.UNICODE)
    if not words:
        return None
    quoted = [f'"{word}"' for word in words]
    quoted[-1] += "*"
    return (" OR " if any_word else " ").join(quoted)


def _highlight(snippet: str) -> str:
    return html.escape(snippet).replace(_OPEN, "<mark>").replace(_CLOSE, "</mark>")


def search(path: Path, text: str, limit: int = 50, kind: str | None = None) -> list[Hit]:
    """Documents matching all words of ``text`` (or, if none does, any word), best first."""
    results: list[Hit] = []
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        for any_word in (False, True):
            query = fts_query(text, any_word)
            if query is None:
                return []
            sql = (
                "SELECT d.kind, d.slug, d.iri, d.title, "
                f"snippet(text, -1, '{_OPEN}', '{_CLOSE}', ' … ', 24), bm25(text, ?, ?, ?) AS score "
                "FROM text JOIN document d ON d.id = text.rowid WHERE text MATCH ? "
                + ("AND d.kind = ? " if kind else "")
                + "ORDER BY score LIMIT ?"
            )
            params = [*WEIGHTS, query] + ([kind] if kind else []) + [limit]
            rows = db.execute(sql, params).fetchall()
            if rows:
                break
    for kind_, slug, iri, title, snippet, score in rows:
        results.append(Hit(kind_, slug, iri, title, f"/id/{kind_}/{slug}", _highlight(snippet), round(-score, 4)))
    return results
