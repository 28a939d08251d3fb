"""GET / is the shopper page and /static/{name} its files, public, under the strict HTML CSP."""

from __future__ import annotations

from pathlib import Path

from starlette.testclient import TestClient

from origin.protection.headers import HTML_CSP

STATIC = Path(__file__).resolve().parents[3] / "origin" / "static"


def test_the_page_is_served_at_the_root_under_the_csp(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["content-security-policy"] == HTML_CSP
    assert response.headers["cache-control"] == "public, max-age=300"
    assert "access-control-allow-origin" not in response.headers
    assert response.text == (STATIC / "shopper.html").read_text(encoding="utf-8")


def test_a_shared_address_with_a_query_is_the_same_page(client: TestClient) -> None:
    assert client.get("/?q=red+suv&body=sedan").text == client.get("/").text


def test_the_page_files_are_served(client: TestClient) -> None:
    for name, kind in [("shopper.js", "text/javascript"), ("shopper.css", "text/css")]:
        response = client.get(f"/static/{name}")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith(kind)
        assert response.text == (STATIC / name).read_text(encoding="utf-8")


def test_only_the_page_files_are_served(client: TestClient) -> None:
    for name in ["dashboard.js", "shopper.html", "..%2Fapp.py", "nope.js"]:
        response = client.get(f"/static/{name}")
        assert response.status_code == 404, name
        assert response.json()["error"]["code"] == "not_found"
