"""Fixtures of the write-path tests (inventory API, purger): a private copy of the inventory."""

from __future__ import annotations

from typing import Any

import pytest
from write_db import create_write_database


@pytest.fixture(scope="session")
def write_database_url(database_url: str, inventory: Any) -> str:
    """`vsearch_write_test`: the 3,000 test vehicles, recreated each session, free to change."""
    return create_write_database(database_url)
