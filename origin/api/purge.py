"""POST /v1/purge {"vehicle_ids": [...], "tags": [...]} (write path): an explicit purge through
the same outbox as writes, so it is retried until every tier is done. Admin token required."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from origin.api.render import render
from origin.auth import require_admin
from origin.inventory import payload
from origin.inventory.service import InventoryService


async def purge(request: Request) -> Response:
    require_admin(request)
    ids, tags = payload.purge_request(payload.parse_json(await request.body()))
    service: InventoryService = request.app.state.inventory
    event = await service.purge(ids, tags)
    return render(request, {"purge_event": event}, status_code=202)
