"""Bad input gets a 4xx in the stable error shape, naming the field; never a 500."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

BAD_REQUESTS = [
    ("/v1/search?colour=red", 400, "colour"),
    ("/v1/search?year_min=2020&year_max=2010", 400, "year_min"),
    ("/v1/search?q=" + "a" * 257, 400, "q"),
    ("/v1/search?price_max=lots", 400, "price_max"),
    ("/v1/search?limit=0", 400, "limit"),
    ("/v1/search?limit=51", 400, "limit"),
    ("/v1/search?body=spaceship", 400, "body"),
    ("/v1/search?cursor=not-a-cursor", 400, "cursor"),
    ("/v1/search?cursor=eyJzIjoicHJpY2VfYXNjIiwidiI6MSwiaSI6MX0", 400, "cursor"),
    ("/v1/search?zip=00000", 400, "zip"),
    ("/v1/search?sort=distance", 400, "sort"),
    ("/v1/search?fields=id,secret", 400, "fields"),
    ("/v1/vehicles/abc", 400, "id"),
    ("/v1/vehicles/-4", 400, "id"),
    ("/v1/vehicles/99999999999999999999999", 400, "id"),
    ("/v1/vehicles/999999999", 404, "id"),
]


@pytest.mark.parametrize(("url", "status", "field"), BAD_REQUESTS)
def test_bad_input_names_the_field(client: TestClient, url: str, status: int, field: str) -> None:
    response = client.get(url)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["field"] == field
    assert error["code"] and error["message"]


def test_unknown_route_and_method_use_the_error_shape(client: TestClient) -> None:
    missing = client.get("/nope")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    wrong = client.post("/v1/search")
    assert wrong.status_code == 405
    assert wrong.json()["error"]["code"] == "method_not_allowed"


def test_sql_looking_input_is_only_data(client: TestClient) -> None:
    response = client.get("/v1/search?q=suv%27%3B+DROP+TABLE+vehicles%3B--")
    assert response.status_code == 200
    assert client.get("/readyz").status_code == 200
