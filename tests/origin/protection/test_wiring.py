"""The origin app really runs the protection middleware (the other tests use a small app)."""

from __future__ import annotations

from protected_app import assert_error_shape
from starlette.testclient import TestClient


def test_the_origin_sends_security_and_shopper_cors_headers(client: TestClient) -> None:
    response = client.get("/v1/search?q=red+suv", headers={"Origin": "https://shop.example"})
    assert response.status_code == 200
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["access-control-allow-origin"] == "*"
    assert "X-Cache" in response.headers["access-control-expose-headers"]
    purge = client.post("/v1/purge", json={}, headers={"Origin": "https://shop.example"})
    assert "access-control-allow-origin" not in purge.headers


def test_the_origin_bounds_requests(client: TestClient) -> None:
    assert_error_shape(client.get("/v1/search?q=" + "a" * 3_000), 414, "query_string_too_long")
    big = b"{" + b" " * (2 * 1024 * 1024) + b"}"
    assert_error_shape(client.post("/v1/vehicles/bulk", content=big), 413, "body_too_large")
