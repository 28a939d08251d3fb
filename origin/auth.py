"""Bearer tokens and their two scopes: read (internal read routes: the dashboard and its socket)
and admin (inventory writes, purge; it satisfies read too). Constant-time compare, never logged."""

from __future__ import annotations

import enum
import hmac
from collections.abc import Iterable

from starlette.requests import HTTPConnection

from origin.errors import Unauthorized
from origin.settings import Settings


class Scope(enum.Enum):
    READ = "read"
    ADMIN = "admin"


def scope_tokens(settings: Settings, scope: Scope) -> tuple[str | None, ...]:
    """The configured tokens that grant `scope` (None where unset); the read token never admin."""
    if scope is Scope.ADMIN:
        return (settings.admin_token,)
    return (settings.read_token, settings.admin_token)


def matches_any(given: str, candidates: Iterable[str | None]) -> bool:
    """Whether `given` equals a set candidate; every candidate is compared (no early exit), unset
    ones too, so timing says nothing about which one matched or which are configured."""
    found = False
    for candidate in candidates:
        same = hmac.compare_digest(given.encode(), (candidate or "").encode())
        found = found or (bool(candidate) and same)
    return found


def bearer_token(conn: HTTPConnection) -> str | None:
    """The token of `Authorization: Bearer <token>`; None without one."""
    scheme, _, given = conn.headers.get("authorization", "").partition(" ")
    return given.strip() if scheme.lower() == "bearer" else None


def require(conn: HTTPConnection, scope: Scope) -> None:
    """Raise Unauthorized (401) unless the request's bearer token grants `scope`."""
    given = bearer_token(conn)
    granted = matches_any(given or "", scope_tokens(conn.app.state.settings, scope))
    if given is None or not granted:
        raise Unauthorized(f"a valid {scope.value} bearer token is required", field="authorization")


def require_admin(conn: HTTPConnection) -> None:
    require(conn, Scope.ADMIN)
