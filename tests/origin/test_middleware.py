"""RED metrics are labelled by route template (bounded), the request id is taken from the edge or
made, echoed, and put on the log records of the request."""

from __future__ import annotations

import logging

import pytest
from prometheus_client import REGISTRY
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from origin.middleware import ObservabilityMiddleware, install_log_context, request_id_from

log = logging.getLogger("tests.middleware")


async def item(request: Request) -> Response:
    log.info("serving item")
    return JSONResponse({"id": request.path_params["item_id"]})


async def broken(request: Request) -> Response:
    raise RuntimeError("boom")


@pytest.fixture(scope="module")
def app_client() -> TestClient:
    install_log_context()
    app = Starlette(
        routes=[Route("/t/items/{item_id}", item), Route("/t/broken", broken)],
        middleware=[Middleware(ObservabilityMiddleware)],
    )
    return TestClient(app, raise_server_exceptions=False)


def requests_total(route: str, status: str, method: str = "GET") -> float:
    labels = {"route": route, "method": method, "status": status}
    return REGISTRY.get_sample_value("vsearch_http_requests_total", labels) or 0.0


def test_requests_are_counted_by_route_template_not_path(app_client: TestClient) -> None:
    before = requests_total("/t/items/{item_id}", "200")
    for n in range(3):
        assert app_client.get(f"/t/items/{n}").status_code == 200
    assert requests_total("/t/items/{item_id}", "200") == before + 3
    assert REGISTRY.get_sample_value("vsearch_http_requests_total", {"route": "/t/items/1"}) is None
    count = REGISTRY.get_sample_value(
        "vsearch_http_request_seconds_count", {"route": "/t/items/{item_id}"}
    )
    assert count is not None and count >= 3


def test_unknown_paths_share_one_label(app_client: TestClient) -> None:
    before = requests_total("unmatched", "404")
    app_client.get("/no/such/path/1")
    app_client.get("/no/such/path/2")
    assert requests_total("unmatched", "404") == before + 2


def test_an_exception_counts_as_a_500(app_client: TestClient) -> None:
    before = requests_total("/t/broken", "500")
    assert app_client.get("/t/broken").status_code == 500
    assert requests_total("/t/broken", "500") == before + 1


def test_odd_methods_share_one_label(app_client: TestClient) -> None:
    before = requests_total("/t/items/{item_id}", "405", method="OTHER")
    app_client.request("BREW", "/t/items/1")
    assert requests_total("/t/items/{item_id}", "405", method="OTHER") == before + 1


def test_the_edge_request_id_is_echoed(app_client: TestClient) -> None:
    response = app_client.get("/t/items/1", headers={"X-Request-Id": "edge-abc123"})
    assert response.headers["x-request-id"] == "edge-abc123"


def test_a_request_id_is_made_when_missing_or_malformed(app_client: TestClient) -> None:
    made = app_client.get("/t/items/1").headers["x-request-id"]
    assert len(made) == 32
    odd = app_client.get("/t/items/1", headers={"X-Request-Id": "bad id\twith spaces"})
    assert odd.headers["x-request-id"] not in ("bad id\twith spaces", made)
    assert request_id_from(b"x" * 129) != "x" * 129


def test_logs_of_a_request_carry_its_id(
    app_client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="tests.middleware"):
        app_client.get("/t/items/7", headers={"X-Request-Id": "req-7"})
        log.info("outside a request")
    records = [r for r in caplog.records if r.getMessage() == "serving item"]
    assert [getattr(r, "request_id", None) for r in records] == ["req-7"]
    assert caplog.records[-1].getMessage() == "outside a request"
    assert not hasattr(caplog.records[-1], "request_id")
