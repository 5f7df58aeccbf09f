"""/changes and /changes.atom: what each kept release added, changed or removed, per entity, with links.

Read from the release folders (`icgraph.contributions.changes`), in a thread; no query runs.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from icgraph.contributions.changes import ReleaseChanges, release_changes
from icgraph.namespaces import ROOT, compact
from icgraph.server.templating import templates

router = APIRouter(tags=["Web pages"], include_in_schema=False)
ATOM = "http://www.w3.org/2005/Atom"


def _base(request: Request) -> str:
    configured = request.app.state.settings.base_url
    return (configured or str(request.base_url)).rstrip("/")


def _path(iri: str) -> str:
    return "/" + iri[len(ROOT):] if iri.startswith(ROOT) else ""


async def _changes(request: Request) -> list[ReleaseChanges]:
    settings = request.app.state.settings
    return await anyio.to_thread.run_sync(release_changes, settings.store, settings.build_dir)


@router.get("/changes", response_class=HTMLResponse)
async def changes_page(request: Request) -> Response:
    entries = await _changes(request)
    return templates.TemplateResponse(request, "changes.html", {"entries": entries, "path": _path, "compact": compact})


@router.get("/changes.atom")
async def changes_feed(request: Request) -> Response:
    entries = await _changes(request)
    base = _base(request)
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed")
    ET.SubElement(feed, f"{{{ATOM}}}title").text = "icgraph: what each release changed"
    ET.SubElement(feed, f"{{{ATOM}}}id").text = f"{base}/changes"
    ET.SubElement(feed, f"{{{ATOM}}}link", rel="self", href=f"{base}/changes.atom")
    ET.SubElement(feed, f"{{{ATOM}}}link", rel="alternate", href=f"{base}/changes", type="text/html")
    ET.SubElement(feed, f"{{{ATOM}}}updated").text = entries[0].release.created if entries else "1970-01-01T00:00:00+00:00"
    author = ET.SubElement(feed, f"{{{ATOM}}}author")
    ET.SubElement(author, f"{{{ATOM}}}name").text = "icgraph"
    for entry in entries:
        item = ET.SubElement(feed, f"{{{ATOM}}}entry")
        summary = (f"{len(entry.added)} added, {len(entry.changed)} changed, {len(entry.removed)} removed"
                   if entry.compared else "the release before it is no longer kept: no comparison")
        ET.SubElement(item, f"{{{ATOM}}}title").text = f"Release {entry.release.id}: {summary}"
        ET.SubElement(item, f"{{{ATOM}}}id").text = f"{base}/changes#{entry.release.id}"
        ET.SubElement(item, f"{{{ATOM}}}updated").text = entry.release.created
        ET.SubElement(item, f"{{{ATOM}}}link", rel="alternate", href=f"{base}/changes#{entry.release.id}", type="text/html")
        revisions = [r for found in entry.corrected.values() for r in found]
        for kind, iris in (("added", entry.added), ("changed", entry.changed), ("removed", entry.removed), ("correction", revisions)):
            for iri in iris:
                ET.SubElement(item, f"{{{ATOM}}}link", rel="related", title=f"{kind}: {compact(iri)}", href=base + _path(iri) if _path(iri) else iri)
        lines = [summary + "."]
        for kind, iris in (("Added", entry.added), ("Changed", entry.changed), ("Removed", entry.removed)):
            if iris:
                lines.append(f"{kind}: " + ", ".join(compact(i) for i in iris))
        for original, revisions in entry.corrected.items():
            lines.append(f"Corrected: {compact(original)} by " + ", ".join(compact(r) for r in revisions))
        if entry.accepted:
            lines.append(f"Accepted contribution {entry.accepted['submission']}, reviewed by {entry.accepted['reviewer']}.")
        ET.SubElement(item, f"{{{ATOM}}}summary").text = "\n".join(lines)
    body = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return Response(body, media_type="application/atom+xml")
