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


def _text_vectors(texts: dict[str, str]) -> dict[str, dict[str, float]]:
    """TF-IDF vectors (unit length) of the texts; words of fewer than 4 letters, or in over half the texts, left out."""
    counts = {key: Counter(w for w in words(text) if len(w) >= 4 and w.isalpha()) for key, text in texts.items()}
    frequency = Counter(w for c in counts.values() for w in c)
    total = len(counts) or 1
    vectors = {}
    for key, c in counts.items():
        vector = {w: (1 + math.log(n)) * math.log(total / frequency[w]) for w, n in c.items() if frequency[w] <= total / 2}
        norm = math.sqrt(sum(v * v for v in vector.values())) or 1.0
        vectors[key] = {w: v / norm for w, v in vector.items()}
    return vectors


def _reason(feature: str, labels: list[str]) -> str:
    _, one, many, same = FEATURES[feature]
    if same:
        return f"{same} ({labels[0]})" if labels else same
    return f"{len(labels)} {one if len(labels) == 1 else many}"


def _candidate_pairs(keys: list[str], values, vectors) -> list[tuple[str, str]]:
    """The pairs of practices that share a value or a word held by at most CANDIDATE_HOLDERS practices, in ``keys`` order."""
    holders: dict[tuple[str, str], list[int]] = defaultdict(list)
    for index, practice in enumerate(keys):
        for feature, held in values[practice].items():
            for value in held:
                holders[feature, value].append(index)
        for word in vectors[practice]:
            holders["word", word].append(index)
    pairs = {(a, b) for group in holders.values() if 1 < len(group) <= CANDIDATE_HOLDERS
             for i, a in enumerate(group) for b in group[i + 1:]}
    return [(keys[a], keys[b]) for a, b in sorted(pairs)]


def compute(documents, features: list[dict]) -> dict[str, list[tuple[str, float, list[dict]]]]:
    """For each practice IRI: the other practices (IRI, score, reasons), most similar first, at most KEEP.

    ``documents``: the (kind, slug, iri, title, names, body) of the search index; ``features``:
    the rows of FEATURES_QUERIES.
    """
    practices = {iri: f"{title}\n{body}" for kind, _, iri, title, _, body in documents if kind == "practice"}
    values: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    labels: dict[str, str] = {}
    for row in features:
        practice, feature, value = row["practice"].value, row["feature"].value, row["value"].value
        if practice in practices and feature in FEATURES:
            values[practice][feature].add(value)
            labels[value] = row["label"].value if row.get("label") is not None else value.rsplit("/", 1)[-1]
    holders = Counter(value for by_feature in values.values() for held in by_feature.values() for value in held)
    total = len(practices) or 1
    vectors = _text_vectors(practices)

    order = list(FEATURES) + ["text"]
    scored: dict[str, list[tuple[str, float, list[dict]]]] = {practice: [] for practice in practices}
    for practice, other in _candidate_pairs(list(practices), values, vectors):  # each pair once: the measure is symmetric
        score, reasons = 0.0, []
        for feature, (weight, *_rest) in FEATURES.items():
            shared = values[practice][feature] & values[other][feature]
            if not shared:
                continue
            score += sum(weight * math.log(1 + total / holders[v]) for v in shared)
            names = sorted(labels[v] for v in shared)
            reasons.append({"feature": feature, "count": len(shared), "values": sorted(shared), "labels": names,
                            "text": _reason(feature, names)})
        mine, theirs = vectors[practice], vectors[other]
        if len(theirs) < len(mine):
            mine, theirs = theirs, mine
        products = {w: v * theirs[w] for w, v in mine.items() if w in theirs}
        cosine = sum(products.values())
        score += TEXT_WEIGHT * cosine
        if cosine >= TEXT_REASON_MIN:
            top = [w for w, _ in sorted(products.items(), key=lambda item: (-item[1], item[0]))[:TEXT_WORDS]]
            reasons.append({"feature": "text", "count": len(products), "values": [], "labels": top,
                            "text": "similar text (" + ", ".join(top) + ")"})
        if score > 0 and any(r["feature"] != "level" for r in reasons):
            reasons.sort(key=lambda r: order.index(r["feature"]))
            scored[practice].append((other, round(score, 3), reasons))
            scored[other].append((practice, round(score, 3), reasons))
    for others in scored.values():
        others.sort(key=lambda item: (-item[1], item[0]))
        del others[KEEP:]
    return scored


def write_table(db: sqlite3.Connection, documents, features: list[dict]) -> None:
    """The table ``similar`` (practice, rank, other, score, reason, reasons as JSON) in the search index ``db``."""
    db.execute(
        "CREATE TABLE similar (practice TEXT, rank INTEGER, other TEXT, score REAL, reason TEXT, reasons TEXT, "
        "PRIMARY KEY (practice, rank)) WITHOUT ROWID"
    )
    for practice, others in compute(documents, features).items():
        for rank, (other, score, reasons) in enumerate(others, start=1):
            summary = ", ".join(r["text"].split(" (")[0] for r in reasons)
            db.execute("INSERT INTO similar VALUES (?, ?, ?, ?, ?, ?)",
                       (practice, rank, other, score, summary, json.dumps(reasons, ensure_ascii=False)))


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
