"""Opaque keyset cursors: the last row's sort value and id, bound to the sort they came from."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass

from origin.errors import BadRequest


@dataclass(frozen=True)
class Cursor:
    sort: str
    value: float  # the last row's sort value (distance, price, ...) or an offset for the fallback
    last_id: int
    fallback: bool = False


def encode_cursor(cursor: Cursor) -> str:
    payload = {"s": cursor.sort, "v": cursor.value, "i": cursor.last_id}
    if cursor.fallback:
        payload["f"] = 1
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(token: str, sort: str) -> Cursor:
    def bad(why: str) -> BadRequest:
        return BadRequest(f"cursor is not valid: {why}", code="invalid_cursor", field="cursor")

    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        payload = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise bad("not a cursor from this API") from None
    if not isinstance(payload, dict):
        raise bad("not a cursor from this API")
    value, last_id = payload.get("v"), payload.get("i")
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise bad("missing position")
    if not isinstance(last_id, int) or isinstance(last_id, bool):
        raise bad("missing id")
    if payload.get("s") != sort:
        raise bad("it belongs to another sort order")
    return Cursor(sort=sort, value=float(value), last_id=last_id, fallback=bool(payload.get("f")))
