"""Running the report's queries on the prepared DuckDB connection."""

from __future__ import annotations

from typing import Any

import duckdb


def rows(
    con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """The result rows as dicts (through Arrow, which DuckDB hands over without copying)."""
    result: list[dict[str, Any]] = con.sql(sql, params=params).to_arrow_table().to_pylist()
    return result
