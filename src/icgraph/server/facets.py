"""Facets of the practice browser, one small class each (in the manner of Datasette's facets).

A facet has a URL parameter name, a label, and a query, ``sparql/facet-NAME.rq``, that
pairs each practice with its values of the facet (``?practice ?value``). From that one query
come both the filter (the practices having one of the selected values: the query opened with
``VALUES ?value { ... }``) and the counts (``facet-values.rq`` joined with it). Selections are
combined with AND across facets and OR within one facet; the counts of a facet are computed
under every *other* facet's selection, so each count says how many practices the current
selection would show with that value added.

The facets of the participants (level, kind, role) pair a practice's *participations* with
their values (``?practice ?participation ?value``): selected together, they keep the practices
where one participation has them all (``level=national&role=funder``: a national funder, not a
national partner and an international funder), and their counts follow. Every query runs on the server's pool
(`icgraph.server.prepared`).

Values travel in the URL as the local name of their IRI (``country=es``,
``level=regional``, ``kind=LocalAuthority``) or as a token (``period=2015-2019``); a token
becomes an RDF term through pyoxigraph's constructors only.
"""

from __future__ import annotations

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

    async def prepare(self, pool) -> None:
        """Read what the facet needs from the store before its first query (nothing, by default)."""

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

    def restrictions(self) -> list[str]:
        """VALUES blocks that limit ``?value`` in the facet's query (none, by default)."""
        return []

    def pairs(self, tokens: list[str] | None = None) -> str:
        """The facet's query, opened with ``VALUES ?value`` of the chosen tokens when there are some."""
        chosen = [values_block("value", [self.term(t) for t in tokens])] if tokens else []
        return with_groups(self.query, *self.restrictions(), *chosen)

    async def practices(self, pool, tokens: list[str]) -> set[ox.NamedNode]:
        """The practices that have at least one of ``tokens``."""
        return {row["practice"] for row in await pool.prepared(self.pairs(tokens))}

    async def participations(self, pool, tokens: list[str]) -> dict[ox.NamedNode, ox.NamedNode]:
        """participation -> practice, for the participations with at least one of ``tokens`` (`per_participation`)."""
        return {row["participation"]: row["practice"] for row in await pool.prepared(self.pairs(tokens))}

    def count_query(self, practices: set | None = None, participations: set | None = None) -> str:
        """Practices per value of this facet, among ``practices`` (None: every practice) and, for a
        participation facet, counting only the ``participations`` given (None: every one)."""
        groups = [nested(self.query), *self.restrictions()]
        if practices is not None:
            groups.append(values_block("practice", sorted(practices, key=str)))
        if participations is not None and self.per_participation:
            groups.append(values_block("participation", sorted(participations, key=str)))
        return compose("facet-values", *groups)

    async def values(self, pool, practices: set | None, selection: Selection, participations: set | None = None) -> list[FacetValue]:
        rows = []
        for row in await pool.prepared(self.count_query(practices, participations)):
            token = self.token(row["value"]) if row["value"] is not None else None
            if token is None:
                continue
            label = row["label"].value if row["label"] is not None else token
            rank = int(row["rank"].value) if row["rank"] is not None else None
            rows.append((token, label, int(row["count"].value), rank))
        chosen = selection.get(self.name)
        seen = {token for token, *_ in rows}
        rows += [(token, token, 0, None) for token in chosen if token not in seen]
        rows.sort(key=self.sort_key)
        return [
            FacetValue(token, label, count, token in chosen, selection.toggled(self.name, token).url())
            for token, label, count, rank in rows
        ]

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

    The kinds are the leaf subclasses of icg:Actor in the ontology (actor-kinds.rq), read once.
    """

    name, label, namespace = "kind", "Actor kind", str(ICG)
    per_participation = True

    def __init__(self):
        self.kinds: tuple[ox.NamedNode, ...] = ()

    async def prepare(self, pool) -> None:
        if not self.kinds:
            self.kinds = tuple(row["kind"] for row in await pool.prepared("actor-kinds"))

    def restrictions(self) -> list[str]:
        return [values_block("value", self.kinds or [ox.NamedNode(str(ICG.Actor))])]


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

    async def values(self, pool, practices, selection, participations=None):
        labels = {p.token: p.label for p in self.PERIODS}
        return [
            FacetValue(v.token, labels[v.token], v.count, v.selected, v.url)
            for v in await super().values(pool, practices, selection)
        ]


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

    def url(self) -> str:
        query = urlencode(self.pairs())
        return self.path + ("?" + query if query else "")



async def browse(pool, selection: Selection) -> dict:
    """The practices of a selection and every facet's values with counts: the data of /practices.

    Each selected facet's practices (participations, for the facets of participants) are read
    once; results and counts are then restricted to the intersection of the sets (for a facet's
    counts, of the *other* facets' sets). The participation facets intersect on participations
    first: one participant must have every value selected.
    """
    for facet in FACETS:
        await facet.prepare(pool)
    chosen = {name: tokens for name, tokens in selection.chosen.items() if tokens}
    sets, shared = {}, {}
    for name, tokens in chosen.items():
        facet = FACETS_BY_NAME[name]
        if facet.per_participation:
            shared[name] = await facet.participations(pool, tokens)
        else:
            sets[name] = await facet.practices(pool, tokens)

    def participations_among(skip: str | None = None) -> set | None:
        kept = [set(found) for name, found in shared.items() if name != skip]
        return set.intersection(*kept) if kept else None

    def among(skip: str | None = None) -> set | None:
        kept = [practices for name, practices in sets.items() if name != skip]
        participations = participations_among(skip)
        if participations is not None:
            of_practice = {participation: practice for found in shared.values() for participation, practice in found.items()}
            kept.append({of_practice[p] for p in participations})
        return set.intersection(*kept) if kept else None

    everything = among()
    query = "practices-page" if everything is None else with_groups("practices-page", values_block("practice", sorted(everything, key=str)))
    practices = []
    rows = await pool.prepared(query)
    for row in rows:
        iri = row["practice"].value
        slug = iri.rsplit("/", 1)[-1]

        def text(name: str) -> str | None:
            return row[name].value if row[name] is not None else None

        practices.append(
            {
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
            }
        )
    _tell_apart(practices)
    facets = [
        {"name": f.name, "label": f.label,
         "values": await f.values(pool, among(skip=f.name), selection, participations_among(skip=f.name))}
        for f in FACETS
    ]
    return {"count": len(practices), "practices": practices, "facets": facets, "selection": selection}


def title_key(title: str | None) -> str:
    """What makes two titles "the same" in a list: letters and digits, lower case, without a
    trailing parenthesis ("Anti-rumours strategy (ARS)" and "Anti-rumours strategy")."""
    text = re.sub(r"\s*\([^()]*\)\s*$", "", title or "")
    return re.sub(r"[^0-9a-z]+", " ", text.lower()).strip()


def _tell_apart(practices: list[dict]) -> None:
    """Give each practice whose title repeats in the list the facts that tell it apart: its
    place, country and years (``distinguish``, None for a title that is unique)."""
    counts: dict[str, int] = {}
    for practice in practices:
        key = title_key(practice["title"])
        counts[key] = counts.get(key, 0) + 1
    for practice in practices:
        if counts[title_key(practice["title"])] < 2:
            practice["distinguish"] = None
            continue
        start, end = practice["startYear"], practice["endYear"]
        years = f"{start}–{end}" if start and end and end != start else f"since {start}" if start else None
        parts = [practice["places"], practice["country"], years]
        practice["distinguish"] = ", ".join(part for part in parts if part) or practice["slug"]
