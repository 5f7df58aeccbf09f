"""Security headers on every response (ASGI middleware).

- ``Content-Security-Policy``: scripts, styles, fonts, images and fetches from this site only;
  no inline script runs and no inline style applies (pages keep their data in
  ``<script type="application/json">`` blocks and their code in /static), no plugins, and no
  framing (``frame-ancestors 'none'``). ``img-src`` also allows ``data:`` (icons inlined in
  the vendored stylesheets). ``style-src`` also allows, by their SHA-256, the two ``<style>``
  elements that YASGUI's column resizer (static/vendor/yasgui) inserts, and nothing else inline;
  tests/test_hardening.py checks the hashes against the vendored bundle.
- ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: same-origin``, ``X-Frame-Options: DENY``
  (for browsers that predate ``frame-ancestors``).

A route that needs another policy sets its own ``Content-Security-Policy``; this one is then left alone.
"""

from __future__ import annotations

#: The fixed <style> texts of YASGUI's column resizer: the table rules, and the cursor while dragging.
VENDORED_STYLE_HASHES = (
    "'sha256-zCK2EVMoPc04mRF/g5CotUvxbJPWS+8V0b+s9ptqQIk='",
    "'sha256-c0O6TmFAkgpNbHxKAa1BrveWHHopjEtC47i0PzMudxg='",
)

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' " + " ".join(VENDORED_STYLE_HASHES),
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

SECURITY_HEADERS = {
    b"content-security-policy": CONTENT_SECURITY_POLICY.encode(),
    b"x-content-type-options": b"nosniff",
    b"referrer-policy": b"same-origin",
    b"x-frame-options": b"DENY",
}


class SecurityHeaders:
    """ASGI middleware: add `SECURITY_HEADERS` to every HTTP response that does not set them itself."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                present = {name.lower() for name, _ in headers}
                headers.extend((name, value) for name, value in SECURITY_HEADERS.items() if name not in present)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
