"""A tiny builder for parameterised WHERE clauses: values always travel as $n parameters."""

from __future__ import annotations

from typing import Any


class Where:
    def __init__(self, first_param: int = 1) -> None:
        self.clauses: list[str] = []
        self.text_clauses: dict[str, str] = {}  # column -> its clause
        self.params: list[Any] = []
        self._next = first_param

    def param(self, value: Any) -> str:
        """Register a value and return its placeholder."""
        self.params.append(value)
        placeholder = f"${self._next}"
        self._next += 1
        return placeholder

    def add(self, clause: str, *, text_column: str | None = None) -> None:
        """text_column: the clause is on that column, one the embedded text is built from, so it
        can also select texts in `text_filters` (same column names, same placeholders)."""
        self.clauses.append(clause)
        if text_column is not None:
            self.text_clauses[text_column] = clause

    def sql(self) -> str:
        return " AND ".join(self.clauses) if self.clauses else "TRUE"

    def text_sql(self, *, without: str | None = None) -> str | None:
        """The per-text clauses (but the one on column `without`), or None when there are none
        (every text qualifies)."""
        clauses = [clause for column, clause in self.text_clauses.items() if column != without]
        return " AND ".join(clauses) if clauses else None
