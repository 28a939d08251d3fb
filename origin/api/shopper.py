"""GET / (the shopper page) and GET /static/{name} (its script and styles), public.

The same files ship in the Worker as `edge_worker/shopper_page.py` (scripts/edge/shopper_page.py
generates it), so the edge serves the page without calling the origin.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response

from origin.errors import NotFound

STATIC = Path(__file__).resolve().parent.parent / "static"
PAGE = "shopper.html"
ASSETS = {"shopper.js": "text/javascript", "shopper.css": "text/css"}
# Short: a deploy changes the page and its script together within minutes.
CACHE_CONTROL = "public, max-age=300"


async def page(request: Request) -> Response:
    return FileResponse(
        STATIC / PAGE, media_type="text/html", headers={"Cache-Control": CACHE_CONTROL}
    )


async def asset(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in ASSETS:
        raise NotFound(f"no static file {name}", field="name")
    return FileResponse(
        STATIC / name, media_type=ASSETS[name], headers={"Cache-Control": CACHE_CONTROL}
    )
