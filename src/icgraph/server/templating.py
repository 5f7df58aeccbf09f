"""The Jinja2 environment every HTML route renders with (one place for filters and globals).

Values from the data or the URL reach a page escaped for where they land: Jinja's autoescape for
HTML text and attributes, `script_json` inside ``<script type="application/json">`` blocks, and
`safe_href` for link targets (only http, https, mailto and this site's own paths become links).
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import FileSystemBytecodeCache
from markupsafe import Markup

from icgraph.results import compact

HERE = Path(__file__).parent
def public_addresses(request) -> dict:
    """What every page may name: the public SPARQL endpoint (`Settings.public_url`, as VoID and the
    service description name it)."""
    from icgraph.config import Settings

    settings = getattr(request.app.state, "settings", None) or Settings()
    return {"public_endpoint": settings.public_url("sparql")}


templates = Jinja2Templates(directory=str(HERE / "templates"), context_processors=[public_addresses])
templates.env.filters["compact"] = compact


class _CompiledTemplates(FileSystemBytecodeCache):
    """Jinja's bytecode cache, skipped (the template is compiled) when its folder cannot be read or written."""

    def load_bytecode(self, bucket) -> None:
        try:
            super().load_bytecode(bucket)
        except OSError:
            pass

    def dump_bytecode(self, bucket) -> None:
        try:
            super().dump_bytecode(bucket)
        except OSError:
            pass


def keep_compiled_templates(folder: Path) -> None:
    """Keep the compiled templates in ``folder`` (under the build folder), so that a server's first view of a
    page reads its template's bytecode instead of compiling it: compiling the 35 templates took 310-360 ms at
    load 8, reading them 9-14 ms; a practice page's first view spent 80 ms compiling at load 10. Each file is
    keyed by the template's name and source checksum, so an edited template is compiled again. A folder that
    cannot be made leaves the templates compiled in memory as before."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return
    templates.env.bytecode_cache = _CompiledTemplates(str(folder))

#: URL schemes a page may link to; any other IRI (javascript:, data:, file:, urn:, ...) is shown as text.
LINK_SCHEMES = frozenset({"http", "https", "mailto"})

_SCRIPT_ESCAPES = {ord("<"): "\\u003c", ord(">"): "\\u003e", ord("&"): "\\u0026", 0x2028: "\\u2028", 0x2029: "\\u2029"}


def script_json_text(text: str) -> Markup:
    """JSON text made safe inside a ``<script>`` element: ``< > &`` and U+2028/2029 as \\u escapes.

    JSON has these characters only inside strings, where the escapes mean the same, so the data is
    unchanged and no ``</script>``, ``<!--`` or ``<script`` can end or bend the element.
    """
    return Markup(text.translate(_SCRIPT_ESCAPES))


def script_json(value) -> Markup:
    """A value as JSON for a ``<script type="application/json">`` block."""
    return script_json_text(json.dumps(value, ensure_ascii=False))


def safe_href(url: str | None) -> str:
    """``url`` when a page may link to it (http, https, mailto, or a path of this site), else ""."""
    if not url:
        return ""
    text = str(url).strip()
    if text.startswith("/") and not text.startswith("//") and "\\" not in text:
        return text
    try:
        scheme = urlsplit(text).scheme.lower()
    except ValueError:
        return ""
    if scheme not in LINK_SCHEMES or any(ord(c) < 0x21 for c in text):
        return ""
    return text


def link(url: str | None, text, **attributes) -> Markup:
    """``<a href=url>text</a>`` when `safe_href` allows the target, else the text alone (escaped)."""
    href = safe_href(url)
    if not href:
        return Markup("{}").format(text)
    extra = Markup("").join(Markup(' {}="{}"').format(name.rstrip("_"), value) for name, value in attributes.items())
    return Markup('<a href="{}"{}>{}</a>').format(href, extra, text)


templates.env.filters["script_json"] = script_json
templates.env.filters["safe_href"] = safe_href
templates.env.globals["link"] = link


def static_files() -> StaticFiles:
    """Mounted at /static under the name "static" (templates use url_for('static', path=...))."""
    return StaticFiles(directory=str(HERE / "static"))
