"""Bearer-token check of the admin endpoints (inventory writes, purge): constant-time compare,
the token never logged or echoed."""

from __future__ import annotations

import hmac

from starlette.requests import Request

from origin.errors import Unauthorized


def require_admin(request: Request) -> None:
    """Raise Unauthorized (401) unless the request carries `Authorization: Bearer <admin token>`."""
    expected: str | None = request.app.state.settings.admin_token
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    # Compared even when unset or malformed, so timing says nothing about which check failed.
    wanted = (expected or "").encode()
    matches = hmac.compare_digest(given.strip().encode(), wanted)
    if not expected or scheme.lower() != "bearer" or not matches:
        raise Unauthorized("a valid admin bearer token is required", field="authorization")
