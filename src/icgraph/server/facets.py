"""Facets of the practice browser, one small class each (in the manner of Datasette's facets).

A facet has a URL parameter name, a label, and a query, ``sparql/facet-NAME.rq``, that
pairs each practice with its values of the facet (``?practice ?value``). From that one query
come both the filter (the practices having one of the selected values: the query opened with
``VALUES ?value { ... }``) and the counts (``facet-counts.rq`` joined with it, each value then
labelled once by ``facet-values.rq``). Selections are combined with AND across facets and OR
within one facet; the counts of a facet are computed under every *other* facet's selection, so
each count says how many practices the current selection would show with that value added.

The facets of the participants (level, kind, role) pair a practice's *participations* with
their values (``?practice ?participation ?value``): selected together, they keep the practices
where one participation has them all (``level=national&role=funder``: a national funder, not a
national partner and an international funder), and their counts follow.

The page does not run these queries per request: the release keeps what they answer unfiltered
as a `icgraph.server.facet_index.FacetIndex`, from which `browse` computes a selection's
practices and counts (``count_query`` is the query that says what a count is; the tests hold
both equal). The list shows ``PAGE_SIZE`` practices a page.

Values travel in the URL as the local name of their IRI (``country=es``,
``level=regional``, ``kind=LocalAuthority``) or as a token (``period=2015-2019``); a token
becomes an RDF term through pyoxigraph's constructors only.
"""

from __future__ import annotations

import functools
import operator
import re
from dataclasses import dataclass, field
from urllib.parse import urlencode

import pyoxigraph as ox

from icgraph.namespaces import ICG, LEVEL, PLACE, PRINCIPLE, PTYPE, ROLE, AREA, TARGET, local_name
from icgraph.server.prepared import compose, nested, values as values_block, with_groups

_TOKEN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,120}$")


class TooManyValues(ValueError):
    """A request selects more facet values than ``Settings.max_facet_values``."""


@dataclass(frozen=True)
class FacetValue:
    token: str
    label: str
    count: int
    selected: bool
    url: str  # the browser's URL with this value toggled

    def as_dict(self) -> dict:
        return {"value": self.token, "label": self.label, "count": self.count, "selected": self.selected, "url": self.url}


class Facet:
    """A facet over the IRIs of one namespace, paired with practices by ``sparql/facet-NAME.rq``."""

    name: str = ""
    label: str = ""
    namespace: str = ""
    #: Whether the facet's query pairs participations (``?participation``) with values, so that
    #: it combines with the other participation facets on the same participation.
    per_participation: bool = False

    # --- values in the URL ---------------------------------------------------------
    def accepts(self, token: str) -> bool:
        return bool(_TOKEN.match(token))

    def term(self, token: str) -> ox.NamedNode | ox.Literal:
        """The RDF term of a URL token (only called on accepted tokens)."""
        return ox.NamedNode(self.namespace + token)

    def token(self, term: ox.NamedNode | ox.Literal) -> str | None:
        return local_name(term, self.namespace)

    # --- SPARQL ----------------------------------------------------------------------
    @property
    def query(self) -> str:
        """The name of the facet's query in icgraph/sparql."""
        return f"facet-{self.name}"

    def restrictions(self, kinds=()) -> list[str]:
        """VALUES blocks that limit ``?value`` in the facet's query (none, by default); ``kinds``: the actor kinds."""
        return []

    def pairs(self, tokens: list[str] | None = None, kinds=()) -> str:
        """The facet's query, opened with ``VALUES ?value`` of the chosen tokens when there are some."""
        chosen = [values_block("value", [self.term(t) for t in tokens])] if tokens else []
        return with_groups(self.query, *self.restrictions(kinds), *chosen)

    def count_query(self, practices: set | None = None, participations: set | None = None, kinds=()) -> str:
        """Practices per value of this facet, among ``practices`` (None: every practice) and, for a
        participation facet, counting only the ``participations`` given (None: every one).

        The page counts from the release's `FacetIndex` instead; this query says what it counts
        (tests/test_facet_index.py holds both equal)."""
        groups = [nested(self.query), *self.restrictions(kinds)]
        if practices is not None:
            groups.append(values_block("practice", sorted(practices, key=str)))
        if participations is not None and self.per_participation:
            groups.append(values_block("participation", sorted(participations, key=str)))
        return compose("facet-values", nested("facet-counts", *groups))

    def values(self, index, practices: set | None, selection: Selection, participations: set | None = None) -> list[FacetValue]:
        """The facet's values with their counts under ``practices``/``participations`` (numbers of ``index``)."""
        named = index.labels.get(self.name, {})
        rows = [(token, self.label_of(token, named), count, named.get(token, (None, None))[1])
                for token, count in index.counts(self, practices, participations).items()]
        chosen = selection.get(self.name)
        seen = {token for token, *_ in rows}
        rows += [(token, self.label_of(token, {}), 0, None) for token in chosen if token not in seen]
        rows.sort(key=self.sort_key)
        return [
            FacetValue(token, label, count, token in chosen, selection.toggled(self.name, token).url())
            for token, label, count, rank in rows
        ]

    def label_of(self, token: str, named: dict) -> str:
        return named.get(token, (token, None))[0]

    @staticmethod
    def sort_key(row) -> tuple:
        token, label, count, rank = row
        return (rank if rank is not None else 99, -count, label.lower())


class PathFacet(Facet):
    """A facet whose values are reached from a practice by a property path (in its facet-NAME.rq)."""

    def __init__(self, name: str, label: str, namespace, per_participation: bool = False):
        self.name, self.label, self.namespace = name, label, str(namespace)
        self.per_participation = per_participation


class ActorKindFacet(Facet):
    """The kind of organisation taking part: its most specific icg: class (actor groups: their member kind).

    The kinds are the leaf subclasses of icg:Actor in the ontology (actor-kinds.rq), read with the
    release's `FacetIndex` (so a new release's ontology gives its own kinds).
    """

    name, label, namespace = "kind", "Actor kind", str(ICG)
    per_participation = True

    def restrictions(self, kinds=()) -> list[str]:
        return [values_block("value", list(kinds) or [ox.NamedNode(str(ICG.Actor))])]


@dataclass(frozen=True)
class Period:
    token: str
    label: str
    first: int | None
    last: int | None


class PeriodFacet(Facet):
    """Start-year ranges (icg:startYear); practices without a start year form their own bucket.

    facet-period.rq computes the token of each practice; its ranges are the ones below.
    """

    name, label = "period", "Start year"
    PERIODS = (
        Period("before-2015", "before 2015", None, 2014),
        Period("2015-2019", "2015–2019", 2015, 2019),
        Period("2020-2021", "2020–2021", 2020, 2021),
        Period("2022-later", "2022 or later", 2022, None),
        Period("unknown", "no start year given", None, None),
    )

    def accepts(self, token: str) -> bool:
        return token in {p.token for p in self.PERIODS}

    def term(self, token: str) -> ox.Literal:
        return ox.Literal(token)

    def token(self, term) -> str | None:
        return term.value if self.accepts(term.value) else None

    def sort_key(self, row) -> tuple:
        order = [p.token for p in self.PERIODS]
        return (order.index(row[0]),)

    def label_of(self, token: str, named: dict) -> str:
        return {p.token: p.label for p in self.PERIODS}[token]


#: The facets of /practices, in the order the page shows them.
FACETS: tuple[Facet, ...] = (
    PathFacet("principle", "Principle", PRINCIPLE),
    PathFacet("country", "Country", PLACE),
    PathFacet("level", "Governance level of a participant", LEVEL, per_participation=True),
    ActorKindFacet(),
    PathFacet("role", "Role of that participant", ROLE, per_participation=True),
    PathFacet("type", "Type", PTYPE),
    PathFacet("area", "Area of intervention", AREA),
    PathFacet("target", "Target group", TARGET),
    PeriodFacet(),
)
FACETS_BY_NAME = {facet.name: facet for facet in FACETS}


@dataclass
class Selection:
    """The facet values chosen, by facet name (only values a facet accepts)."""

    chosen: dict[str, list[str]] = field(default_factory=dict)
    path: str = "/practices"

    @classmethod
    def from_params(cls, pairs: list[tuple[str, str]], path: str = "/practices", limit: int | None = None) -> Selection:
        """The selection of a URL's parameters; more than ``limit`` facet values in all raise TooManyValues."""
        given = sum(1 for key, _ in pairs if key in FACETS_BY_NAME)
        if limit is not None and given > limit:
            raise TooManyValues(
                f"This request selects {given} facet values; at most {limit} are allowed in one request. "
                "Remove some values (OR within a facet, AND across facets)."
            )
        chosen: dict[str, list[str]] = {}
        for key, value in pairs:
            facet = FACETS_BY_NAME.get(key)
            if facet is not None and facet.accepts(value) and value not in chosen.get(key, []):
                chosen.setdefault(key, []).append(value)
        return cls(chosen, path)

    def get(self, name: str) -> list[str]:
        return self.chosen.get(name, [])

    def toggled(self, name: str, token: str) -> Selection:
        chosen = {k: list(v) for k, v in self.chosen.items()}
        values = chosen.setdefault(name, [])
        if token in values:
            values.remove(token)
        else:
            values.append(token)
        return Selection({k: v for k, v in chosen.items() if v}, self.path)

    def pairs(self) -> list[tuple[str, str]]:
        return [(facet.name, token) for facet in FACETS for token in sorted(self.get(facet.name))]

    def url(self, page: int = 1) -> str:
        query = urlencode(self.pairs() + ([("page", str(page))] if page > 1 else []))
        return self.path + ("?" + query if query else "")



#: How many practices one page of /practices lists (``page=2`` for the next ones): at 100x a
#: selection holds thousands.
PAGE_SIZE = 200


def browse(selection: Selection, index, page: int = 1) -> dict:
    """The practices of a selection and every facet's values with counts: the data of /practices.

    ``index``: the release's `FacetIndex` (`icgraph.server.facet_index`). Each selected
    facet's practices (participations, for the facets of participants) are taken from it; results
    and counts are then restricted to the intersection of the sets (for a facet's counts, of the
    *other* facets' sets). The participation facets intersect on participations first: one
    participant must have every value selected. ``page``: which ``PAGE_SIZE`` practices are listed
    (``count`` says how many match).
    """
    chosen = {name: tokens for name, tokens in selection.chosen.items() if tokens}
    sets, shared = {}, {}
    for name, tokens in chosen.items():
        facet = FACETS_BY_NAME[name]
        if facet.per_participation:
            shared[name] = index.selected(facet, tokens)
        else:
            sets[name] = index.selected(facet, tokens)

    def participations_among(skip: str | None = None) -> set | None:
        kept = [found for name, found in shared.items() if name != skip]
        return functools.reduce(operator.and_, kept) if kept else None

    def among(skip: str | None = None) -> set | None:
        kept = [practices for name, practices in sets.items() if name != skip]
        participations = participations_among(skip)
        if participations is not None:
            kept.append(index.practices_of(participations))
        return functools.reduce(operator.and_, kept) if kept else None

    everything = among()
    matching = [number for number, practice in enumerate(index.listed) if everything is None or practice in everything]
    count = len(matching)
    pages = max(1, -(-count // PAGE_SIZE))
    page = min(max(1, page), pages)
    repeats: dict[str, int] = {}
    for number in matching:
        key = index.listing[number]["key"]
        repeats[key] = repeats.get(key, 0) + 1
    practices = []
    for number in matching[(page - 1) * PAGE_SIZE: page * PAGE_SIZE]:
        row = {k: v for k, v in index.listing[number].items() if k != "key"}
        row["distinguish"] = _distinguish(row) if repeats[index.listing[number]["key"]] > 1 else None
        practices.append(row)
    facets = [
        {"name": f.name, "label": f.label,
         "values": f.values(index, among(skip=f.name), selection, participations_among(skip=f.name))}
        for f in FACETS
    ]
    return {"count": count, "practices": practices, "facets": facets, "selection": selection,
            "page": page, "pages": pages, "page_size": PAGE_SIZE,
            "next": selection.url(page + 1) if page < pages else None,
            "previous": selection.url(page - 1) if page > 1 else None}


def listing_row(row) -> dict:
    """A row of practices-page.rq as the list shows it (``key``: its `title_key`, to tell repeated titles apart)."""
    iri = row["practice"].value
    slug = iri.rsplit("/", 1)[-1]

    def text(name: str) -> str | None:
        return row[name].value if row[name] is not None else None

    return {
        "slug": slug,
        "iri": iri,
        "url": f"/id/practice/{slug}",
        "title": text("title"),
        "country": text("country"),
        "principle": text("principle"),
        "startYear": text("startYear"),
        "endYear": text("endYear"),
        # sorted here: stores concatenate a group's values in their own order
        "places": ", ".join(sorted(set(filter(None, (text("places") or "").split(", "))))) or None,
        "levelCount": int(row["levelCount"].value) if row["levelCount"] is not None else None,
        "key": title_key(text("title")),
    }


def title_key(title: str | None) -> str:
    """What makes two titles "the same" in a list: letters and digits, lower case, without a
    trailing parenthesis ("Anti-rumours strategy (ARS)" and "Anti-rumours strategy")."""
    text = re.sub(r"\s*\([^()]*\)\s*$", "", title or "")
    return re.sub(r"[^0-9a-z]+", " ", text.lower()).strip()


def _distinguish(practice: dict) -> str:
    """The facts that tell apart a practice whose title repeats in the list: its place, country and years."""
    start, end = practice["startYear"], practice["endYear"]
    years = f"{start}–{end}" if start and end and end != start else f"since {start}" if start else None
    parts = [practice["places"], practice["country"], years]
    return ", ".join(part for part in parts if part) or practice["slug"]
