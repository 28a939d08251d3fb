"""Fixtures of the protection tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from protected_app import protected_app
from starlette.testclient import TestClient


@pytest.fixture
def make_client() -> Iterator[Callable[..., TestClient]]:
    """`make_client(**settings)`: a started TestClient; all closed at the end of the test."""
    with ExitStack() as stack:

        def make(**overrides: Any) -> TestClient:
            client = TestClient(protected_app(**overrides), raise_server_exceptions=True)
            return stack.enter_context(client)

        yield make
