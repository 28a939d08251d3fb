"""Request bounds: query length and parameter count everywhere, body size on the write API."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from protected_app import assert_error_shape
from starlette.testclient import TestClient

Make = Callable[..., TestClient]


def test_a_long_query_string_is_414(make_client: Make) -> None:
    client = make_client(max_query_bytes=100)
    assert client.get("/v1/search?q=" + "a" * 90).status_code == 200
    body = assert_error_shape(client.get("/v1/search?q=" + "a" * 200), 414, "query_string_too_long")
    assert body["error"]["field"] == "query"


def test_too_many_parameters_is_400(make_client: Make) -> None:
    client = make_client(max_query_params=5)
    assert client.get("/v1/search?" + "&".join(f"p{i}=1" for i in range(5))).status_code == 200
    response = client.get("/v1/search?" + "&".join(f"p{i}=1" for i in range(6)))
    assert_error_shape(response, 400, "too_many_parameters")


def test_a_declared_large_body_is_413_before_it_is_read(make_client: Make) -> None:
    client = make_client(max_body_bytes=1_000)
    assert client.put("/v1/vehicles/1", content=b"x" * 1_000).json() == {"bytes": 1_000}
    assert_error_shape(client.put("/v1/vehicles/1", content=b"x" * 1_001), 413, "body_too_large")


def test_a_streamed_large_body_is_413(make_client: Make) -> None:
    client = make_client(max_body_bytes=1_000)

    def chunks() -> Iterator[bytes]:
        # No Content-Length: the size is only known while the body arrives.
        yield from (b"x" * 400 for _ in range(3))

    response = client.post("/v1/purge", content=chunks())
    assert "content-length" not in response.request.headers
    assert_error_shape(response, 413, "body_too_large")
