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

import contextlib
import html
import os
import shutil
import sqlite3
import tempfile
from collections import Counter
from collections.abc import Iterator
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


def build_search_index(graph_or_store, path: Path, dataset: dict | None = None, basis=None) -> Path:
    """Index the practices, actors and places of a store (or rdflib graph) into the SQLite file ``path``, atomically.

    ``dataset``: the store's `icgraph.store.default_dataset` when the caller knows it (a release being
    written holds the merge: ``{}``), which spares the scan that proves it. ``basis``: the statistics
    similar practices are weighed by (`icgraph.similar.Basis`; default: this corpus's).
    """
    from icgraph import similar, sparql
    from icgraph.store import default_dataset

    store = _as_store(graph_or_store)
    dataset = default_dataset(store) if dataset is None else dataset
    rows = {kind: sparql.as_values(store.query(sparql.load(query), **dataset)) for kind, query, _, _ in KINDS}
    features = [row for query in similar.FEATURES_QUERIES for row in sparql.as_values(store.query(sparql.load(query), **dataset))]
    return write_search_index(rows, path, features, basis)


def update_search_index(previous: Path, path: Path, store: ox.Store, changed, dataset: dict | None = None) -> dict | None:
    """The index of ``store`` written to ``path`` from the index ``previous`` of a store that differs from it in
    the triples about the nodes ``changed`` (the subjects of the quads an accept added or removed), atomically.

    Only the documents that read a changed node (`search-documents-reading.rq`) are read again and
    replaced, with their words in the vocabulary, and the similar practices follow
    (`icgraph.similar.update_table`, with the previous index's basis). Returns what was done
    (documents, similar lists written), or None when ``previous`` does not keep what an update needs.
    ``dataset`` as for `build_search_index`.
    """
    from icgraph import similar, sparql
    from icgraph.store import default_dataset

    with sqlite3.connect(f"file:{previous}?mode=ro", uri=True) as db:
        extendable = similar.has_basis(db)
    db.close()
    if not extendable:
        return None
    with _written_atomically(Path(path)) as temporary:
        shutil.copyfile(previous, temporary)
        with sqlite3.connect(temporary) as db:
            dataset = default_dataset(store) if dataset is None else dataset
            reading = sparql.load("search-documents-reading")
            changed = list(dict.fromkeys(changed))
            iris = sorted({node.value for node in changed if isinstance(node, ox.NamedNode)} | {
                row["doc"].value for node in changed
                for row in store.query(reading, substitutions={ox.Variable("changed"): node}, **dataset)
                if isinstance(row["doc"], ox.NamedNode)})
            namespaces = {kind: (query, namespace) for kind, query, namespace, _ in KINDS}
            rows: dict[str, list[dict]] = {}
            for iri in iris:
                for kind, (query, namespace) in namespaces.items():
                    if iri.startswith(namespace):
                        rows.setdefault(kind, []).extend(sparql.as_values(store.query(
                            sparql.load(query), substitutions={ox.Variable("doc"): ox.NamedNode(iri)}, **dataset)))
            documents = list(_documents(rows))
            _replace_documents(db, [iri for iri in iris if any(iri.startswith(ns) for _, ns in namespaces.values())], documents)
            practices = [d for d in documents if d[0] == "practice"]
            features = [row for d in practices for row in practice_features(store, ox.NamedNode(d[2]))]
            removed = {iri for iri in iris if iri.startswith(str(PRACTICE)) and "#" not in iri} - {d[2] for d in practices}
            written = similar.update_table(db, practices, features, removed)
        db.close()
    return {"documents": len(documents), "similar lists": len(written)}


#: How far `practice_features` reads from a practice: the paths of similar-features.rq are at most two steps
#: long (practice, participation, agent), and the last node's own triples (its type, label, notation) count.
FEATURE_STEPS = 3


def practice_features(store: ox.Store, practice: ox.NamedNode) -> list[dict]:
    """The rows of `similar.FEATURES_QUERIES` for one practice, run on the triples of the merge within FEATURE_STEPS
    steps of it, copied into a store in memory: the query with the practice bound reads the whole store
    (Oxigraph applies the binding after the joins: 2.4 s a practice at 100x), its paths only need these."""
    from icgraph import similar, sparql

    default = ox.DefaultGraph()
    near, frontier, seen = [], [practice], {practice}
    for _ in range(FEATURE_STEPS):
        found = []
        for node in frontier:
            for quad in store.quads_for_pattern(node, None, None, default):
                near.append(quad)
                if not isinstance(quad.object, ox.Literal) and quad.object not in seen:
                    seen.add(quad.object)
                    found.append(quad.object)
        frontier = found
    local = ox.Store()
    local.extend(near)
    bound = {ox.Variable("practice"): practice}
    return [row for query in similar.FEATURES_QUERIES for row in sparql.as_values(local.query(sparql.load(query), substitutions=bound))]


def _vocabulary_of(title: str, names: str, body: str) -> set[str]:
    return {w for w in words(f"{title} {names} {body}") if len(w) >= 3 and w.isalpha()}


def _replace_documents(db: sqlite3.Connection, iris: list[str], documents: list) -> None:
    """The documents ``iris`` taken out of the index ``db`` (with their words), and ``documents`` put in."""
    change: Counter[str] = Counter()
    ids = {}
    (last,) = db.execute("SELECT coalesce(max(id), 0) FROM document").fetchone()  # before any is taken out: ids stay unique
    for iri in iris:
        found = db.execute("SELECT id FROM document WHERE iri = ?", (iri,)).fetchone()
        if found is None:
            continue
        ids[iri] = found[0]
        title, names, body = db.execute("SELECT title, names, body FROM text WHERE rowid = ?", found).fetchone()
        change.subtract(_vocabulary_of(title, names, body))
        db.execute("DELETE FROM document WHERE id = ?", found)
        db.execute("DELETE FROM text WHERE rowid = ?", found)
    for kind, slug, iri, title, names, body in documents:
        if iri not in ids:
            last += 1
        number = ids.get(iri, last)
        db.execute("INSERT INTO document VALUES (?, ?, ?, ?, ?)", (number, kind, slug, iri, title))
        db.execute("INSERT INTO text (rowid, title, names, body) VALUES (?, ?, ?, ?)", (number, title, names, body))
        change.update(_vocabulary_of(title, names, body))
    for word, n in sorted(change.items()):
        if n:
            db.execute("INSERT INTO vocabulary VALUES (?, ?) ON CONFLICT (word) DO UPDATE SET documents = documents + excluded.documents",
                       (word, n))
    db.execute("DELETE FROM vocabulary WHERE documents <= 0")


def write_search_index(rows_by_kind: dict[str, list[dict]], path: Path, features: list[dict] = (), basis=None) -> Path:
    """Write the rows of the DOCUMENT_QUERIES (``{kind: [{variable: term}]}``), their vocabulary and the
    similar practices (from the rows of `similar.FEATURES_QUERIES`, weighed by ``basis``, default this
    corpus's: `icgraph.similar.Basis`) into the SQLite file ``path``, atomically."""
    from icgraph import similar

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    documents = list(_documents(rows_by_kind))
    with _written_atomically(path) as temporary:
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
                vocabulary.update(_vocabulary_of(title, names, body))
            db.execute("INSERT INTO text (text) VALUES ('optimize')")
            db.execute("CREATE TABLE vocabulary (word TEXT PRIMARY KEY, documents INTEGER) WITHOUT ROWID")
            db.executemany("INSERT INTO vocabulary VALUES (?, ?)", sorted(vocabulary.items()))
            similar.write_table(db, documents, features, basis)
        db.close()
    return path


@contextlib.contextmanager
def _written_atomically(path: Path) -> Iterator[Path]:
    """A temporary file beside ``path`` to write: renamed to ``path`` when the block ends, removed if it raises."""
    handle, temporary = tempfile.mkstemp(prefix=path.name + ".", suffix=".partial", dir=path.parent)
    os.close(handle)
    try:
        yield Path(temporary)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    else:
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)


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
