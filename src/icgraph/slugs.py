"""Stable, readable slugs for data IRIs (``https://w3id.org/icgraph/id/{kind}/{slug}``).

A slug is derived from a name once and never from a position, so that it
survives a new edition of a source document.
"""

from __future__ import annotations

import re
import unicodedata

MAX_WORDS = 8

# Letters that Unicode decomposition does not reduce to ASCII.
_TRANSLITERATION = str.maketrans({
    "ı": "i", "İ": "I", "ß": "ss", "ø": "o", "Ø": "O", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE",
    "ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "ð": "d", "Ð": "D", "þ": "th", "Þ": "Th",
})

# Words that carry no meaning at the start of a title and only make slugs longer.
_LEADING_ARTICLES = {"the", "a", "an"}
# ...and at the end, where a cut at MAX_WORDS would leave them dangling.
_TRAILING_STOPWORDS = {"the", "a", "an", "of", "in", "for", "and", "to", "on", "at", "by", "with", "as"}


def slugify(text: str, max_words: int = MAX_WORDS) -> str:
    """Return an ASCII, lower-case, hyphenated slug of at most ``max_words`` words.

    >>> slugify("The <i>Settle in Estonia</i> client portal")
    'settle-in-estonia-client-portal'
    >>> slugify("Türkiye Social Inclusion Training Program")
    'turkiye-social-inclusion-training-program'
    """
    text = re.sub(r"<[^>]+>", " ", text)  # inline HTML such as <i>
    text = text.translate(_TRANSLITERATION)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    words = re.findall(r"[a-z0-9]+", text.lower())
    while words and words[0] in _LEADING_ARTICLES:
        words = words[1:]
    words = words[:max_words]
    while len(words) > 1 and words[-1] in _TRAILING_STOPWORDS:
        words = words[:-1]
    return "-".join(words)


def practice_slug(title: str, prefix: str | None = None) -> str:
    """Slug of a compendium practice: its title, led by its place prefix if it has one.

    A prefix of more than three words names an organisation (``ICEI – ISTITUTO ...``),
    not a place, and is left out so that slugs stay short.

    >>> practice_slug("Anti-rumours strategy", "BILBAO")
    'bilbao-anti-rumours-strategy'
    >>> practice_slug("DiverCities", "ICEI – ISTITUTO DI COOPERAZIONE ECONOMICA INTERNAZIONALE")
    'divercities'
    """
    if prefix and len(slugify(prefix, 99).split("-")) <= 3:
        return slugify(f"{prefix} {title}")
    return slugify(title)
