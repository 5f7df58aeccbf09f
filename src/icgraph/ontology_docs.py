"""Human-readable documentation of the ontology and its vocabularies, rendered from the Turtle.

`render_ontology_docs(settings)` returns one HTML page (served at /def, styled by
/static/ontology-docs.css: no inline style, as the site's Content-Security-Policy wants):
the ontology header, then every class and property with its label, definition, domain,
range and alignments, then every SKOS scheme with its concepts. Nothing is written by
hand: the page is the Turtle, laid out.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from jinja2 import Environment
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.collection import Collection
from rdflib.namespace import DCTERMS, OWL, RDF, RDFS, SKOS

from icgraph.config import Settings
from icgraph.namespaces import ICG, ICG_ONTOLOGY, PREFIXES, VANN

ALIGNMENTS = [
    (RDFS.subClassOf, "subclass of"),
    (RDFS.subPropertyOf, "subproperty of"),
    (OWL.equivalentClass, "equivalent to"),
    (OWL.inverseOf, "inverse of"),
    (SKOS.closeMatch, "close match"),
]


@dataclass
class Term:
    curie: str
    iri: str
    anchor: str
    label: str
    definition: str
    kinds: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    rows: list[tuple[str, list[tuple[str, str]]]] = field(default_factory=list)  # (heading, [(curie, href)])


@dataclass
class Concept:
    notation: str
    curie: str
    iri: str
    label: str
    definition: str
    other_labels: list[str]
    rank: int


@dataclass
class Scheme:
    iri: str
    title: str
    definition: str
    concepts: list[Concept]


TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{{ title }}</title>
<link rel="stylesheet" href="/static/ontology-docs.css">
</head>
<body>
<h1>{{ title }}</h1>
<p>{{ description }}</p>
<dl>
 <dt>Namespace</dt><dd><code>{{ namespace }}</code> (prefix <code>{{ prefix }}:</code>)</dd>
 <dt>Version</dt><dd>{{ version }} (<a href="{{ version_iri }}">{{ version_iri }}</a>)</dd>
 <dt>Licence</dt><dd><a href="{{ license }}">{{ license }}</a></dd>
 <dt>Creator</dt><dd>{{ creator }}</dd>
</dl>
<nav><a href="#classes">Classes ({{ classes|length }})</a><a href="#object-properties">Object properties ({{ object_properties|length }})</a><a href="#datatype-properties">Datatype properties ({{ datatype_properties|length }})</a><a href="#vocabularies">Vocabularies ({{ schemes|length }})</a></nav>
{% for section, anchor, terms in [("Classes", "classes", classes), ("Object properties", "object-properties", object_properties), ("Datatype properties", "datatype-properties", datatype_properties)] %}
<h2 id="{{ anchor }}">{{ section }}</h2>
{% for t in terms %}
<div class="term" id="{{ t.anchor }}">
 <h3>{{ t.label }} <code>{{ t.curie }}</code> <span class="kind">{{ t.kinds|join(", ") }}</span></h3>
 <p>{{ t.definition }}</p>
 {% for note in t.notes %}<p><em>{{ note }}</em></p>{% endfor %}
 {% if t.rows %}<dl>{% for heading, values in t.rows %}<dt>{{ heading }}</dt><dd>{% for text, href in values %}{% if href %}<a href="{{ href }}"><code>{{ text }}</code></a>{% else %}<code>{{ text }}</code>{% endif %}{% if not loop.last %}, {% endif %}{% endfor %}</dd>{% endfor %}</dl>{% endif %}
</div>
{% endfor %}
{% endfor %}
<h2 id="vocabularies">Controlled vocabularies</h2>
{% for s in schemes %}
<h3 id="{{ s.iri }}">{{ s.title }} <code>{{ s.iri }}</code></h3>
<p>{{ s.definition }}</p>
<table><tr><th>notation</th><th>label</th><th>definition</th></tr>
{% for c in s.concepts %}<tr id="{{ c.iri }}"><td><code>{{ c.curie }}</code></td><td>{{ c.label }}{% if c.other_labels %}<br><small>also: {{ c.other_labels|join("; ") }}</small>{% endif %}</td><td>{{ c.definition }}</td></tr>
{% endfor %}</table>
{% endfor %}
</body>
</html>
"""


def render_ontology_docs(settings: Settings | None = None) -> str:
    """The ontology and vocabularies of `settings.ontology_dir` as one HTML page."""
    settings = settings or Settings()
    ontology = Graph().parse(settings.ontology_dir / "icgraph.ttl")
    vocabularies = Graph()
    for path in sorted((settings.ontology_dir / "vocabularies").glob("*.ttl")):
        vocabularies.parse(path)
    namespaces = Graph()
    for prefix, iri in PREFIXES.items():
        namespaces.bind(prefix, iri, override=True, replace=True)

    def curie(node) -> str:
        if isinstance(node, BNode):
            members = Collection(ontology, ontology.value(node, OWL.unionOf)) if ontology.value(node, OWL.unionOf) else []
            return " or ".join(curie(m) for m in members) or "(anonymous class)"
        try:
            return namespaces.namespace_manager.curie(str(node), generate=False)
        except (ValueError, KeyError):
            return str(node)

    def link(node) -> list[tuple[str, str]]:
        if isinstance(node, BNode) and ontology.value(node, OWL.unionOf):
            return [(curie(m), _href(m)) for m in Collection(ontology, ontology.value(node, OWL.unionOf))]
        return [(curie(node), _href(node))]

    def text(node, *predicates) -> str:
        for predicate in predicates:
            values = [v for v in ontology.objects(node, predicate) if isinstance(v, Literal)]
            english = [v for v in values if v.language in ("en", None)]
            if english:
                return str(english[0])
        return ""

    def terms(kind) -> list[Term]:
        found = []
        for node in set(ontology.subjects(RDF.type, kind)):
            if not str(node).startswith(str(ICG)):
                continue
            term = Term(
                curie=curie(node),
                iri=str(node),
                anchor=str(node)[len(str(ICG)):],
                label=text(node, RDFS.label),
                definition=text(node, SKOS.definition, RDFS.comment),
                kinds=sorted(curie(k) for k in ontology.objects(node, RDF.type)),
            )
            if ontology.value(node, SKOS.definition) is not None:
                term.notes += [str(c) for c in ontology.objects(node, RDFS.comment)]
            term.notes += [str(n) for n in ontology.objects(node, SKOS.scopeNote)]
            for predicate, heading in [(RDFS.domain, "domain"), (RDFS.range, "range"), *ALIGNMENTS]:
                values = [pair for value in ontology.objects(node, predicate) for pair in link(value)]
                if values:
                    term.rows.append((heading, sorted(values)))
            subclasses = [pair for sub in ontology.subjects(RDFS.subClassOf, node) for pair in link(sub)]
            if subclasses:
                term.rows.append(("subclasses", sorted(subclasses)))
            found.append(term)
        return sorted(found, key=lambda t: t.anchor.lower())

    schemes = []
    for scheme in sorted(vocabularies.subjects(RDF.type, SKOS.ConceptScheme)):
        concepts = []
        for concept in vocabularies.subjects(SKOS.inScheme, scheme):
            rank = vocabularies.value(concept, ICG.rank)
            concepts.append(
                Concept(
                    notation=str(vocabularies.value(concept, SKOS.notation) or ""),
                    curie=curie(concept),
                    iri=str(concept),
                    label=str(vocabularies.value(concept, SKOS.prefLabel) or ""),
                    definition=str(vocabularies.value(concept, SKOS.definition) or ""),
                    other_labels=sorted(str(v) for v in vocabularies.objects(concept, SKOS.altLabel)),
                    rank=int(rank) if rank is not None else 10_000,
                )
            )
        schemes.append(
            Scheme(
                iri=str(scheme),
                title=str(vocabularies.value(scheme, DCTERMS.title) or vocabularies.value(scheme, SKOS.prefLabel) or scheme),
                definition=str(vocabularies.value(scheme, SKOS.definition) or ""),
                concepts=sorted(concepts, key=lambda c: (c.rank, c.notation)),
            )
        )

    environment = Environment(autoescape=True)
    return environment.from_string(TEMPLATE).render(
        title=text(ICG_ONTOLOGY, DCTERMS.title),
        description=text(ICG_ONTOLOGY, DCTERMS.description),
        namespace=str(ICG),
        prefix=str(ontology.value(ICG_ONTOLOGY, VANN.preferredNamespacePrefix)),
        version=str(ontology.value(ICG_ONTOLOGY, OWL.versionInfo)),
        version_iri=str(ontology.value(ICG_ONTOLOGY, OWL.versionIRI)),
        license=str(ontology.value(ICG_ONTOLOGY, DCTERMS.license)),
        creator=str(ontology.value(ICG_ONTOLOGY, DCTERMS.creator)),
        classes=terms(OWL.Class),
        object_properties=terms(OWL.ObjectProperty),
        datatype_properties=terms(OWL.DatatypeProperty),
        schemes=schemes,
    )


def _href(node) -> str:
    """Terms of this ontology link to their entry on the page; others to their IRI."""
    if isinstance(node, URIRef) and str(node).startswith(str(ICG)):
        return "#" + str(node)[len(str(ICG)):]
    return str(node) if isinstance(node, URIRef) else ""
