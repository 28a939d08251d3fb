"""GET /v1/vehicles/{id}: one vehicle, active or sold."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from origin.api.render import render
from origin.db import vehicles as db
from origin.errors import BadRequest, NotFound

MAX_VEHICLE_ID = 2**63 - 1


def parse_vehicle_id(raw: str) -> int:
    if not raw.isdigit() or not 0 < int(raw) <= MAX_VEHICLE_ID:
        raise BadRequest("vehicle id must be a positive integer", code="invalid_id", field="id")
    return int(raw)


async def get_vehicle(request: Request) -> Response:
    vehicle_id = parse_vehicle_id(request.path_params["vehicle_id"])
    async with request.app.state.pool.acquire() as conn:
        row = await db.get_vehicle(conn, vehicle_id)
    if row is None:
        raise NotFound(f"no vehicle {vehicle_id}", field="id")
    return render(request, dict(row), headers={"Cache-Tag": f"v:{vehicle_id}"})
