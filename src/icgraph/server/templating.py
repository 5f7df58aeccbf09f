"""The Jinja2 environment every HTML route renders with (one place for filters and globals)."""

from __future__ import annotations

from pathlib import Path

from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from icgraph.results import compact

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(HERE / "templates"))
templates.env.filters["compact"] = compact


def static_files() -> StaticFiles:
    """Mounted at /static under the name "static" (templates use url_for('static', path=...))."""
    return StaticFiles(directory=str(HERE / "static"))
