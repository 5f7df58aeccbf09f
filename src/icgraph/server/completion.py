"""GET /api/complete: autocompletion for the query editor, from icgraph's own data.

The editor (static/js/query-editor.js) asks while a person types a prefixed name (``icg:`` and a few letters,
``place:ber``) or a word; the answer is icgraph's classes, properties, SKOS concepts,
practices, actors and places whose label or local name contains the text, each with its
IRI, its prefixed name and its label. The query is ``sparql/complete.rq``, run through the
reader pool (`pools.run`) like every page's query; the typed text is a bound literal.
"""

from __future__ import annotations

import re
from typing import Literal

import pyoxigraph as ox
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from icgraph.namespaces import PREFIXES, compact
from icgraph.server import pools
from icgraph.server.security import EndpointError

router = APIRouter(tags=["Editor"])

Kind = Literal["class", "property", "concept", "practice", "actor", "place"]
MAX_TEXT = 100
MAX_LIMIT = 50  # the query file returns at most 60 rows; labels of one IRI are folded into one suggestion


class Suggestion(BaseModel):
    iri: str = Field(description="The term's or entity's IRI")
    name: str = Field(description="Its prefixed name with an icgraph prefix (icg:Practice), or <IRI> when no prefix fits")
    prefix: str | None = Field(description="The prefix the name uses (icg), or null")
    label: str = Field(description="The label that matched")
    kind: Kind


class Completions(BaseModel):
    text: str
    kind: Kind | None
    prefix: str | None
    suggestions: list[Suggestion]


#: A local name SPARQL takes as it is after a prefix (PN_LOCAL without escapes).
_PLAIN_LOCAL = re.compile(r"^[A-Za-z0-9_-](?:[A-Za-z0-9_.-]*[A-Za-z0-9_-])?$")


def _prefixed(iri: str) -> tuple[str | None, str]:
    """(prefix, prefixed name) of an IRI, or (None, ``<iri>``) when no icgraph prefix fits or the local name needs escapes."""
    name = compact(iri)
    prefix, _, local = name.partition(":")
    if name.startswith("<") or not _PLAIN_LOCAL.match(local):
        return None, f"<{iri}>"
    return prefix, name


@router.get(
    "/api/complete",
    summary="Autocompletion for the SPARQL editor: classes, properties, concepts, practices, actors, places by label",
    response_model=Completions,
)
async def complete(
    request: Request,
    q: str = Query("", max_length=MAX_TEXT, description="The typed text; matched, case-insensitively, inside labels and local names"),
    kind: Kind | None = Query(None, description="Only this kind of suggestion; all kinds when absent"),
    prefix: str | None = Query(None, max_length=20, description="Only IRIs in the namespace of this icgraph prefix (icg, place, actor, ...)"),
    limit: int = Query(20, ge=1, le=MAX_LIMIT, description="At most this many suggestions"),
) -> Completions:
    bindings = {"text": ox.Literal(q.strip().lower())}
    if kind is not None:
        bindings["kind"] = ox.Literal(kind)
    if prefix is not None:
        if prefix not in PREFIXES:
            raise EndpointError(400, f"prefix={prefix!r} is not an icgraph prefix; use one of: {', '.join(PREFIXES)}.")
        bindings["namespace"] = ox.Literal(PREFIXES[prefix])
    rows = await pools.run(request, "complete", bindings)
    suggestions: dict[str, Suggestion] = {}
    for row in rows:
        iri = row["iri"].value
        if iri in suggestions:
            continue
        prefix, name = _prefixed(iri)
        suggestions[iri] = Suggestion(iri=iri, name=name, prefix=prefix, label=row["label"].value, kind=row["_kind_string"].value)
        if len(suggestions) == limit:
            break
    return Completions(text=q, kind=kind, prefix=prefix, suggestions=list(suggestions.values()))
