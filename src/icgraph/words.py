"""Words of a text as search sees them: lower case, accents removed, split on anything not a letter or digit.

The one tokeniser that the search index's vocabulary (`icgraph.search`) and the SPARQL text
functions (`icgraph.sparql.functions`) share, so ``icgf:match(?title, "roma")`` and
``/search?q=roma`` agree on what a whole word is: "Roma" and "Romà" are the word ``roma``;
"Emilia-Romagna" holds the words ``emilia`` and ``romagna``, not ``roma``.

A query is a list of terms: a word, a word ending in ``*`` (a prefix), or several words in
double quotes (a phrase, matched as consecutive words).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_WORD = re.compile(r"\w+", re.UNICODE)
_TERM = re.compile(r'"([^"]*)"?|(\w+)(\*?)', re.UNICODE)


class _CombiningMarks(dict):
    """`str.translate`'s table that deletes the combining marks (``unicodedata.combining``), filled as characters come."""

    def __missing__(self, code: int) -> int | None:
        kept = None if unicodedata.combining(chr(code)) else code
        self[code] = kept
        return kept


_WITHOUT_COMBINING_MARKS = _CombiningMarks()


def fold(text: str) -> str:
    """``text`` in lower case without accents ("Romà" -> "roma"), as the index's unicode61 tokenizer folds it."""
    folded = text.casefold()
    if folded.isascii():  # no accent to remove, and NFKD leaves ASCII as it is
        return folded
    # The combining marks deleted by a table rather than character by character in Python: the search index
    # folds every practice's whole text, so this was a fifth of writing it.
    return unicodedata.normalize("NFKD", folded).translate(_WITHOUT_COMBINING_MARKS)


def words(text: str) -> list[str]:
    """The folded words of ``text``, in order."""
    return _WORD.findall(fold(text))


@dataclass(frozen=True)
class Term:
    """One term of a query: ``words`` consecutive words (one for a plain word), the last a prefix if ``prefix``."""

    words: tuple[str, ...]
    prefix: bool = False


def parse_query(query: str) -> list[Term]:
    """The terms of a user's query: ``roma "anti rumours" intercultur*``."""
    terms: list[Term] = []
    for phrase, word, star in _TERM.findall(query):
        if word:
            terms.append(Term(tuple(words(word)), bool(star)))
        elif words(phrase):
            terms.append(Term(tuple(words(phrase))))
    return [t for t in terms if t.words]


def _occurrences(term: Term, text_words: list[str]) -> int:
    """How often ``term`` occurs in ``text_words`` (as whole words, consecutive for a phrase)."""
    n, count = len(term.words), 0
    for start in range(len(text_words) - n + 1):
        window = text_words[start:start + n]
        if window[:-1] != list(term.words[:-1]):
            continue
        last, wanted = window[-1], term.words[-1]
        if last == wanted or (term.prefix and last.startswith(wanted)):
            count += 1
    return count


def score(text: str, query: str) -> float:
    """0 unless every term of ``query`` occurs in ``text`` as whole words; then a score that grows with

    the number of occurrences of the terms, plus 10 when the query's words occur together as one
    phrase (so the title "Roma people" beats a text that names "Roma" and "people" apart).
    """
    terms = parse_query(query)
    text_words = words(text)
    if not terms or not text_words:
        return 0.0
    counts = [_occurrences(term, text_words) for term in terms]
    if not all(counts):
        return 0.0
    together = Term(tuple(w for t in terms for w in t.words), terms[-1].prefix)
    bonus = 10.0 if len(terms) > 1 and _occurrences(together, text_words) else 0.0
    return float(sum(counts)) + bonus


def matches(text: str, query: str) -> bool:
    """True when every term of ``query`` occurs in ``text`` as whole words."""
    return score(text, query) > 0
