"""GET /dashboard needs the admin token; the page sets a cookie its WebSocket uses; the socket
sends the history, then a point a second that counts the requests just made."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from origin.settings import Settings

ROOT = Path(__file__).resolve().parents[3]
TOKEN = "dash-token-123"


@pytest.fixture(scope="module")
def dash(settings: Settings, inventory: Any, embedder: Any) -> Iterator[TestClient]:
    from origin.app import create_app

    app = create_app(dataclasses.replace(settings, admin_token=TOKEN), embed=embedder.embed_query)
    with TestClient(app) as test_client:
        yield test_client


def test_the_page_needs_the_token(dash: TestClient) -> None:
    dash.cookies.clear()
    assert dash.get("/dashboard").status_code == 401
    assert dash.get("/dashboard?token=wrong").status_code == 401
    assert dash.get("/dashboard", headers={"Authorization": "Bearer wrong"}).status_code == 401


def test_the_page_loads_with_the_token_and_sets_a_cookie(dash: TestClient) -> None:
    dash.cookies.clear()
    response = dash.get(f"/dashboard?token={TOKEN}")
    assert response.status_code == 200
    assert 'id="rps"' in response.text and "/dashboard/static/uPlot.iife.min.js" in response.text
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and TOKEN not in cookie
    bearer = dash.get("/dashboard", headers={"Authorization": f"Bearer {TOKEN}"})
    assert bearer.status_code == 200


def test_a_dashboard_without_an_admin_token_is_closed(client: TestClient) -> None:
    assert client.app.state.settings.admin_token is None  # type: ignore[attr-defined]
    assert client.get("/dashboard?token=").status_code == 401


def test_static_files_are_served_and_nothing_else(dash: TestClient) -> None:
    js = dash.get("/dashboard/static/uPlot.iife.min.js")
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
    assert dash.get("/dashboard/static/dashboard.js").status_code == 200
    assert dash.get("/dashboard/static/..%2Fapp.py").status_code == 404
    assert dash.get("/dashboard/static/settings.py").status_code == 404


def test_the_vendored_uplot_is_the_pinned_npm_release() -> None:
    for name in ("uPlot.iife.min.js", "uPlot.min.css"):
        vendored = (ROOT / "origin" / "static" / name).read_bytes()
        assert vendored == (ROOT / "node_modules" / "uplot" / "dist" / name).read_bytes(), name


def test_the_socket_refuses_without_credentials(dash: TestClient) -> None:
    dash.cookies.clear()
    with pytest.raises(WebSocketDisconnect), dash.websocket_connect("/dashboard/ws") as ws:
        ws.receive_json()


def test_the_socket_sends_history_then_points_that_count_requests(dash: TestClient) -> None:
    dash.cookies.clear()
    dash.get(f"/dashboard?token={TOKEN}")  # sets the cookie the page's socket sends
    with dash.websocket_connect("/dashboard/ws") as ws:
        history = ws.receive_json()
        assert history["type"] == "history"
        assert len(history["seconds"]) == 3601 and len(history["minutes"]) >= 1440
        for _ in range(20):
            assert dash.get("/v1/vehicles/1").status_code in (200, 404)
        points = [ws.receive_json() for _ in range(3)]
    seconds = [m["point"] for m in points if m["type"] == "second"]
    assert [p["t"] for p in seconds] == sorted(p["t"] for p in seconds)
    assert all(p["instances"] >= 1 for p in seconds)
    assert sum(p["rps"] for p in seconds) >= 20
    assert any(p["pool_in_use"] is not None and p["pool_use"] is not None for p in seconds)
