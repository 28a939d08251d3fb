"""Validation of inventory write bodies (write path): every error is a 400 that names the field;
enums come from the shared query module so a written vehicle is always searchable."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from vsearch_query import BODIES, COLORS, DRIVETRAINS, FUELS, TRANSMISSIONS

from origin.errors import BadRequest
from origin.types import VehicleId

MAX_BODY_BYTES = 4 * 1024 * 1024
MAX_BULK = 1_000
MAX_PURGE_ITEMS = 1_000
MAX_VEHICLE_ID = 2**63 - 1
STATUSES = ("active", "sold")
CONDITIONS = ("new", "used", "certified")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
_ZIP = re.compile(r"^\d{5}$")
# Cache tags: printable ASCII without spaces or commas (Cache-Tag is a comma-separated header).
_TAG = re.compile(r"^[\x21-\x2b\x2d-\x7e]{1,128}$")

# field -> (kind, argument): enums list their values; ints their range; strings their max length.
_FIELDS: dict[str, tuple[str, Any]] = {
    "make": ("slug", None),
    "model": ("slug", None),
    "make_name": ("text", 100),
    "model_name": ("text", 100),
    "year": ("int", (1900, 2100)),
    "price": ("int", (0, 10_000_000)),
    "mileage": ("int", (0, 2_000_000)),
    "body": ("enum", BODIES),
    "fuel": ("enum", FUELS),
    "drivetrain": ("enum", DRIVETRAINS),
    "transmission": ("enum", TRANSMISSIONS),
    "color": ("enum", COLORS),
    "condition": ("enum", CONDITIONS),
    "zip": ("zip", None),
    "dealer": ("slug", None),
    "title": ("text", 200),
    "description": ("text", 2_000),
    "status": ("enum", STATUSES),
}
REQUIRED = ("make", "model", "year", "price", "mileage", "body", "fuel", "drivetrain",
            "transmission", "color", "zip", "dealer")  # fmt: skip
WRITABLE = tuple(_FIELDS)


def parse_json(raw: bytes) -> Any:
    if len(raw) > MAX_BODY_BYTES:
        raise BadRequest(f"body over {MAX_BODY_BYTES} bytes", code="body_too_large")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("body is not valid JSON", code="invalid_json") from None


def _object(value: Any, where: str | None) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise BadRequest("expected a JSON object", code="invalid_body", field=where)
    return value


def _check(name: str, value: Any, where: str) -> Any:
    kind, arg = _FIELDS[name]
    if kind == "int":
        low, high = arg
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise BadRequest(f"{where} must be an integer from {low} to {high}", field=where)
        return value
    if not isinstance(value, str):
        raise BadRequest(f"{where} must be a string", field=where)
    if kind == "enum" and value not in arg:
        raise BadRequest(f"{where} must be one of {', '.join(arg)}", field=where)
    if kind == "slug" and not _SLUG.match(value):
        raise BadRequest(f"{where} must be lowercase letters, digits and '-'", field=where)
    if kind == "zip" and not _ZIP.match(value):
        raise BadRequest(f"{where} must be a 5-digit ZIP code", field=where)
    if kind == "text" and (len(value) > arg or "\x00" in value):
        raise BadRequest(f"{where} must be text of at most {arg} characters", field=where)
    return value.strip() if kind == "text" else value


def vehicle_fields(body: Any, *, partial: bool, prefix: str = "") -> dict[str, Any]:
    """The writable fields of one vehicle, checked; all REQUIRED ones unless `partial`."""
    data = _object(body, prefix.rstrip(".") or None)
    out: dict[str, Any] = {}
    for name, value in data.items():
        if name == "id":
            continue  # checked against the path or the bulk entry by the caller
        if name not in _FIELDS:
            raise BadRequest(f"unknown field {name!r}", code="unknown_field", field=prefix + name)
        out[name] = _check(name, value, prefix + name)
    if not partial:
        for name in REQUIRED:
            if name not in out:
                raise BadRequest(f"{prefix + name} is required", code="missing_field",
                                 field=prefix + name)  # fmt: skip
    elif not out:
        raise BadRequest("nothing to change", code="empty_patch", field=None)
    return out


def vehicle_id(value: Any, where: str) -> VehicleId:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_VEHICLE_ID:
        raise BadRequest(f"{where} must be a positive integer", code="invalid_id", field=where)
    return value


def bulk_vehicles(body: Any) -> list[tuple[VehicleId, dict[str, Any]]]:
    """{"vehicles": [{"id": ..., <all required fields>}, ...]}: 1 to 1,000, ids distinct."""
    data = _object(body, None)
    unknown = set(data) - {"vehicles"}
    if unknown:
        name = sorted(unknown)[0]
        raise BadRequest(f"unknown field {name!r}", code="unknown_field", field=name)
    items = data.get("vehicles")
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_BULK:
        raise BadRequest(f"vehicles must be a list of 1 to {MAX_BULK}", field="vehicles")
    out: list[tuple[VehicleId, dict[str, Any]]] = []
    seen: set[int] = set()
    for i, item in enumerate(items):
        where = f"vehicles[{i}]"
        entry = _object(item, where)
        vid = vehicle_id(entry.get("id"), f"{where}.id")
        if vid in seen:
            raise BadRequest(f"{where}.id {vid} appears twice", code="duplicate_id",
                             field=f"{where}.id")  # fmt: skip
        seen.add(vid)
        out.append((vid, vehicle_fields(entry, partial=False, prefix=f"{where}.")))
    return out


def purge_request(body: Any) -> tuple[list[VehicleId], list[str]]:
    """{"vehicle_ids": [...], "tags": [...]}: at least one item, at most 1,000 together."""
    data = _object(body, None)
    unknown = set(data) - {"vehicle_ids", "tags"}
    if unknown:
        name = sorted(unknown)[0]
        raise BadRequest(f"unknown field {name!r}", code="unknown_field", field=name)
    ids_raw, tags_raw = data.get("vehicle_ids", []), data.get("tags", [])
    for name, value in (("vehicle_ids", ids_raw), ("tags", tags_raw)):
        if not isinstance(value, list):
            raise BadRequest(f"{name} must be a list", field=name)
    if not ids_raw and not tags_raw:
        raise BadRequest("give vehicle_ids or tags", code="empty_purge", field="vehicle_ids")
    if len(ids_raw) + len(tags_raw) > MAX_PURGE_ITEMS:
        raise BadRequest(f"at most {MAX_PURGE_ITEMS} ids and tags", field="tags")
    ids = [vehicle_id(v, f"vehicle_ids[{i}]") for i, v in enumerate(ids_raw)]
    for i, tag in enumerate(tags_raw):
        if not isinstance(tag, str) or not _TAG.match(tag):
            raise BadRequest("a tag is 1-128 printable characters, no spaces or commas",
                             code="invalid_tag", field=f"tags[{i}]")  # fmt: skip
    return ids, list(tags_raw)
