"""Similar practices, computed once per release into the search index (table ``similar``).

Two practices are alike by what they share: named actors, target groups, areas of
intervention, principle, practice types, country, governance levels spanned, and words of
their texts. Each shared value counts its feature's weight times its rarity (the inverse
document frequency over the practices: sharing the Council of Europe, which takes part in
many practices, counts less than sharing a small association); the texts add their TF-IDF
cosine. Every pair keeps its reasons in words ("3 shared actors, same principle") and the
names behind them, so a reader sees why, not only a score.

`write_table(db, documents, features)` is called by `icgraph.search.write_search_index`;
`similar_to(path, slug)` reads it back for the practice pages and the API.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path

from icgraph.words import words

#: The queries (icgraph/sparql) whose rows (?practice ?feature ?value ?label) describe the practices: the
#: actors apart, since in one UNION with the other features Oxigraph took over 40 min at 100x (5 s apart).
FEATURES_QUERIES = ("similar-actor-features", "similar-features")
#: How many similar practices are kept per practice.
KEEP = 10

#: Weight of one shared value of each feature, and how a reason names it (singular, plural, "same ...").
FEATURES = {
    "actor": (3.0, "shared actor", "shared actors", None),
    "target": (2.0, "shared target group", "shared target groups", None),
    "area": (1.5, "shared area of intervention", "shared areas of intervention", None),
    "principle": (1.0, None, None, "same principle"),
    "type": (1.0, "shared practice type", "shared practice types", None),
    "country": (1.0, None, None, "same country"),
    "level": (0.5, "shared governance level", "shared governance levels", None),
}
#: Weight of the cosine of the practices' texts (0..1), and how many of the words it shares are named.
TEXT_WEIGHT = 10.0
TEXT_WORDS = 3
#: Pairs whose texts are less alike than this get no "similar text" reason (the score still counts it).
TEXT_REASON_MIN = 0.15
#: A value (actor, group, word…) held by more practices than this proposes no pair to compare; it
#: still counts in the score of pairs that something rarer brings together. The work then grows
#: with the practices, not with their square (at 100x, 8,300 practices: 34 million pairs). Below
#: this many practices every pair that shares anything is compared, so the answer is exact.
CANDIDATE_HOLDERS = 100


@dataclass(frozen=True)
class Similar:
    """A practice similar to another: which, how much, and why (``reason`` in one line, ``reasons`` in detail)."""

    slug: str
    iri: str
    title: str
    url: str
    score: float
    reason: str
    reasons: list[dict]

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Basis:
    """The corpus statistics the weights come from: how many practices, and how many hold each value and each word.

    A build takes them from its own practices and keeps them in the index (table ``similar_basis``);
    an accept scores the practices it adds with the basis of the index it extends (`update_table`), so
    no other pair's score moves and only the lists the new practice enters change. A value or word the
    basis does not know counts as held by one practice. The next build takes a new basis.
    """

    practices: int
    holders: dict[str, int]
    words: dict[str, int]

    def value_holders(self, value: str) -> int:
        return max(1, self.holders.get(value, 0))

    def word_holders(self, word: str) -> int:
        return max(1, self.words.get(word, 0))


@dataclass
class Corpus:
    """What each practice is compared by: its values per feature (with their labels) and its text's TF-IDF vector."""

    values: dict[str, dict[str, set[str]]]
    labels: dict[str, str]
    vectors: dict[str, dict[str, float]]


def _word_counts(text: str) -> Counter:
    return Counter(w for w in words(text) if len(w) >= 4 and w.isalpha())


def _vector(counts: Counter, basis: Basis) -> dict[str, float]:
    """The TF-IDF vector (unit length) of a text's word counts; words in over half the basis's practices left out."""
    total = basis.practices or 1
    vector = {w: (1 + math.log(n)) * math.log(total / basis.word_holders(w)) for w, n in counts.items()
              if basis.words.get(w, 0) <= total / 2}
    norm = math.sqrt(math.fsum(v * v for v in vector.values())) or 1.0
    return {w: v / norm for w, v in vector.items()}


def _reason(feature: str, labels: list[str]) -> str:
    _, one, many, same = FEATURES[feature]
    if same:
        return f"{same} ({labels[0]})" if labels else same
    return f"{len(labels)} {one if len(labels) == 1 else many}"


def _candidate(basis: Basis, kind: str, key: str) -> bool:
    """Whether a value (or a word) proposes the pairs of practices that share it: held by at most CANDIDATE_HOLDERS."""
    return (basis.words.get(key, 0) if kind == "word" else basis.holders.get(key, 0)) <= CANDIDATE_HOLDERS


def _candidate_pairs(keys: list[str], corpus: Corpus, basis: Basis) -> list[tuple[str, str]]:
    """The pairs of practices that share a value or a word held by at most CANDIDATE_HOLDERS practices, in ``keys`` order."""
    holders: dict[tuple[str, str], list[int]] = defaultdict(list)
    for index, practice in enumerate(keys):
        for feature, held in corpus.values[practice].items():
            for value in held:
                holders[feature, value].append(index)
        for word in corpus.vectors[practice]:
            holders["word", word].append(index)
    pairs = {(a, b) for (kind, key), group in holders.items() if len(group) > 1 and _candidate(basis, kind, key)
             for i, a in enumerate(group) for b in group[i + 1:]}
    return [(keys[a], keys[b]) for a, b in sorted(pairs)]


def _score(practice: str, other: str, corpus: Corpus, basis: Basis) -> tuple[float, list[dict]] | None:
    """How similar two practices are, with the reasons; None when nothing but governance levels brings them together."""
    total = basis.practices or 1
    terms, reasons = [], []
    mine_values, their_values = corpus.values.get(practice, {}), corpus.values.get(other, {})
    for feature, (weight, *_rest) in FEATURES.items():
        shared = mine_values.get(feature, set()) & their_values.get(feature, set())
        if not shared:
            continue
        terms.extend(weight * math.log(1 + total / basis.value_holders(v)) for v in shared)
        names = sorted(corpus.labels[v] for v in shared)
        reasons.append({"feature": feature, "count": len(shared), "values": sorted(shared), "labels": names,
                        "text": _reason(feature, names)})
    mine, theirs = corpus.vectors[practice], corpus.vectors[other]
    if len(theirs) < len(mine):
        mine, theirs = theirs, mine
    products = {w: v * theirs[w] for w, v in mine.items() if w in theirs}
    cosine = math.fsum(products.values())
    score = math.fsum(terms) + TEXT_WEIGHT * cosine
    if cosine >= TEXT_REASON_MIN:
        top = [w for w, _ in sorted(products.items(), key=lambda item: (-item[1], item[0]))[:TEXT_WORDS]]
        reasons.append({"feature": "text", "count": len(products), "values": [], "labels": top,
                        "text": "similar text (" + ", ".join(top) + ")"})
    if score > 0 and any(r["feature"] != "level" for r in reasons):
        order = list(FEATURES) + ["text"]
        reasons.sort(key=lambda r: order.index(r["feature"]))
        return round(score, 3), reasons
    return None


def _texts(documents) -> dict[str, str]:
    return {iri: f"{title}\n{body}" for kind, _, iri, title, _, body in documents if kind == "practice"}


def _values(practices, features: list[dict]) -> tuple[dict[str, dict[str, set[str]]], dict[str, str]]:
    values: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    labels: dict[str, str] = {}
    for row in features:
        practice, feature, value = row["practice"].value, row["feature"].value, row["value"].value
        if practice in practices and feature in FEATURES:
            values[practice][feature].add(value)
            labels[value] = row["label"].value if row.get("label") is not None else value.rsplit("/", 1)[-1]
    return values, labels


def basis_of(documents, features: list[dict]) -> Basis:
    """The basis of a corpus: its practices, and how many of them hold each value and each word."""
    texts = _texts(documents)
    values, _ = _values(texts, features)
    holders = Counter(value for by_feature in values.values() for held in by_feature.values() for value in held)
    frequency = Counter(w for text in texts.values() for w in _word_counts(text))
    return Basis(len(texts), dict(holders), dict(frequency))


def compute(documents, features: list[dict], basis: Basis | None = None) -> dict[str, list[tuple[str, float, list[dict]]]]:
    """For each practice IRI: the other practices (IRI, score, reasons), most similar first, at most KEEP.

    ``documents``: the (kind, slug, iri, title, names, body) of the search index; ``features``:
    the rows of FEATURES_QUERIES; ``basis``: the statistics to weigh by (default: those of this corpus).
    """
    return _compute(documents, features, basis)[0]


def _compute(documents, features, basis):
    texts = _texts(documents)
    basis = basis or basis_of(documents, features)
    values, labels = _values(texts, features)
    corpus = Corpus({p: values.get(p, {}) for p in texts}, labels, {p: _vector(_word_counts(t), basis) for p, t in texts.items()})
    scored: dict[str, list[tuple[str, float, list[dict]]]] = {practice: [] for practice in texts}
    for practice, other in _candidate_pairs(list(texts), corpus, basis):  # each pair once: the measure is symmetric
        found = _score(practice, other, corpus, basis)
        if found is not None:
            scored[practice].append((other, *found))
            scored[other].append((practice, *found))
    for others in scored.values():
        _keep_best(others)
    return scored, basis, corpus


def _keep_best(others: list) -> None:
    others.sort(key=lambda item: (-item[1], item[0]))
    del others[KEEP:]


_TABLES = """
CREATE TABLE similar (practice TEXT, rank INTEGER, other TEXT, score REAL, reason TEXT, reasons TEXT,
                      PRIMARY KEY (practice, rank)) WITHOUT ROWID;
CREATE INDEX similar_other ON similar (other);
CREATE TABLE similar_basis (kind TEXT, key TEXT, holders INTEGER, PRIMARY KEY (kind, key)) WITHOUT ROWID;
CREATE TABLE similar_values (practice TEXT, feature TEXT, value TEXT, label TEXT, PRIMARY KEY (practice, feature, value)) WITHOUT ROWID;
CREATE INDEX similar_values_value ON similar_values (feature, value);
CREATE TABLE similar_words (practice TEXT, word TEXT, weight REAL, PRIMARY KEY (practice, word)) WITHOUT ROWID;
CREATE INDEX similar_words_word ON similar_words (word);
"""


def write_table(db: sqlite3.Connection, documents, features: list[dict], basis: Basis | None = None) -> None:
    """The table ``similar`` (practice, rank, other, score, reason, reasons as JSON) in the search index ``db``,

    with what `update_table` extends it from: the basis, and each practice's values and text vector."""
    scored, basis, corpus = _compute(documents, features, basis)
    db.executescript(_TABLES)
    rows = [("practices", "", basis.practices)] + [("value", k, n) for k, n in basis.holders.items()]
    db.executemany("INSERT INTO similar_basis VALUES (?, ?, ?)", rows + [("word", k, n) for k, n in basis.words.items()])
    for practice in corpus.vectors:
        _write_practice(db, practice, corpus)
    for practice, others in scored.items():
        _write_list(db, practice, others)


def _write_practice(db: sqlite3.Connection, practice: str, corpus: Corpus) -> None:
    db.executemany("INSERT INTO similar_values VALUES (?, ?, ?, ?)",
                   [(practice, f, v, corpus.labels[v]) for f, held in corpus.values.get(practice, {}).items() for v in sorted(held)])
    db.executemany("INSERT INTO similar_words VALUES (?, ?, ?)", sorted((practice, w, x) for w, x in corpus.vectors[practice].items()))


def _write_list(db: sqlite3.Connection, practice: str, others: list) -> None:
    db.execute("DELETE FROM similar WHERE practice = ?", (practice,))
    for rank, (other, score, reasons) in enumerate(others, start=1):
        summary = ", ".join(r["text"].split(" (")[0] for r in reasons)
        db.execute("INSERT INTO similar VALUES (?, ?, ?, ?, ?, ?)",
                   (practice, rank, other, score, summary, json.dumps(reasons, ensure_ascii=False)))


def _read_basis(db: sqlite3.Connection) -> Basis:
    practices, holders, frequency = 0, {}, {}
    for kind, key, n in db.execute("SELECT kind, key, holders FROM similar_basis"):
        if kind == "practices":
            practices = n
        else:
            (holders if kind == "value" else frequency)[key] = n
    return Basis(practices, holders, frequency)


def _load(db: sqlite3.Connection, practices, corpus: Corpus) -> None:
    """The values and vectors of ``practices`` from the index into ``corpus`` (those it does not hold yet)."""
    for practice in practices:
        if practice in corpus.vectors:
            continue
        held: dict[str, set[str]] = defaultdict(set)
        for feature, value, label in db.execute("SELECT feature, value, label FROM similar_values WHERE practice = ?", (practice,)):
            held[feature].add(value)
            corpus.labels[value] = label
        corpus.values[practice] = held
        corpus.vectors[practice] = dict(db.execute("SELECT word, weight FROM similar_words WHERE practice = ?", (practice,)))


def _partners(db: sqlite3.Connection, practice: str, corpus: Corpus, basis: Basis) -> set[str]:
    """The practices that share with ``practice`` a value or a word that proposes pairs (`_candidate`)."""
    found = set()
    for feature, held in corpus.values[practice].items():
        for value in held:
            if _candidate(basis, feature, value):
                found.update(p for (p,) in db.execute("SELECT practice FROM similar_values WHERE feature = ? AND value = ?", (feature, value)))
    for word in corpus.vectors[practice]:
        if _candidate(basis, "word", word):
            found.update(p for (p,) in db.execute("SELECT practice FROM similar_words WHERE word = ?", (word,)))
    found.discard(practice)
    return found


def _best_of(db: sqlite3.Connection, practice: str, corpus: Corpus, basis: Basis) -> list:
    partners = sorted(_partners(db, practice, corpus, basis))
    _load(db, partners, corpus)
    others = [(other, *found) for other in partners if (found := _score(practice, other, corpus, basis)) is not None]
    _keep_best(others)
    return others


def _read_list(db: sqlite3.Connection, practice: str) -> list:
    return [(other, score, json.loads(reasons)) for other, score, reasons in
            db.execute("SELECT other, score, reasons FROM similar WHERE practice = ? ORDER BY rank", (practice,))]


def has_basis(db: sqlite3.Connection) -> bool:
    """Whether the index ``db`` keeps what `update_table` needs (an index written before it did not)."""
    return db.execute("SELECT 1 FROM sqlite_master WHERE name = 'similar_basis'").fetchone() is not None


def update_table(db: sqlite3.Connection, documents, features: list[dict], removed: set[str]) -> set[str]:
    """The similar practices of an index after the practices of ``documents`` were added or replaced and those of
    ``removed`` taken away: exactly what `write_table` writes for the new corpus with the index's basis.

    The new practices' own lists are computed; a list elsewhere changes only where a new practice enters its
    best KEEP (no other pair's score moves: the basis is the index's), and a list that held a practice that is
    gone or replaced is computed again. Returns the practices whose list was written.
    """
    basis = _read_basis(db)
    texts = _texts(documents)
    values, labels = _values(texts, features)
    corpus = Corpus({p: values.get(p, {}) for p in texts}, labels, {p: _vector(_word_counts(t), basis) for p, t in texts.items()})
    gone = set(removed) | set(texts)
    stale = {p for practice in gone for (p,) in db.execute("SELECT practice FROM similar WHERE other = ?", (practice,))} - gone
    for practice in gone:
        for table in ("similar", "similar_values", "similar_words"):
            db.execute(f"DELETE FROM {table} WHERE practice = ?", (practice,))  # noqa: S608 - a table name of this module
    for practice in texts:
        _write_practice(db, practice, corpus)
    written = set()
    for practice in sorted(texts):
        others = _best_of(db, practice, corpus, basis)
        _write_list(db, practice, others)
        written.add(practice)
        for other, score, reasons in _scored_with(practice, db, corpus, basis):
            if other in texts or other in stale:
                continue
            listed = _read_list(db, other)
            listed.append((practice, score, reasons))
            _keep_best(listed)
            if any(entry[0] == practice for entry in listed):
                _write_list(db, other, listed)
                written.add(other)
    for practice in sorted(stale):
        _load(db, [practice], corpus)
        _write_list(db, practice, _best_of(db, practice, corpus, basis))
        written.add(practice)
    return written


def _scored_with(practice: str, db: sqlite3.Connection, corpus: Corpus, basis: Basis) -> list:
    """Every partner of ``practice`` with its score and reasons (not only the best KEEP)."""
    partners = sorted(_partners(db, practice, corpus, basis))
    _load(db, partners, corpus)
    return [(other, *found) for other in partners if (found := _score(other, practice, corpus, basis)) is not None]


def similar_to(path: Path, iri: str, limit: int = KEEP) -> list[Similar] | None:
    """The practices most similar to the practice ``iri``, best first; None when the index does not know ``iri``."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        known = db.execute("SELECT 1 FROM document WHERE iri = ? AND kind = 'practice'", (iri,)).fetchone()
        if known is None:
            return None
        rows = db.execute(
            "SELECT d.slug, d.iri, d.title, s.score, s.reason, s.reasons FROM similar s JOIN document d ON d.iri = s.other "
            "WHERE s.practice = ? ORDER BY s.rank LIMIT ?",
            (iri, limit),
        ).fetchall()
    return [Similar(slug, other, title, f"/id/practice/{slug}", score, reason, json.loads(reasons))
            for slug, other, title, score, reason, reasons in rows]
