"""The one JSON-LD context of the mapping stages (``ontology/context.jsonld``).

Both mappings, of the source documents (`icgraph.mapping.sources`) and of the curation files
(`icgraph.mapping.curation`), turn their records into JSON-LD under this one context: the
prefixes of `icgraph.namespaces.PREFIXES` first (the one source of truth for namespaces), then
the terms every record shares (``common``), then the terms of the record's section. A term means
the same thing wherever it appears; a test holds the sections to that.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from icgraph.config import PROJECT_DIR
from icgraph.namespaces import PREFIXES

FILE = PROJECT_DIR / "ontology" / "context.jsonld"


@lru_cache(maxsize=None)
def _document(path: Path = FILE) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def sections(path: Path = FILE) -> list[str]:
    return [k for k in _document(path) if k not in ("@comment", "curationVocab", "common")]


def context(section: str, path: Path = FILE) -> list[dict]:
    """The ``@context`` of a record of ``section`` (``sources``, or a section of data/curation)."""
    document = _document(path)
    prefixes = dict(PREFIXES)
    if section != "sources":
        prefixes["@vocab"] = document["curationVocab"]  # curation kinds are icg: classes ("kind: LocalAuthority")
    return [prefixes, document["common"], document[section]]


#: Keyword aliases a published document keeps (the sections' other ones, ``practice: "@id"``, name
#: their records' keys, not things).
_PUBLISHED_KEYWORDS = {"id": "@id", "type": "@type"}


@lru_cache(maxsize=None)
def publication_context(path: Path = FILE) -> dict:
    """The context published documents are compacted with (the JSON-LD dump, /id/ documents, and
    /context.jsonld): the prefixes, then every term of every section (they mean the same everywhere)."""
    document = _document(path)
    terms: dict = dict(PREFIXES)
    terms.update(_PUBLISHED_KEYWORDS)
    for section in ["common", *sections(path)]:
        for term, definition in document[section].items():
            if isinstance(definition, str) and definition.startswith("@"):
                continue
            terms.setdefault(term, definition)
    return terms
