"""A tiny builder for parameterised WHERE clauses: values always travel as $n parameters."""

from __future__ import annotations

from typing import Any


class Where:
    def __init__(self, first_param: int = 1) -> None:
        self.clauses: list[str] = []
        self.text_clauses: list[str] = []
        self.params: list[Any] = []
        self._next = first_param

    def param(self, value: Any) -> str:
        """Register a value and return its placeholder."""
        self.params.append(value)
        placeholder = f"${self._next}"
        self._next += 1
        return placeholder

    def add(self, clause: str, *, per_text: bool = False) -> None:
        """per_text: the clause is on a column the embedded text is built from, so it can also
        select texts in `text_filters` (same column names, same placeholders)."""
        self.clauses.append(clause)
        if per_text:
            self.text_clauses.append(clause)

    def sql(self) -> str:
        return " AND ".join(self.clauses) if self.clauses else "TRUE"

    def text_sql(self) -> str | None:
        """The per-text clauses, or None when there are none (every text qualifies)."""
        return " AND ".join(self.text_clauses) if self.text_clauses else None
