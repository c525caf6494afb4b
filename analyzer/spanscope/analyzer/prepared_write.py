"""Compute the prepared columns and the rollups of a span table (see
:mod:`.prepared_format`).

Every value comes from the very functions ``analyze`` runs on a span table
(:func:`~spanscope.analyzer.requests.prepare`, :func:`~.analyses.statements.db_spans`,
:func:`~.analyses.statement_keys.statement_keys`, the span-tree check, and for the
rollups :func:`~.analyses.rollups.build_rollups`), so a prepared file cannot analyse
differently from its source.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
from spanscope.analyzer.analyses.rollups import build_rollups
from spanscope.analyzer.analyses.statement_keys import (
    SITE_COLUMNS,
    StatementKeys,
    StatementSites,
    statement_keys,
    statement_sites,
)
from spanscope.analyzer.analyses.statements import DbSpans, db_spans
from spanscope.analyzer.diagnostics import Diagnostics
from spanscope.analyzer.engine import Int64s, first_of_each
from spanscope.analyzer.prepared_format import (
    MARKER_KEY,
    PREPARED_VERSION,
    REQUEST_FIELDS,
    SITE_PREFIX,
    SPAN_FIELDS,
    Marker,
    rollup_layouts,
    spread_rollups,
)
from spanscope.analyzer.readers.span_tree import check_span_tree
from spanscope.analyzer.requests import LAYER_CODE, Prepared, prepare, server_columns


def with_prepared_columns(table: pa.Table, parent: Int64s | None = None) -> pa.Table:
    """``table`` (a deduplicated SPAN_SCHEMA table, parent cycles broken, as
    :func:`~spanscope.analyzer.load.read` returns it) plus the prepared columns, the
    rollups and the marker; ``parent`` is :attr:`~spanscope.analyzer.load.LoadResult.parent`.

    The rollups sit on the first :attr:`Marker.leading_rows` rows, which the writer
    must put in a row group of their own (:func:`~spanscope.analyzer.convert.write_prepared`).
    """
    prepared = prepare(table, parent)
    tree = prepared.tree
    statements = db_spans(prepared)
    keys = statement_keys(prepared, statements)
    sites = statement_sites(prepared, statements)
    columns = _span_columns(prepared, statements, keys, sites)
    rollups = build_rollups(prepared, statements, keys, sites).tables()
    columns.update(spread_rollups(rollups, table.num_rows))
    # Each Server span carries what its request's row needs beyond the span columns.
    servers = np.flatnonzero(tree.is_server)
    order = np.empty(len(servers), dtype=np.int64)
    order[tree.request[servers]] = servers
    found = server_columns(tree, order)
    request_of_row = np.where(tree.is_server, tree.request, -1)
    picks: Any = pa.array(request_of_row, mask=request_of_row < 0)  # stubs: not booleans
    stored = (found.trace_id, found.span_id, found.endpoint, pa.array(found.db_ns, pa.int64()))
    for field, values in zip(REQUEST_FIELDS, stored, strict=True):
        columns[field.name] = pc.take(values, picks).cast(field.type)
    marker = Marker(
        version=PREPARED_VERSION,
        rows=table.num_rows,
        traces=int(pc.count_distinct(table.column("TraceId")).as_py()) if table.num_rows else 0,
        http_spans=int(np.count_nonzero((tree.layer == LAYER_CODE["http"]) & (tree.request >= 0))),
        notes=_tree_notes(table, tree.parent),
        rollups=rollup_layouts(rollups),
    )
    for name, column in columns.items():
        table = table.append_column(name, column)
    metadata = dict(table.schema.metadata or {})
    metadata[MARKER_KEY] = marker.encode()
    return table.replace_schema_metadata(metadata)


def _span_columns(
    prepared: Prepared, statements: DbSpans, keys: StatementKeys, sites: StatementSites
) -> dict[str, Any]:
    tree = prepared.tree
    n = len(tree.parent)
    rows = statements.rows

    def on_statements(values: npt.NDArray[Any], name: str) -> pa.Array[Any]:
        """``values`` (aligned with the DB spans) spread over the table, null elsewhere."""
        full = np.zeros(n, dtype=values.dtype)
        full[rows] = values
        missing = np.ones(n, dtype=np.bool_)
        missing[rows] = False
        result: pa.Array[Any] = pa.array(full, SPAN_FIELDS.field(name).type, mask=missing)
        return result

    template_count = len(statements.templates)
    first = rows[first_of_each(statements.template, template_count)] if template_count else rows
    text_of_row = np.full(n, -1, dtype=np.int64)
    text_of_row[first] = np.arange(template_count)
    text_picks: Any = pa.array(text_of_row, mask=text_of_row < 0)
    texts = pa.array(statements.templates, pa.string()).take(text_picks)
    site_first = rows[first_of_each(sites.site, sites.sites.num_rows)] if len(rows) else rows
    site_of_row = np.full(n, -1, dtype=np.int64)
    site_of_row[site_first] = np.arange(len(site_first))
    site_picks: Any = pa.array(site_of_row, mask=site_of_row < 0)
    site_values = {
        SITE_PREFIX + name: sites.sites.column(name).take(site_picks).cast(pa.string())
        if name != "code_lineno"
        else sites.sites.column(name).take(site_picks)
        for name in SITE_COLUMNS
    }
    return {
        "spanscope_site": on_statements(sites.site, "spanscope_site"),
        **site_values,
        "spanscope_parent": pa.array(tree.parent, pa.int32()),
        "spanscope_request": pa.array(tree.request, pa.int32()),
        "spanscope_layer": pa.array(tree.layer, pa.int8()),
        "spanscope_start": pa.array(tree.start, pa.int64()),
        "spanscope_end": pa.array(tree.end, pa.int64()),
        "spanscope_self_ns": pa.array(tree.self_ns, pa.int64()),
        "spanscope_template": on_statements(statements.template, "spanscope_template"),
        "spanscope_template_text": texts,
        "spanscope_statement": on_statements(statements.statement, "spanscope_statement"),
        "spanscope_parameterized": on_statements(
            statements.parameterized[statements.statement], "spanscope_parameterized"
        ),
        **{
            f"spanscope_{name}_key": on_statements(getattr(keys, name), f"spanscope_{name}_key")
            for name in ("parent_template", "request_template", "duplicate")
        },
    }


def _tree_notes(table: pa.Table, parent: Int64s) -> tuple[dict[str, str], ...]:
    """What the span-tree check notes when this table is read back (its file named at
    analysis time)."""
    diagnostics = Diagnostics()
    check_span_tree(table, diagnostics, parent=parent)
    return tuple(
        {"kind": p.kind, "message": p.message, "hint": p.hint} for p in diagnostics.problems
    )
