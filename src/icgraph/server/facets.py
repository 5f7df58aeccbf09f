"""Facets of the practice browser, one small class each (in the manner of Datasette's facets).

A facet has a URL parameter name, a label, and a SPARQL fragment that binds ``$value``
for a practice ``$practice`` (``$tmp_...`` names its private variables). From that one
fragment it derives the filter (``FILTER EXISTS``) and the count query. Selections are
combined with AND across facets and OR within one facet; the counts of a facet are
computed under every *other* facet's selection, so each count says how many practices
the current selection would show with that value added.

Values travel in the URL as the local name of their IRI (``country=es``,
``level=regional``, ``kind=LocalAuthority``) or as a token (``period=2015-2019``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from string import Template
from urllib.parse import urlencode

import pyoxigraph as ox

from icgraph.namespaces import ICG, LEVEL, PLACE, PRINCIPLE, PTYPE, ROLE, AREA, TARGET, sparql_prefixes

_TOKEN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,120}$")


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
    """A facet over the IRIs of one namespace reached from a practice by ``fragment``."""

    def prepare(self, store: ox.Store) -> None:
        """Read what the facet needs from the store before its first query (nothing, by default)."""

    name: str = ""
    label: str = ""
    namespace: str = ""
    fragment: str = ""

    # --- values in the URL ---------------------------------------------------------
    def accepts(self, token: str) -> bool:
        return bool(_TOKEN.match(token))

    def term(self, token: str) -> str:
        """The SPARQL term of a URL token (only called on accepted tokens)."""
        return str(ox.NamedNode(self.namespace + token))

    def token(self, term: ox.NamedNode | ox.Literal) -> str | None:
        value = term.value
        return value[len(self.namespace):] if value.startswith(self.namespace) else None

    # --- SPARQL ----------------------------------------------------------------------
    def pattern(self, practice: str = "?practice", value: str = "?value") -> str:
        tmp = f"?{self.name}_"
        return Template(self.fragment).substitute(practice=practice, value=value, tmp=tmp.replace("?", "?tmp_"))

    def filter(self, tokens: list[str]) -> str:
        """A group pattern binding ``?practice`` to the practices that have at least one of ``tokens``.

        A sub-select of distinct practices (rather than FILTER EXISTS) lets the store compute the
        set once and join it, instead of re-evaluating a property path for every row.
        """
        variable = f"?sel_{self.name}"
        values = ", ".join(self.term(t) for t in tokens)
        return f"{{ SELECT DISTINCT ?practice WHERE {{ {self.pattern(value=variable)} FILTER ({variable} IN ({values})) }} }}"

    def count_query(self, filters: str) -> str:
        """Practices per value of this facet, under ``filters`` (the other facets' selections)."""
        return f"""{sparql_prefixes()}
SELECT ?value (COUNT(DISTINCT ?practice) AS ?count) (SAMPLE(?valueLabel) AS ?label) (MIN(?valueRank) AS ?rank)
WHERE {{
  {{ SELECT DISTINCT ?practice WHERE {{ ?practice a icg:Practice . {filters} }} }}
  {self.pattern()}
  OPTIONAL {{ ?value skos:prefLabel|rdfs:label ?valueLabel FILTER (LANG(?valueLabel) IN ("en", "")) }}
  OPTIONAL {{ ?value icg:rank ?valueRank }}
}}
GROUP BY ?value"""

    def values(self, store: ox.Store, filters: str, selection: Selection) -> list[FacetValue]:
        rows = []
        for row in store.query(self.count_query(filters), use_default_graph_as_union=True):
            token = self.token(row["value"])
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
    """A facet whose values are reached by a property path: ``$practice PATH $value``."""

    def __init__(self, name: str, label: str, path: str, namespace):
        self.name, self.label, self.namespace = name, label, str(namespace)
        self.fragment = f"$practice {path} $value ."


class ActorKindFacet(Facet):
    """The kind of organisation taking part: its most specific icg: class (actor groups: their member kind).

    The kinds are the leaf subclasses of icg:Actor in the ontology, read from the store once.
    """

    name, label, namespace = "kind", "Actor kind", str(ICG)
    _KINDS = """SELECT DISTINCT ?kind WHERE {
      ?kind rdfs:subClassOf+ icg:Actor .
      FILTER (STRSTARTS(STR(?kind), STR(icg:)) && ?kind != icg:Actor)
      FILTER NOT EXISTS { ?sub rdfs:subClassOf ?kind . FILTER (?sub != ?kind && STRSTARTS(STR(?sub), STR(icg:))) }
    } ORDER BY ?kind"""

    def __init__(self):
        self.kinds: tuple[str, ...] = ()

    def prepare(self, store: ox.Store) -> None:
        if not self.kinds:
            rows = store.query(sparql_prefixes() + self._KINDS, use_default_graph_as_union=True)
            self.kinds = tuple(str(row["kind"]) for row in rows)

    @property
    def fragment(self) -> str:  # type: ignore[override]
        kinds = ", ".join(self.kinds) or "icg:Actor"
        return f"""$practice icg:hasParticipation/icg:agent ${{tmp}}agent .
    {{ ${{tmp}}agent a $value }} UNION {{ ${{tmp}}agent icg:memberKind $value }}
    FILTER ($value IN ({kinds}))"""


@dataclass(frozen=True)
class Period:
    token: str
    label: str
    first: int | None
    last: int | None


class PeriodFacet(Facet):
    """Start-year ranges (icg:startYear); practices without a start year form their own bucket."""

    name, label = "period", "Start year"
    PERIODS = (
        Period("before-2015", "before 2015", None, 2014),
        Period("2015-2019", "2015–2019", 2015, 2019),
        Period("2020-2021", "2020–2021", 2020, 2021),
        Period("2022-later", "2022 or later", 2022, None),
        Period("unknown", "no start year given", None, None),
    )

    @property
    def fragment(self) -> str:  # type: ignore[override]
        expression = '"unknown"'
        for period in reversed(self.PERIODS[:-1]):
            conditions = []
            if period.first is not None:
                conditions.append(f"${{tmp}}year >= {period.first}")
            if period.last is not None:
                conditions.append(f"${{tmp}}year <= {period.last}")
            expression = f'IF({" && ".join(conditions)}, "{period.token}", {expression})'
        return (
            "$practice a icg:Practice .\n"
            "    OPTIONAL { $practice icg:startYear ${tmp}start }\n"
            "    BIND (xsd:integer(SUBSTR(STR(${tmp}start), 1, 4)) AS ${tmp}year)\n"
            f"    BIND (IF(BOUND(${{tmp}}year), {expression}, \"unknown\") AS $value)"
        )

    def accepts(self, token: str) -> bool:
        return token in {p.token for p in self.PERIODS}

    def term(self, token: str) -> str:
        return str(ox.Literal(token))

    def token(self, term) -> str | None:
        return term.value if self.accepts(term.value) else None

    def sort_key(self, row) -> tuple:
        order = [p.token for p in self.PERIODS]
        return (order.index(row[0]),)

    def values(self, store, filters, selection):
        labels = {p.token: p.label for p in self.PERIODS}
        return [
            FacetValue(v.token, labels[v.token], v.count, v.selected, v.url) for v in super().values(store, filters, selection)
        ]


#: The facets of /practices, in the order the page shows them.
FACETS: tuple[Facet, ...] = (
    PathFacet("principle", "Principle", "icg:principle", PRINCIPLE),
    PathFacet("country", "Country", "icg:country", PLACE),
    PathFacet("level", "Governance level of participants", "icg:hasParticipation/icg:agent/icg:governanceLevel", LEVEL),
    ActorKindFacet(),
    PathFacet("role", "Role", "icg:hasParticipation/icg:role", ROLE),
    PathFacet("type", "Type", "icg:practiceType", PTYPE),
    PathFacet("area", "Area of intervention", "icg:areaOfIntervention", AREA),
    PathFacet("target", "Target group", "icg:targetGroup", TARGET),
    PeriodFacet(),
)
FACETS_BY_NAME = {facet.name: facet for facet in FACETS}


@dataclass
class Selection:
    """The facet values chosen, by facet name (only values a facet accepts)."""

    chosen: dict[str, list[str]] = field(default_factory=dict)
    path: str = "/practices"

    @classmethod
    def from_params(cls, pairs: list[tuple[str, str]], path: str = "/practices") -> Selection:
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

    def filters(self, skip: str | None = None) -> str:
        return "\n  ".join(
            FACETS_BY_NAME[name].filter(tokens) for name, tokens in self.chosen.items() if tokens and name != skip
        )


_RESULTS = """
SELECT ?practice ?title (SAMPLE(?countryLabel) AS ?country) (SAMPLE(?principleLabel) AS ?principle)
       (SAMPLE(?start) AS ?startYear) (SAMPLE(?levels) AS ?levelCount)
WHERE {
  { SELECT DISTINCT ?practice WHERE { ?practice a icg:Practice . FILTERS } }
  ?practice dct:title ?titleTerm .
  BIND (STR(?titleTerm) AS ?title)
  OPTIONAL { ?practice icg:country/skos:prefLabel ?countryLabel }
  OPTIONAL { ?practice icg:principle/skos:prefLabel ?principleLabel }
  OPTIONAL { ?practice icg:startYear ?start }
  OPTIONAL { ?practice icg:levelCount ?levels }
}
GROUP BY ?practice ?title
ORDER BY LCASE(?title)
"""


def browse(store: ox.Store, selection: Selection) -> dict:
    """The practices of a selection and every facet's values with counts: the data of /practices."""
    for facet in FACETS:
        facet.prepare(store)
    query = sparql_prefixes() + _RESULTS.replace("FILTERS", selection.filters())
    practices = []
    for row in store.query(query, use_default_graph_as_union=True):
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
                "levelCount": int(row["levelCount"].value) if row["levelCount"] is not None else None,
            }
        )
    facets = [
        {"name": f.name, "label": f.label, "values": f.values(store, selection.filters(skip=f.name), selection)}
        for f in FACETS
    ]
    return {"count": len(practices), "practices": practices, "facets": facets, "selection": selection}
