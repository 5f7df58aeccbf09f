"""Full-text search over practices, actors and places: an SQLite FTS5 index built from the store.

`build_search_index(source, path)` reads practices (title, texts, areas, target groups, actor
names), actors (names, aliases) and places (names, the places they lie in) with one SPARQL
query each, and writes ``path`` (usually ``build_dir/search.sqlite``) atomically: a
temporary file in the same folder, then ``os.replace``. Beside the full-text table it holds
the vocabulary of the documents (for "did you mean") and the similar practices of each
practice (`icgraph.similar`), computed once per release.

`search(path, text)` answers a query in tiers, each ranked by bm25 (titles weigh most):
the query as one phrase, then every word as a whole word, then the last word as a prefix,
and only when none of those finds anything, any one word. So ``roma`` finds the practices
about Roma people before "Emilia-Romagna", which holds ``roma`` only inside a word.
`suggest(path, text)` proposes the nearest words of the vocabulary for words it does not
hold (``intercultral`` -> ``intercultural``).
"""

from __future__ import annotations

import html
import os
import sqlite3
import tempfile
from collections import Counter
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import pyoxigraph as ox

from icgraph.namespaces import ACTOR, PLACE, PRACTICE
from icgraph.words import Term, parse_query, words

#: bm25 weights of the indexed columns (title, names, body): a hit in a title counts most.
WEIGHTS = (10.0, 4.0, 1.0)
# Snippet markers: private-use characters that no source text contains, turned into <mark> after escaping.
_OPEN, _CLOSE = "\ue000", "\ue001"

#: The kinds of documents, in the order results are grouped: kind, query (icgraph/sparql), namespace, heading.
KINDS = (
    ("practice", "search-practices", str(PRACTICE), "Practices"),
    ("actor", "search-actors", str(ACTOR), "Actors"),
    ("place", "search-places", str(PLACE), "Places"),
)
#: The queries that read the documents (icgraph/sparql).
DOCUMENT_QUERIES = tuple(query for _, query, _, _ in KINDS)

#: How a hit matched, best first (the tiers of `search`).
MATCHES = ("phrase", "all words", "word beginning", "some words")


@dataclass(frozen=True)
class Hit:
    """One search result: what it is, where its page is, a highlighted snippet (safe HTML), how it matched."""

    kind: str  # "practice", "actor" or "place"
    slug: str
    iri: str
    title: str
    url: str
    snippet: str
    score: float  # bm25 relevance within its tier (higher is better)
    match: str  # one of MATCHES: the tier it was found in

    def as_dict(self) -> dict:
        return asdict(self)


def _documents(rows_by_kind: dict[str, list[dict]]):
    """(kind, slug, iri, title, names, body) of each row of the DOCUMENT_QUERIES."""
    for kind, _, namespace, _ in KINDS:
        for row in rows_by_kind.get(kind, ()):
            iri = row["doc"].value
            if not iri.startswith(namespace) or "#" in iri:
                continue

            def text(name: str) -> str:
                term = row.get(name)
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
    """Index the practices, actors and places of a store (or rdflib graph) into the SQLite file ``path``, atomically."""
    from icgraph import similar, sparql
    from icgraph.store import default_dataset

    store = _as_store(graph_or_store)
    dataset = default_dataset(store)
    rows = {kind: sparql.as_values(store.query(sparql.load(query), **dataset)) for kind, query, _, _ in KINDS}
    features = [row for query in similar.FEATURES_QUERIES for row in sparql.as_values(store.query(sparql.load(query), **dataset))]
    return write_search_index(rows, path, features)


def write_search_index(rows_by_kind: dict[str, list[dict]], path: Path, features: list[dict] = ()) -> Path:
    """Write the rows of the DOCUMENT_QUERIES (``{kind: [{variable: term}]}``), their vocabulary and the
    similar practices (from the rows of `similar.FEATURES_QUERIES`) into the SQLite file ``path``, atomically."""
    from icgraph import similar

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=path.name + ".", suffix=".partial", dir=path.parent)
    os.close(handle)
    documents = list(_documents(rows_by_kind))
    try:
        with sqlite3.connect(temporary) as db:
            db.execute("CREATE TABLE document (id INTEGER PRIMARY KEY, kind TEXT, slug TEXT, iri TEXT UNIQUE, title TEXT)")
            db.execute(
                "CREATE VIRTUAL TABLE text USING fts5(title, names, body, "
                "tokenize = 'porter unicode61 remove_diacritics 2')"
            )
            vocabulary: Counter[str] = Counter()
            for number, (kind, slug, iri, title, names, body) in enumerate(documents, start=1):
                db.execute("INSERT INTO document VALUES (?, ?, ?, ?, ?)", (number, kind, slug, iri, title))
                db.execute("INSERT INTO text (rowid, title, names, body) VALUES (?, ?, ?, ?)", (number, title, names, body))
                vocabulary.update({w for w in words(f"{title} {names} {body}") if len(w) >= 3 and w.isalpha()})
            db.execute("INSERT INTO text (text) VALUES ('optimize')")
            db.execute("CREATE TABLE vocabulary (word TEXT PRIMARY KEY, documents INTEGER) WITHOUT ROWID")
            db.executemany("INSERT INTO vocabulary VALUES (?, ?)", sorted(vocabulary.items()))
            similar.write_table(db, documents, features)
        db.close()
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


# ---------------------------------------------------------------------------
# Querying
# ---------------------------------------------------------------------------


def _fts_term(term: Term, prefix: bool = False) -> str:
    # The words are \w+ runs (icgraph.words), so quoting them leaves no FTS5 syntax in the query.
    return '"' + " ".join(term.words) + '"' + ("*" if prefix or term.prefix else "")


def fts_query(text: str, any_word: bool = False) -> str | None:
    """The user's words as an FTS5 query: each term quoted (so no operator syntax leaks in), the last one a prefix."""
    terms = parse_query(text)
    if not terms:
        return None
    quoted = [_fts_term(t, prefix=i == len(terms) - 1) for i, t in enumerate(terms)]
    return (" OR " if any_word else " ").join(quoted)


def _tiers(text: str) -> list[tuple[str, str]]:
    """(match, FTS5 query) of each tier of `search`, best first."""
    terms = parse_query(text)
    if not terms:
        return []
    every_word = [w for t in terms for w in t.words]
    tiers = []
    if len(every_word) > 1:
        tiers.append(("phrase", _fts_term(Term(tuple(every_word), terms[-1].prefix))))
    tiers.append(("all words", " ".join(_fts_term(t) for t in terms)))
    tiers.append(("word beginning", fts_query(text)))
    if len(terms) > 1:
        tiers.append(("some words", " OR ".join(_fts_term(t) for t in terms)))
        tiers.append(("some words", fts_query(text, any_word=True)))
    return tiers


def _highlight(snippet: str) -> str:
    return html.escape(snippet).replace(_OPEN, "<mark>").replace(_CLOSE, "</mark>")


def search(path: Path, text: str, limit: int = 50, kind: str | None = None) -> list[Hit]:
    """Documents matching ``text``, best tier first (phrase, all whole words, word beginnings, some words),

    each tier by bm25; the "some words" tiers only when the others find nothing."""
    hits: list[Hit] = []
    seen: set[str] = set()
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        for match, query in _tiers(text):
            if match == "some words" and hits and hits[-1].match != "some words":
                break
            sql = (
                "SELECT d.kind, d.slug, d.iri, d.title, "
                f"snippet(text, -1, '{_OPEN}', '{_CLOSE}', ' … ', 24), bm25(text, ?, ?, ?) AS score "
                "FROM text JOIN document d ON d.id = text.rowid WHERE text MATCH ? "
                + ("AND d.kind = ? " if kind else "")
                + "ORDER BY score LIMIT ?"
            )
            params = [*WEIGHTS, query] + ([kind] if kind else []) + [limit]
            for kind_, slug, iri, title, snippet, score in db.execute(sql, params):
                if iri in seen or len(hits) >= limit:
                    continue
                seen.add(iri)
                hits.append(Hit(kind_, slug, iri, title, f"/id/{kind_}/{slug}", _highlight(snippet), round(-score, 4), match))
    return hits


def grouped(hits: list[Hit]) -> list[dict]:
    """The hits by kind, in the order of KINDS (practices, actors, places), each group in rank order; empty groups left out."""
    groups = []
    for kind, _, _, heading in KINDS:
        members = [h for h in hits if h.kind == kind]
        if members:
            groups.append({"kind": kind, "heading": heading, "hits": members})
    return groups


@lru_cache(maxsize=4)
def _vocabulary(path: str, modified: int) -> tuple[dict[str, int], list[str]]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        counts = dict(db.execute("SELECT word, documents FROM vocabulary"))
    return counts, list(counts)


def suggest(path: Path, text: str) -> str | None:
    """The query with each word the index does not hold replaced by the nearest word it holds

    (Levenshtein distance 1 for words of up to 5 letters, 2 for longer ones; the word in most
    documents wins a tie); None when every word is known or none has a near neighbour."""
    from rapidfuzz import process
    from rapidfuzz.distance import Levenshtein

    path = Path(path)
    counts, vocabulary = _vocabulary(str(path), path.stat().st_mtime_ns)
    changed = False
    out: list[str] = []
    for term in parse_query(text):
        fixed = []
        for index, word in enumerate(term.words):
            is_prefix = term.prefix and index == len(term.words) - 1
            if is_prefix or word in counts or len(word) < 4 or not word.isalpha():
                fixed.append(word)
                continue
            cutoff = 1 if len(word) <= 5 else 2
            near = process.extract(word, vocabulary, scorer=Levenshtein.distance, score_cutoff=cutoff, limit=20)
            if not near:
                fixed.append(word)
                continue
            best = min(near, key=lambda found: (found[1], -counts[found[0]], found[0]))[0]
            fixed.append(best)
            changed = True
        phrase = " ".join(fixed) + ("*" if term.prefix else "")
        out.append(f'"{phrase}"' if len(fixed) > 1 else phrase)
    return " ".join(out) if changed else None


@dataclass(frozen=True)
class Results:
    """What /search shows: the hits (for ``query``, or for ``suggestion`` when ``query`` found nothing)."""

    query: str
    hits: list[Hit]
    suggestion: str | None  # "did you mean"
    corrected: bool  # the hits are the suggestion's: the query itself found nothing

    @property
    def groups(self) -> list[dict]:
        return grouped(self.hits)

    def as_dict(self) -> dict:
        return {
            "q": self.query, "suggestion": self.suggestion, "corrected": self.corrected, "count": len(self.hits),
            "results": [h.as_dict() for h in self.hits],
            "groups": [{"kind": g["kind"], "count": len(g["hits"]), "results": [h.as_dict() for h in g["hits"]]} for g in self.groups],
        }


def find(path: Path, text: str, limit: int = 50, kind: str | None = None) -> Results:
    """`search` with "did you mean": the suggestion is offered whenever a word is unknown, and its hits are
    shown when the query itself finds nothing."""
    hits = search(path, text, limit=limit, kind=kind)
    suggestion = suggest(path, text)
    if not hits and suggestion:
        return Results(text, search(path, suggestion, limit=limit, kind=kind), suggestion, True)
    return Results(text, hits, suggestion, False)
