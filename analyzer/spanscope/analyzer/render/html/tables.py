"""The tables every report section queries, registered on one DuckDB connection.

``requests``
    the request table (:mod:`spanscope.analyzer.requests`) plus ``request_id`` and
    ``start_ns``; endpoint labels longer than :data:`ENDPOINT_CHARS` shortened.
``spans``
    the analysed span columns plus ``request_id``, the request that owns each span
    (-1 for none; a server span owns itself).
``statement_spans``
    the spans the statement section reads (its DB spans): ``spans`` itself, or for an
    input analysed a partition at a time, only the columns that section reads.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Final

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as _compute
from spanscope.analyzer.engine import connect
from spanscope.analyzer.render.html.values import clip
from spanscope.analyzer.requests import Prepared

pc: Any = _compute

#: A server span name can be anything; an endpoint label is shortened beyond this.
ENDPOINT_CHARS: Final = 200
#: Columns of the prepared request table that are not part of the public one.
_INTERNAL_REQUEST_COLUMNS: Final = ("request_id", "start_ns")


def endpoint_label(endpoint: str) -> str:
    """The label a report uses for ``endpoint`` (bounded length)."""
    return clip(endpoint, ENDPOINT_CHARS) or ""


def clipped_endpoints(requests: pa.Table) -> pa.Table:
    """``requests`` with each endpoint as the page labels it (:func:`endpoint_label`)."""
    index = requests.schema.get_field_index("endpoint")
    column = requests.column(index)
    too_long = pc.greater(pc.utf8_length(column), ENDPOINT_CHARS)
    if not pc.any(too_long).as_py():
        return requests
    shortened = pc.binary_join_element_wise(
        pc.utf8_slice_codeunits(column, 0, ENDPOINT_CHARS - 1), "\u2026", ""
    )
    return requests.set_column(index, "endpoint", pc.if_else(too_long, shortened, column))


class ReportTables:
    """The connection with both tables, and the public request table (what the
    correlation analysis reads)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, requests: pa.Table) -> None:
        self.con = con
        self.requests = requests.drop_columns(list(_INTERNAL_REQUEST_COLUMNS))


@contextmanager
def report_tables(prepared: Prepared) -> Iterator[ReportTables]:
    """Register both tables of ``prepared`` (the span tree the findings were computed
    on, its requests already keyed into endpoints): the tree is not resolved again."""
    owned = prepared.tree.view.append_column(
        "request_id", pa.array(np.asarray(prepared.tree.request, dtype=np.int64))
    )
    with report_tables_of(prepared.requests, owned, owned) as tables:
        yield tables


@contextmanager
def report_tables_of(
    requests: pa.Table, spans: pa.Table, statement_spans: pa.Table
) -> Iterator[ReportTables]:
    """Register the prepared request table (with ``request_id`` and ``start_ns``),
    the spans the waterfalls are drawn from and the DB spans the statement section
    reads -- every span, or (for an input analysed a partition at a time) only the
    representative requests' spans and the DB spans' statement columns."""
    requests = clipped_endpoints(requests)
    tables = {"requests": requests, "spans": spans, "statement_spans": statement_spans}
    with connect(tables) as con:
        # A progress bar would be drawn on the terminal over the CLI's own output.
        con.execute("SET enable_progress_bar = false")
        yield ReportTables(con, requests)
