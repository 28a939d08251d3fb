"""Token scopes: the read token opens the dashboard (page and socket) and never an admin route;
the admin token opens both; neither is echoed. Admin calls here fail validation after the token
check (a 400), so nothing is written."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from origin.settings import Settings, SettingsError, load_settings

READ, ADMIN = "scope-read-token", "scope-admin-token"
# Each passes the token check and then fails on its body: 400 proves the token was accepted.
ADMIN_CALLS = [
    ("PATCH", "/v1/vehicles/5", {"price": "not a number"}),
    ("PUT", "/v1/vehicles/5", {}),
    ("POST", "/v1/vehicles/bulk", {"vehicles": []}),
    ("POST", "/v1/purge", {"tags": "not a list"}),
]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def scoped(settings: Settings, inventory: Any, embedder: Any) -> Iterator[TestClient]:
    from origin.app import create_app

    ours = dataclasses.replace(settings, admin_token=ADMIN, read_token=READ)
    with TestClient(create_app(ours, embed=embedder.embed_query)) as test_client:
        yield test_client


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_CALLS)
def test_admin_routes_refuse_the_read_token(
    scoped: TestClient, method: str, path: str, body: Any
) -> None:
    for headers in ({}, bearer(READ), bearer("wrong")):
        response = scoped.request(method, path, json=body, headers=headers)
        assert response.status_code == 401, (method, path, headers)
        assert response.json()["error"] == {
            "code": "unauthorized",
            "message": "a valid admin bearer token is required",
            "field": "authorization",
        }
        assert READ not in response.text and ADMIN not in response.text
    assert scoped.request("DELETE", "/v1/vehicles/5", headers=bearer(READ)).status_code == 401


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_CALLS)
def test_admin_routes_take_the_admin_token(
    scoped: TestClient, method: str, path: str, body: Any
) -> None:
    response = scoped.request(method, path, json=body, headers=bearer(ADMIN))
    assert response.status_code == 400, response.text


@pytest.mark.parametrize("token", [READ, ADMIN])
def test_the_dashboard_takes_either_token(scoped: TestClient, token: str) -> None:
    scoped.cookies.clear()
    assert scoped.get("/dashboard", headers=bearer(token)).status_code == 200
    scoped.cookies.clear()
    page = scoped.get(f"/dashboard?token={token}")
    assert page.status_code == 200
    assert token not in page.headers["set-cookie"]
    with scoped.websocket_connect("/dashboard/ws") as ws:  # the cookie the page set
        assert ws.receive_json()["type"] == "history"


def test_the_dashboard_refuses_without_a_token(scoped: TestClient) -> None:
    scoped.cookies.clear()
    assert scoped.get("/dashboard").status_code == 401
    assert scoped.get("/dashboard?token=wrong").status_code == 401
    assert scoped.get("/dashboard", headers=bearer("wrong")).status_code == 401
    scoped.cookies.set("vsearch_dashboard", READ, path="/dashboard")  # the token is not a cookie
    assert scoped.get("/dashboard").status_code == 401
    scoped.cookies.clear()


def test_the_read_token_must_differ_from_the_admin_token() -> None:
    with pytest.raises(SettingsError, match="VSEARCH_READ_TOKEN"):
        load_settings({"VSEARCH_ADMIN_TOKEN": "same", "VSEARCH_READ_TOKEN": "same"})


def test_tokens_never_show_in_the_settings_repr() -> None:
    shown = repr(load_settings({"VSEARCH_ADMIN_TOKEN": ADMIN, "VSEARCH_READ_TOKEN": READ}))
    assert ADMIN not in shown and READ not in shown
