"""Rate limits per client and per API key: 429 with Retry-After in the error shape; shared by
instances through Redis; still enforced (in memory), never a 5xx, while Redis is down."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

from protected_app import assert_error_shape
from starlette.testclient import TestClient

Make = Callable[..., TestClient]


def _address() -> dict[str, str]:
    # A fresh client address per test: Redis counters outlive one test.
    return {"X-Client": f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.7"}


def test_a_client_over_its_limit_gets_429_with_retry_after(make_client: Make) -> None:
    client = make_client(rate_limit_client="3/minute")
    assert [client.get("/v1/search").status_code for _ in range(3)] == [200, 200, 200]
    response = client.get("/v1/search")
    body = assert_error_shape(response, 429, "rate_limited")
    assert body["error"]["field"] is None
    assert 1 <= int(response.headers["retry-after"]) <= 60
    # Health checks are never limited, or a busy instance would be taken out of rotation.
    assert client.get("/healthz").status_code == 200


def test_exempt_addresses_are_not_limited_per_client(make_client: Make) -> None:
    client = make_client(rate_limit_client="1/minute", rate_limit_exempt="testclient")
    assert {client.get("/v1/search").status_code for _ in range(5)} == {200}


def test_the_client_address_header_separates_clients(make_client: Make) -> None:
    client = make_client(rate_limit_client="1/minute", client_ip_header="X-Client")
    first, second = _address(), _address()
    assert client.get("/v1/search", headers=first).status_code == 200
    assert client.get("/v1/search", headers=first).status_code == 429
    assert client.get("/v1/search", headers=second).status_code == 200


def test_each_api_key_has_its_own_limit(make_client: Make) -> None:
    client = make_client(rate_limit_client="off", rate_limit_key="2/minute")
    key_a = {"Authorization": "Bearer key-a"}
    key_b = {"Authorization": "Bearer key-b"}
    assert [client.get("/v1/search", headers=key_a).status_code for _ in range(2)] == [200, 200]
    response = client.get("/v1/search", headers=key_a)
    body = assert_error_shape(response, 429, "rate_limited")
    assert body["error"]["field"] == "authorization"
    assert "key-a" not in response.text
    assert client.get("/v1/search", headers=key_b).status_code == 200
    # No key, no per-key limit (the per-client one is off here).
    assert client.get("/v1/search").status_code == 200


def test_instances_share_the_limit_through_redis(make_client: Make, redis_url: str) -> None:
    limits: dict[str, Any] = {"rate_limit_client": "3/minute", "client_ip_header": "X-Client"}
    one = make_client(redis_url=redis_url, **limits)
    two = make_client(redis_url=redis_url, **limits)
    address = _address()
    statuses = [c.get("/v1/search", headers=address).status_code for c in (one, two, one)]
    assert statuses == [200, 200, 200]
    assert two.get("/v1/search", headers=address).status_code == 429
    # Without Redis each instance would count alone.
    alone = make_client(**limits)
    assert alone.get("/v1/search", headers=address).status_code == 200


def test_redis_down_falls_back_to_memory_quickly(make_client: Make, redis_server: Any) -> None:
    client = make_client(
        redis_url=redis_server.url, rate_limit_client="2/minute", client_ip_header="X-Client"
    )
    address = _address()
    redis_server.stop()
    try:
        started = time.monotonic()
        statuses = [client.get("/v1/search", headers=address).status_code for _ in range(3)]
        elapsed = time.monotonic() - started
    finally:
        redis_server.start()
    assert statuses == [200, 200, 429]
    assert elapsed < 3.0
