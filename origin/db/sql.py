"""A tiny builder for parameterised WHERE clauses: values always travel as $n parameters."""

from __future__ import annotations

from typing import Any


class Where:
    def __init__(self, first_param: int = 1) -> None:
        self.clauses: list[str] = []
        self.params: list[Any] = []
        self._next = first_param

    def param(self, value: Any) -> str:
        """Register a value and return its placeholder."""
        self.params.append(value)
        placeholder = f"${self._next}"
        self._next += 1
        return placeholder

    def add(self, clause: str) -> None:
        self.clauses.append(clause)

    def sql(self) -> str:
        return " AND ".join(self.clauses) if self.clauses else "TRUE"
