"""The SPARQL 1.1 Service Description at GET /sparql (no query), with VoID triple counts.

It names the public endpoint (`Settings.public_url`, as VoID and the pages do), never the
address the request came to. It lists the result formats, the features (union default graph, federation only when
allowed), the languages (SPARQL 1.1 Update only when updates are on), and the default
dataset: the default graph and each named graph with its number of triples.

A browser (Accept prefers text/html) gets the page ``app.state.query_editor(request)``
returns when the application sets one (the query editor); until then, Turtle.
"""

from __future__ import annotations

from fastapi import Request, Response
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import RDF, XSD

from icgraph.config import Settings
from icgraph.namespaces import PREFIXES, SD, VOID
from icgraph.server import negotiation
from icgraph.server.security import EndpointError

# rdflib's serialiser names for the graph formats of `negotiation`.
_RDFLIB = {"ttl": "turtle", "nt": "nt", "rdf": "xml", "jsonld": "json-ld", "trig": "trig", "nq": "nquads"}
ENTAILMENT_SIMPLE = URIRef("http://www.w3.org/ns/entailment/Simple")


def describe(
    endpoint: str, statistics: dict, updates_enabled: bool, union_default_graph: bool = True, federation: bool = False
) -> Graph:
    """The service description of the endpoint at ``endpoint``, as an RDF graph."""
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
    return graph


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
    endpoint = settings.public_url("sparql")  # the public endpoint, as VoID names it (ICGRAPH_BASE_URL)
    graph = describe(
        endpoint, statistics, request.app.state.update_token is not None,
        union_default_graph=settings.union_default_graph, federation=bool(settings.federation_allowlist),
    )
    for prefix in ("graph",):
        graph.bind(prefix, PREFIXES[prefix])
    body = graph.serialize(format=_RDFLIB[fmt.key], encoding="utf-8")
    return Response(body, media_type=fmt.content_type, headers={"Vary": "Accept"})
