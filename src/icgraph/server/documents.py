"""The documents of a release: the ontology (/def), each named graph (/graph/{name}), the dumps
(/downloads) and the dataset description (/.well-known/void).

These IRIs name *documents*, so they answer **200 with Content-Location** naming the suffixed
variant chosen by Accept (Cool URIs, section 4.1). Everything here is read from the files of the
release the server serves (`icgraph.release`): nothing is exported, counted or queried at request
time. Entity IRIs (/id/...) are `icgraph.server.linked_data`'s.
"""

from __future__ import annotations

from typing import Any

import pyoxigraph as ox
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, Response
from rdflib import Graph, URIRef
from rdflib.namespace import DCTERMS, PROV, RDFS, VOID

from icgraph.config import Settings
from icgraph.jsonld import CONTEXT_PATH
from icgraph.jsonld import compact as compact_jsonld
from icgraph.namespaces import GRAPH, ONTOLOGY_GRAPH, compact
from icgraph.release import DUMPS
from icgraph.server.linked_data import (
    DOCUMENT_FORMATS,
    HTML,
    SUFFIXES,
    format_links,
    graph_query,
    local_path,
    negotiate,
    not_acceptable,
    not_found,
    rdf_response,
    serialize,
    sparql_link,
    split_suffix,
)
from icgraph.server.negotiation import Format, NotAcceptable
from icgraph.server.templating import script_json_text, templates
from icgraph.void import DATASET, LICENSE, rebase, vocabulary_prefix

router = APIRouter(tags=["linked data"])


# --------------------------------------------------------------------------------------------
#   Documents: /def and /graph/{name} (200 with Content-Location)
# --------------------------------------------------------------------------------------------


def _graph_names(request: Request) -> list[str]:
    """The named graphs of the served release (its manifest lists them)."""
    release = _served(request)
    return sorted(release.manifest["graphs"]) if release is not None else []


def _graph_triples(request: Request, graph: str) -> list[ox.Triple]:
    """The triples of one named graph, from the release's file of it (written by the build)."""
    path = _served(request).graph_file(graph)
    return sorted(ox.parse(path=str(path), format=ox.RdfFormat.N_TRIPLES), key=lambda t: (str(t.subject), str(t.predicate), str(t.object)))


def _document(request: Request, base: str, suffix: Format | None) -> tuple[Format, dict[str, str]] | Response:
    """The format of a document request and its headers: the suffix, else Accept (the response then
    names the chosen variant in Content-Location and varies by Accept); or the 406 refusal."""
    if suffix is not None:
        return suffix, {}
    try:
        fmt = negotiate(request)
    except NotAcceptable as error:
        return not_acceptable(error)
    return fmt, {"Content-Location": f"{base}.{fmt.key}", "Vary": "Accept"}


def _suffixed_document(request: Request, base: str, ext: str | None, what: str) -> tuple[Format, dict[str, str]] | Response:
    """`_document` for ``base`` or ``base.EXT``; an unknown EXT is a 404 that lists the known ones."""
    suffix = SUFFIXES.get(ext) if ext else None
    if ext and suffix is None:
        return not_found(request, f"{what} is not available as .{ext}; use one of {', '.join(SUFFIXES)}.")
    return _document(request, base, suffix)


@router.api_route("/def", methods=["GET", "HEAD"], summary="The ontology document (HTML or RDF by Accept)")
@router.api_route("/def.{ext}", methods=["GET", "HEAD"], include_in_schema=False)
async def ontology(request: Request, ext: str | None = None) -> Response:
    chosen = _suffixed_document(request, "/def", ext, "The ontology")
    if isinstance(chosen, Response):
        return chosen
    fmt, headers = chosen
    if fmt is HTML:  # the ontology's documentation, written from ontology/ (icgraph.ontology_docs)
        from icgraph.ontology_docs import render_ontology_docs

        html = await run_in_threadpool(render_ontology_docs, request.app.state.settings)
        return Response(html, media_type="text/html; charset=utf-8", headers=headers)
    if str(ONTOLOGY_GRAPH) not in _graph_names(request):
        return not_found(request, "The data served here holds no ontology graph (a store or dump made without "
                                  "`icgraph build`); the ontology is ontology/icgraph.ttl, and /def documents it.")
    triples = await run_in_threadpool(_graph_triples, request, str(ONTOLOGY_GRAPH))
    return rdf_response(serialize(triples, fmt), fmt, headers)


@router.api_route("/graph/{name}", methods=["GET", "HEAD"], summary="A named graph (HTML summary, or its triples in RDF)")
async def named_graph(request: Request, name: str) -> Response:
    stem, suffix = split_suffix(name)
    graph = str(GRAPH) + stem
    if graph not in _graph_names(request):
        return not_found(request, f"No named graph {str(GRAPH) + name} in icgraph; see /.well-known/void for the list.")
    base = f"/graph/{stem}"
    chosen = _document(request, base, suffix)
    if isinstance(chosen, Response):
        return chosen
    fmt, headers = chosen
    query = graph_query(graph)
    if fmt is not HTML:
        if fmt.key == "nt":
            skipped = _served(request).manifest.get("skipped", {})
            if "graphs" in skipped:
                return not_found(request, f"The N-Triples file of each named graph is {skipped['graphs']}.")
            return FileResponse(_served(request).graph_file(graph), media_type=fmt.content_type, headers=headers)
        triples = await run_in_threadpool(_graph_triples, request, graph)
        return rdf_response(serialize(triples, fmt), fmt, headers)
    void = await run_in_threadpool(_void, request)
    subset = _void_subset(void, URIRef(graph))
    description = Graph()
    for triple in void.triples((URIRef(graph), None, None)):
        description.add(triple)
    for partition in void.objects(URIRef(graph), VOID.classPartition):
        for triple in void.triples((partition, None, None)):
            description.add(triple)
    context = {
        "name": stem,
        "graph": graph,
        "subset": subset,
        "formats": format_links(base),
        "sparql": sparql_link(query),
        "query": query,
        "jsonld": script_json_text(_compacted(description).decode("utf-8")),
    }
    return templates.TemplateResponse(request, "ld/graph.html", context, headers=headers)


# --------------------------------------------------------------------------------------------
#   Dumps
# --------------------------------------------------------------------------------------------


def _human_size(size: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return str(size)


@router.api_route(CONTEXT_PATH, methods=["GET", "HEAD"], summary="The JSON-LD context of icgraph's JSON-LD documents")
async def jsonld_context() -> Response:
    """ontology/context.jsonld as published documents use it (`icgraph.mapping.context.publication_context`):
    a stable address of the context, served by icgraph itself."""
    import json

    from icgraph.mapping.context import publication_context

    body = json.dumps({"@context": publication_context()}, ensure_ascii=False, indent=1).encode("utf-8")
    return Response(body, media_type="application/ld+json", headers={"Cache-Control": "public, max-age=3600"})


@router.api_route("/downloads", methods=["GET", "HEAD"], summary="The dumps of the dataset, with sizes and formats")
async def downloads(request: Request) -> Response:
    release = _served(request)
    if release is None:
        return _no_release(request, "downloads")
    files = []
    for name, (fmt, media_type, description) in DUMPS.items():
        if name not in release.manifest["dumps"]:  # left out of a large release (`icgraph.dump_writers`)
            continue
        size = release.manifest["dumps"][name]["bytes"]
        files.append({"name": name, "href": f"/downloads/{name}", "type": media_type, "description": description,
                      "size": _human_size(size), "bytes": size})
    graphs = [{"iri": g, "name": g[len(str(GRAPH)):], "href": local_path(g)} for g in _graph_names(request)]
    return templates.TemplateResponse(
        request, "ld/downloads.html", {"files": files, "graphs": graphs, "formats": DOCUMENT_FORMATS[1:]}
    )


@router.api_route("/downloads/{name}", methods=["GET", "HEAD"], summary="One dump of the dataset")
async def download(request: Request, name: str) -> Response:
    if name not in DUMPS:
        return not_found(request, f"No download {name}; the dumps are {', '.join(DUMPS)} (see /downloads).")
    release = _served(request)
    if release is None:
        return _no_release(request, "downloads")
    skipped = release.manifest.get("skipped", {})
    if name in skipped:
        return not_found(request, f"The dump {name} is {skipped[name]}.")
    media_type = DUMPS[name][1]
    if name.endswith(".gz"):
        return FileResponse(release.dump(name), media_type="application/gzip", filename=name)
    return FileResponse(release.dump(name), media_type=media_type, filename=name, content_disposition_type="inline")


# --------------------------------------------------------------------------------------------
#   VoID + DCAT: /.well-known/void
# --------------------------------------------------------------------------------------------

def _served(request: Request):
    """The release this server reads (None when it serves a plain store folder, which has no files)."""
    return request.app.state.pool.release


def _no_release(request: Request, what: str) -> Response:
    return not_found(
        request,
        f"No {what} here: this server reads a store that is not a release of `icgraph build` "
        "(build one with `icgraph build`, or load a dump with `icgraph load`).",
    )


def _void(request: Request) -> Graph | None:
    """The release's VoID + DCAT description (void.ttl, written by the build), parsed once per release."""
    release = _served(request)
    if release is None:
        return None
    cached = getattr(request.app.state, "void_of_release", None)
    if cached is None or cached[0] != release.id:
        settings = getattr(request.app.state, "settings", None) or Settings()
        void = rebase(Graph().parse(release.void, format="turtle"), settings.public_url())
        cached = request.app.state.void_of_release = (release.id, void)
    return cached[1]


def _void_subset(void: Graph, subset: URIRef) -> dict[str, Any]:
    classes = []
    for partition in void.objects(subset, VOID.classPartition):
        cls = void.value(partition, VOID["class"])
        classes.append({"class": cls, "curie": compact(ox.NamedNode(str(cls))), "href": local_path(str(cls)),
                        "entities": int(void.value(partition, VOID.entities))})
    classes.sort(key=lambda c: (-c["entities"], c["curie"]))
    return {
        "iri": str(subset),
        "name": str(void.value(subset, RDFS.label)),
        "href": local_path(str(subset)),
        "triples": int(void.value(subset, VOID.triples)),
        "entities": int(void.value(subset, VOID.entities)),
        "properties": int(void.value(subset, VOID.properties)),
        "classes": classes,
    }


_RDFLIB_FORMATS = {"ttl": "turtle", "nt": "nt", "rdf": "xml"}


def _compacted(graph: Graph) -> bytes:
    """An rdflib graph as JSON-LD compacted with the project's context, like the /id/ documents and the dump."""
    return compact_jsonld(ox.parse(graph.serialize(format="nt", encoding="utf-8"), ox.RdfFormat.N_TRIPLES))


@router.api_route("/.well-known/void", methods=["GET", "HEAD"], summary="VoID and DCAT description of the dataset")
@router.api_route("/.well-known/void.{ext}", methods=["GET", "HEAD"], include_in_schema=False)
async def void_description(request: Request, ext: str | None = None) -> Response:
    base = "/.well-known/void"
    chosen = _suffixed_document(request, base, ext, "The dataset description")
    if isinstance(chosen, Response):
        return chosen
    fmt, headers = chosen
    void = await run_in_threadpool(_void, request)
    if void is None:
        return _no_release(request, "dataset description")
    if fmt is not HTML:
        body = _compacted(void) if fmt.key == "jsonld" else void.serialize(format=_RDFLIB_FORMATS[fmt.key], encoding="utf-8")
        return rdf_response(body, fmt, headers)
    d = DATASET
    context = {
        "title": str(void.value(d, DCTERMS.title)),
        "description": str(void.value(d, DCTERMS.description)),
        "license": LICENSE,
        "triples": int(void.value(d, VOID.triples)),
        "entities": int(void.value(d, VOID.entities)),
        "subsets": [_void_subset(void, s) for s in sorted(void.objects(d, VOID.subset))],
        "vocabularies": [{"iri": str(v), "prefix": vocabulary_prefix(str(v))} for v in sorted(void.objects(d, VOID.vocabulary))],
        "dumps": [{"name": n, "href": f"/downloads/{n}", "type": t} for n, (_, t, _) in DUMPS.items()],
        "examples": [{"iri": str(x), "href": local_path(str(x))} for x in sorted(void.objects(d, VOID.exampleResource))],
        "sources": [{"iri": str(s), "href": local_path(str(s))} for s in sorted(void.objects(d, PROV.wasDerivedFrom))],
        "formats": format_links(base),
        "jsonld": script_json_text(_compacted(void).decode("utf-8")),
    }
    return templates.TemplateResponse(request, "ld/void.html", context, headers=headers)


