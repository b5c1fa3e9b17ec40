"""Rows for a warehouse table kept until a feedback file is decided, then inserted by one statement.

A statement per row costs DuckDB ≈ 1 ms; the rows of ``feedback_events`` and ``feedback_rows``
are kept and inserted at once (while a file applies, only
:meth:`.run.FileRun.receipt_reported` reads ``feedback_events``, and looks in the rows kept too).  The columns and their
types are the table's own, read from the warehouse's ``information_schema`` (as
sql/warehouse/schema_feedback.sql created it): a row is added by column name, and a column added
to the schema without its value here fails on the first row, not silently.
"""

from __future__ import annotations

from .queries import sql


class Buffer:
    """The rows of one table (``filled``: columns given by an SQL expression, e.g. ``now()``)."""

    def __init__(self, con, table: str, filled: dict[str, str] | None = None):
        filled = filled or {"recorded_at": "now()"}
        columns = con.execute(sql("insert_buffer", "columns"), {"table": table}).fetchall()
        if not columns:
            raise LookupError(f"no table {table} in the warehouse (ensure_schema first)")
        self.table = table
        self.names = tuple(c for c, _ in columns if c not in filled)  # the values a row gives, in order
        self._insert = sql("insert_buffer", "insert", table=table, columns=columns, filled=filled)
        self.rows: list[tuple] = []

    def add(self, **values) -> None:
        """One row, every column of :attr:`names` by name (no other)."""
        if len(values) != len(self.names):
            raise TypeError(f"{self.table}: columns {sorted(set(values) ^ set(self.names))} given or missing")
        self.rows.append(tuple(values[c] for c in self.names))

    def change(self, i: int, **values) -> None:
        """Change some columns of the ``i``-th row added (not inserted yet)."""
        if set(values) - set(self.names):
            raise TypeError(f"{self.table}: no columns {sorted(set(values) - set(self.names))}")
        self.rows[i] = tuple(values.get(c, v) for c, v in zip(self.names, self.rows[i]))

    def insert(self, con) -> None:
        """One INSERT: each column a list parameter, unnested side by side (row order kept)."""
        if not self.rows:
            return
        con.execute(self._insert, dict(zip(self.names, map(list, zip(*self.rows)))))
        self.rows = []
