"""/docs: Swagger UI for the OpenAPI description, served from /static/vendor/swagger-ui.

FastAPI's own page loads Swagger UI from a CDN and starts it with an inline script, which the
site's Content-Security-Policy (`icgraph.server.headers`) forbids; this page uses the vendored
``swagger-ui-dist`` files and starts it from /static/js/api-docs.js.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from icgraph.server.templating import templates

router = APIRouter()


@router.get("/docs", include_in_schema=False)
async def api_docs(request: Request) -> HTMLResponse:
    return templates.TemplateResponse(request, "api_docs.html", {"openapi_url": request.app.openapi_url})
