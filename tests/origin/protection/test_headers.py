"""Security headers on every response, a strict CSP on HTML, CORS on the shopper path only."""

from __future__ import annotations

from collections.abc import Callable

from starlette.testclient import TestClient

Make = Callable[..., TestClient]
ORIGIN = {"Origin": "https://shop.example"}
PREFLIGHT = {**ORIGIN, "Access-Control-Request-Method": "GET"}
ADMIN_PREFLIGHT = {**ORIGIN, "Access-Control-Request-Method": "POST"}


def test_every_response_has_the_security_headers(make_client: Make) -> None:
    client = make_client()
    for response in (client.get("/v1/search"), client.get("/nowhere"), client.get("/healthz")):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["x-frame-options"] == "DENY"
        assert "content-security-policy" not in response.headers


def test_html_gets_a_strict_csp(make_client: Make) -> None:
    csp = make_client().get("/dashboard").headers["content-security-policy"]
    assert "default-src 'none'" in csp
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp


def test_cors_on_the_shopper_search(make_client: Make) -> None:
    client = make_client()
    for path in ("/search", "/v1/search"):
        assert client.get(path, headers=ORIGIN).headers["access-control-allow-origin"] == "*"
        preflight = client.options(path, headers=PREFLIGHT)
        assert preflight.status_code == 200
        assert "GET" in preflight.headers["access-control-allow-methods"]


def test_no_cors_on_admin_routes(make_client: Make) -> None:
    client = make_client()
    for path in ("/v1/purge", "/v1/vehicles/1", "/dashboard", "/healthz"):
        preflight = client.options(path, headers=ADMIN_PREFLIGHT)
        assert "access-control-allow-origin" not in preflight.headers, path
        assert preflight.status_code >= 400
    response = client.put("/v1/vehicles/1", content=b"{}", headers=ORIGIN)
    assert "access-control-allow-origin" not in response.headers


def test_cors_origins_is_a_setting(make_client: Make) -> None:
    client = make_client(cors_origins="https://shop.example")
    assert client.get("/v1/search", headers=ORIGIN).headers["access-control-allow-origin"] == (
        "https://shop.example"
    )
    other = client.get("/v1/search", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers
