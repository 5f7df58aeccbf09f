"""The SPARQL 1.1 Service Description at GET /sparql (no query), with VoID triple counts.

It lists the result formats, the features (union default graph, federation only when
allowed), the languages (SPARQL 1.1 Update only when updates are on), and the default
dataset: the default graph and each named graph with its number of triples. With ``examples``,
the query library (queries/*.rq) is listed as SPARQL examples in the SHACL-AF vocabulary the SIB
and UniProt examples use (`add_examples`), so tools that read service descriptions find them.

A browser (Accept prefers text/html) gets the page ``app.state.query_editor(request)``
returns when the application sets one (the query editor); until then, Turtle.
"""

from __future__ import annotations

from fastapi import Request, Response
from collections.abc import Iterable

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import RDF, RDFS, XSD

from icgraph.config import Settings
from icgraph.queries import load_library
from icgraph.namespaces import PREFIXES, SCHEMA, SD, SH, VOID
from icgraph.server import negotiation
from icgraph.server.security import EndpointError

# rdflib's serialiser names for the graph formats of `negotiation`.
_RDFLIB = {"ttl": "turtle", "nt": "nt", "rdf": "xml", "jsonld": "json-ld", "trig": "trig", "nq": "nquads"}
ENTAILMENT_SIMPLE = URIRef("http://www.w3.org/ns/entailment/Simple")


#: The SHACL-AF executable class and text property of each query form (DESCRIBE has no class of
#: its own in SHACL-AF; the SIB examples write it as sh:describe on a plain sh:SPARQLExecutable).
_EXECUTABLES = {
    "SELECT": (SH.SPARQLSelectExecutable, SH.select),
    "CONSTRUCT": (SH.SPARQLConstructExecutable, SH.construct),
    "ASK": (SH.SPARQLAskExecutable, SH.ask),
    "DESCRIBE": (None, SH.describe),
}


def example_iri(base: str, name: str) -> URIRef:
    """The IRI of a library query as an example: its page, ``{base}library/{name}``."""
    return URIRef(f"{base}library/{name}")


def add_examples(graph: Graph, service: URIRef, queries: Iterable, base: str) -> None:
    """Each library query as a SPARQL example of ``service``: its ready-to-run text (parameter
    defaults bound, as the editor opens it), summary, description and tags."""
    from icgraph.server.query_api import query_form
    from icgraph.server.web import ready_to_run

    graph.bind("sh", SH)
    graph.bind("schema", SCHEMA)
    for query in queries:
        example = example_iri(base, query.name)
        form = query_form(query)
        executable, text_property = _EXECUTABLES[form]
        graph.add((example, RDF.type, SH.SPARQLExecutable))
        if executable is not None:
            graph.add((example, RDF.type, executable))
        graph.add((example, text_property, Literal(ready_to_run(query.text, query.parameters))))
        graph.add((example, SCHEMA.target, service))
        graph.add((example, SCHEMA.identifier, Literal(query.name)))
        graph.add((example, RDFS.label, Literal(query.summary or query.name, lang="en")))
        if query.description:
            graph.add((example, RDFS.comment, Literal(query.description, lang="en")))
        for tag in query.tags:
            graph.add((example, SCHEMA.keywords, Literal(str(tag))))
        graph.add((example, SCHEMA.url, URIRef(f"{base}api/queries/{query.name}")))
        graph.add((service, SCHEMA.workExample, example))


def describe(
    endpoint: str, statistics: dict, updates_enabled: bool, union_default_graph: bool = True, federation: bool = False,
    examples: Iterable | None = None, extension_functions: bool = True,
) -> Graph:
    """The service description of the endpoint at ``endpoint``, as an RDF graph; ``examples`` are
    library queries (`icgraph.queries.LibraryQuery`) to list as SPARQL examples.

    ``extension_functions``: the endpoint evaluates queries with Oxigraph in its own reader
    processes, which know icgraph's text functions (`icgraph.sparql.functions`); a remote store does not.
    """
    graph = Graph()
    graph.bind("sd", SD)
    graph.bind("void", VOID)
    service = URIRef(endpoint)
    graph.add((service, RDF.type, SD.Service))
    graph.add((service, SD.endpoint, service))
    graph.add((service, SD.supportedLanguage, SD.SPARQL11Query))
    if updates_enabled:
        graph.add((service, SD.supportedLanguage, SD.SPARQL11Update))
    for fmt in negotiation.RESULT_FORMATS + negotiation.GRAPH_FORMATS:
        graph.add((service, SD.resultFormat, URIRef(fmt.w3c_iri)))
    if union_default_graph:
        graph.add((service, SD.feature, SD.UnionDefaultGraph))
    if federation:
        graph.add((service, SD.feature, SD.BasicFederatedQuery))
    graph.add((service, SD.defaultEntailmentRegime, ENTAILMENT_SIMPLE))
    if extension_functions:
        from icgraph.sparql.functions import DESCRIPTIONS, FUNCTIONS

        graph.bind("icgf", FUNCTIONS)
        for iri, description in DESCRIPTIONS:
            graph.add((service, SD.extensionFunction, URIRef(iri)))
            graph.add((URIRef(iri), RDF.type, SD.Function))
            graph.add((URIRef(iri), RDFS.comment, Literal(description, lang="en")))

    dataset = URIRef(endpoint + "#dataset")
    graph.add((service, SD.defaultDataset, dataset))
    graph.add((dataset, RDF.type, SD.Dataset))
    graph.add((dataset, RDF.type, VOID.Dataset))
    graph.add((dataset, VOID.sparqlEndpoint, service))
    default = URIRef(endpoint + "#default-graph")
    graph.add((dataset, SD.defaultGraph, default))
    graph.add((default, RDF.type, SD.Graph))
    graph.add((default, VOID.triples, Literal(statistics["default_triples"], datatype=XSD.integer)))
    for name, triples in statistics["graphs"]:
        named, described = BNode(), BNode()
        graph.add((dataset, SD.namedGraph, named))
        graph.add((named, RDF.type, SD.NamedGraph))
        graph.add((named, SD.name, URIRef(name)))
        graph.add((named, SD.graph, described))
        graph.add((described, RDF.type, SD.Graph))
        graph.add((described, VOID.triples, Literal(triples, datatype=XSD.integer)))
    if examples is not None:
        add_examples(graph, service, examples, endpoint.removesuffix("sparql"))
    return graph


def is_remote_pool(pool) -> bool:
    """Whether ``pool`` sends queries to a remote store (which has no icgraph extension functions)."""
    from icgraph.server.remote import RemotePool

    return isinstance(pool, RemotePool)


async def service_description_response(request: Request) -> Response:
    """GET /sparql without a query: the service description, negotiated like a CONSTRUCT result."""
    accept = request.headers.get("accept")
    editor = getattr(request.app.state, "query_editor", None)
    if editor is not None and negotiation.prefers_html(accept):
        return await editor(request)
    if negotiation.prefers_html(accept):
        accept = None  # the hook above is where the HTML editor goes; until then browsers get Turtle
    try:
        fmt = negotiation.choose_format(negotiation.GRAPH, accept, request.query_params.get("format"))
    except negotiation.NotAcceptable as error:
        raise EndpointError(406, str(error)) from None
    settings: Settings = request.app.state.settings
    statistics = await request.app.state.pool.statistics(settings.query_timeout)
    endpoint = str(request.url.replace(query="", fragment=""))
    graph = describe(
        endpoint, statistics, request.app.state.update_token is not None,
        union_default_graph=settings.union_default_graph, federation=bool(settings.federation_allowlist),
        examples=load_library(settings.queries_dir).values(),
        extension_functions=not is_remote_pool(request.app.state.pool),
    )
    for prefix in ("graph",):
        graph.bind(prefix, PREFIXES[prefix])
    body = graph.serialize(format=_RDFLIB[fmt.key], encoding="utf-8")
    return Response(body, media_type=fmt.content_type, headers={"Vary": "Accept"})
