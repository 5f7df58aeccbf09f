"""One JSON-LD context for the source documents and the curation: a term means one thing everywhere."""

from __future__ import annotations

import itertools
import json

from icgraph.mapping.context import FILE, context, sections
from icgraph.namespaces import PREFIXES

DOCUMENT = json.loads(FILE.read_text(encoding="utf-8"))


def test_a_term_means_the_same_in_every_section():
    for first, second in itertools.combinations(["common", *sections()], 2):
        for term in set(DOCUMENT[first]) & set(DOCUMENT[second]):
            assert DOCUMENT[first][term] == DOCUMENT[second][term], (term, first, second)


def test_prefixes_come_from_the_namespaces_only():
    """The file writes no namespace IRI as a prefix: namespaces.PREFIXES is the one source of truth."""
    for section in ["common", *sections()]:
        for term, definition in DOCUMENT[section].items():
            assert not (isinstance(definition, str) and definition.startswith(("http://", "https://"))), (section, term)
    assert context("sources")[0] == PREFIXES and context("actors")[0]["@vocab"] == PREFIXES["icg"]


def test_both_mappings_use_it():
    from icgraph.mapping import sources

    assert sources.CONTEXT == context("sources")
    assert {"places", "actors", "practices", "memberships", "partnerships"} <= set(sections())
    assert "name" not in DOCUMENT["sources"] and DOCUMENT["common"]["name"]["@id"] == "skos:prefLabel"
