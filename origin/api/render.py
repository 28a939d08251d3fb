"""Content negotiation for API bodies: JSON (orjson) by default, msgpack when the client asks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgpack
import orjson
from starlette.requests import Request
from starlette.responses import Response

MSGPACK = "application/msgpack"


def wants_msgpack(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return MSGPACK in accept or "application/x-msgpack" in accept


def encode(body: Any, *, as_msgpack: bool) -> bytes:
    if as_msgpack:
        return msgpack.packb(body, use_bin_type=True, default=_default)  # type: ignore[no-any-return]
    return orjson.dumps(body, default=_default)


def render(
    request: Request,
    body: Any,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> Response:
    as_msgpack = wants_msgpack(request)
    return Response(
        encode(body, as_msgpack=as_msgpack),
        status_code=status_code,
        headers=dict(headers or {}) | {"Vary": "Accept, Accept-Encoding"},
        media_type=MSGPACK if as_msgpack else "application/json",
    )


def _default(value: Any) -> Any:
    isoformat = getattr(value, "isoformat", None)
    if isoformat is not None:
        return isoformat()
    raise TypeError(f"cannot encode {type(value).__name__}")
