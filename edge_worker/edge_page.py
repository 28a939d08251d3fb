"""The shopper page's responses at the edge: the generated files (shopper_page.py) with the same
security headers and Content-Security-Policy the origin sends (origin/protection/headers.py)."""

from __future__ import annotations

from edge_http import EdgeResponse
from shopper_page import FILES

# The origin's HTML_CSP: the page loads only its own script and styles and calls /search here.
HTML_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}
# The origin's too: a deploy changes the page and its script together within minutes.
CACHE_CONTROL = "public, max-age=300"


def page_response(file: str) -> EdgeResponse:
    """One file of the page; `file` comes from route.PAGE_PATHS, so it always exists."""
    content_type, text = FILES[file]
    headers = {"content-type": content_type, "cache-control": CACHE_CONTROL, **SECURITY_HEADERS}
    if content_type.startswith("text/html"):
        headers["content-security-policy"] = HTML_CSP
    return EdgeResponse(200, text, headers)
