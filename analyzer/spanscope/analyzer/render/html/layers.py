"""Where the time of each endpoint's requests goes: mean ms per request by layer.

Reads, per layer, the request table's ``<layer>_self_ms`` column (the summed self
time of the request's spans of that layer), else its ``<layer>_ms`` column, and
``app_ms`` (the request's own time).  Whatever those columns do not cover is added
to ``other``, so a bar always adds up to the mean request duration -- also on a
request table that only has ``db_ms`` and ``app_ms``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import duckdb
from spanscope.analyzer.render.html.sql import rows
from spanscope.analyzer.render.html.values import ms

#: Stacking order, bottom to top (the remainder joins ``other``).
LAYERS: Final = ("db", "cache", "template", "http", "other", "app")


def layer_columns(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Layer -> the column of the ``requests`` table that holds its time per request."""
    names = {row["column_name"] for row in rows(con, "DESCRIBE requests")}
    found = {}
    for layer in LAYERS:
        for column in (f"{layer}_self_ms", f"{layer}_ms"):
            if column in names:
                found[layer] = column
                break
    return found


def layer_breakdown(con: duckdb.DuckDBPyConnection, endpoints: Sequence[str]) -> dict[str, Any]:
    """``{"layers": [...], "rows": [{"endpoint", "mean_ms", "values": [...]}]}``,
    rows in the order of ``endpoints``, ``values`` parallel to ``layers``."""
    present = layer_columns(con)
    means = ", ".join(f'avg("{column}") AS "{layer}"' for layer, column in present.items())
    known = " + ".join(f'coalesce("{column}", 0)' for column in present.values()) or "0"
    sql = f"""
        SELECT endpoint, avg(duration_ms) AS mean_ms,
            avg(greatest(duration_ms - ({known}), 0)) AS remainder
            {", " + means if means else ""}
        FROM requests
        WHERE endpoint IN (SELECT unnest($endpoints))
        GROUP BY endpoint
    """
    by_endpoint = {row["endpoint"]: row for row in rows(con, sql, {"endpoints": list(endpoints)})}
    layers = sorted({*present, "other"}, key=LAYERS.index)
    result = []
    for endpoint in endpoints:
        row = by_endpoint.get(endpoint)
        if row is None:
            continue
        values = []
        for layer in layers:
            value = row.get(layer) or 0.0
            if layer == "other":
                value += row["remainder"] or 0.0
            values.append(ms(value))
        result.append({"endpoint": endpoint, "mean_ms": ms(row["mean_ms"]), "values": values})
    return {"layers": layers, "rows": result}
