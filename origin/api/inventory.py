"""Inventory writes (write path entry): PUT/PATCH/DELETE /v1/vehicles/{id}, POST /v1/vehicles/bulk.
Admin bearer token required; each answer names the purge event that carries the change out."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from origin.api.render import render
from origin.api.vehicles import parse_vehicle_id
from origin.auth import require_admin
from origin.errors import BadRequest
from origin.inventory import payload
from origin.inventory.service import InventoryService, WriteResult


def _service(request: Request) -> InventoryService:
    service: InventoryService = request.app.state.inventory
    return service


def _answer(request: Request, result: WriteResult, status_code: int = 200) -> Response:
    body = {"vehicle": result.vehicle, "changed": result.changed, "purge_event": result.purge_event}
    return render(request, body, status_code=status_code)


async def put_vehicle(request: Request) -> Response:
    require_admin(request)
    vehicle_id = parse_vehicle_id(request.path_params["vehicle_id"])
    body = payload.parse_json(await request.body())
    if isinstance(body, dict) and "id" in body and body["id"] != vehicle_id:
        raise BadRequest("id in the body differs from the path", code="invalid_id", field="id")
    fields = payload.vehicle_fields(body, partial=False)
    result = await _service(request).put(vehicle_id, fields)
    return _answer(request, result, 201 if result.created else 200)


async def patch_vehicle(request: Request) -> Response:
    require_admin(request)
    vehicle_id = parse_vehicle_id(request.path_params["vehicle_id"])
    body = payload.parse_json(await request.body())
    if isinstance(body, dict) and "id" in body and body["id"] != vehicle_id:
        raise BadRequest("a vehicle's id cannot change", code="invalid_id", field="id")
    fields = payload.vehicle_fields(body, partial=True)
    return _answer(request, await _service(request).patch(vehicle_id, fields))


async def delete_vehicle(request: Request) -> Response:
    require_admin(request)
    vehicle_id = parse_vehicle_id(request.path_params["vehicle_id"])
    event = await _service(request).delete(vehicle_id)
    return render(request, {"deleted": vehicle_id, "purge_event": event})


async def bulk_vehicles(request: Request) -> Response:
    require_admin(request)
    items = payload.bulk_vehicles(payload.parse_json(await request.body()))
    result = await _service(request).bulk(items)
    return render(request, result.__dict__)
