"""Read a prepared Parquet file (:mod:`spanscope.analyzer.prepared_format`) straight into
what the analyses start from: the span tree, the request table and the DB statements.

Only integer columns and a few dictionary-encoded ones are decoded; the ids, the SQL
texts and the attribute maps are never read (the example trace of a finding comes
from the request table, which carries its Server span's ids).  The HTTP columns are
read only when the file holds HTTP client spans or the endpoints are keyed by URL or
span name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as _compute
import pyarrow.parquet as pq
from spanscope.analyzer.analyses.statement_keys import (
    SITE_COLUMNS,
    StatementKeys,
    StatementSites,
)
from spanscope.analyzer.analyses.statements import DbSpans
from spanscope.analyzer.diagnostics import Diagnostics
from spanscope.analyzer.engine import Int64s, to_numpy
from spanscope.analyzer.enrich import (
    ANALYSIS_ATTRIBUTES,
    ANALYSIS_SCHEMA,
    DICTIONARY_COLUMNS,
    keep_keys,
)
from spanscope.analyzer.errors import UnreadableInputError
from spanscope.analyzer.prepared_format import REQUEST_FIELDS, SITE_PREFIX, SPAN_FIELDS, Marker
from spanscope.analyzer.requests import ServerColumns, SpanTree, build_requests
from spanscope.analyzer.schema import SPAN_SCHEMA

pc: Any = _compute

#: Canonical columns the analyses still read from the view (the code locations and ORM
#: relations come from the stored sites instead).
_VIEW_COLUMNS: Final = ("SpanName", "Duration")
#: Canonical columns the request table takes from the Server spans.
_SERVER_COLUMNS: Final = ("StatusCode", "http_status_code")
#: Read as well for HTTP client spans (their URL) and endpoints keyed by URL or name.
_HTTP_COLUMNS: Final = ("http_method", "http_target")
#: Columns the view holds as nulls: what they served is stored in a prepared column.
_NULL_COLUMNS: Final = ("db_params_hash",)


@dataclass(frozen=True)
class PreparedFile:
    """A prepared file read for analysis."""

    tree: SpanTree
    requests: pa.Table  # as :attr:`spanscope.analyzer.requests.Prepared.requests`
    statements: DbSpans
    keys: StatementKeys  # of ``statements``
    diagnostics: Diagnostics


def read_prepared(
    path: str, marker: Marker, *, strict: bool = False, http_columns: bool = False
) -> PreparedFile:
    """The prepared file at ``path`` (whose current marker is ``marker``).

    ``http_columns``: also read the URL columns (``http_method``, ``http_target``),
    which keying endpoints by URL or span name needs.
    """
    http = http_columns or marker.http_spans > 0
    table = _read(path, marker, http)
    layer = to_numpy(table.column("spanscope_layer"), np.int8)
    is_server = layer == 0
    request = _ints(table, "spanscope_request", -1)
    tree = SpanTree(
        view=_view(table, http, marker.http_spans > 0),
        parent=_ints(table, "spanscope_parent", -1),
        request=request,
        start=_ints(table, "spanscope_start", 0),
        end=_ints(table, "spanscope_end", 0),
        self_ns=_ints(table, "spanscope_self_ns", 0),
        is_server=is_server,
        layer=layer,
    )
    statements, keys = _statements(path, table)
    diagnostics = marker.diagnostics(path, strict=strict)
    return PreparedFile(tree, _requests(table, tree), statements, keys, diagnostics)


def _read(path: str, marker: Marker, http: bool) -> pa.Table:
    columns = [
        *SPAN_FIELDS.names,
        *REQUEST_FIELDS.names,
        *_SERVER_COLUMNS,
        *_VIEW_COLUMNS,
        *(_HTTP_COLUMNS if http else ()),
        *(("SpanAttributes",) if marker.http_spans else ()),
    ]
    try:
        parquet = pq.ParquetFile(path, read_dictionary=[*DICTIONARY_COLUMNS, "SpanName"])
        return parquet.read(columns=columns, use_threads=True)
    except (pa.ArrowException, OSError) as err:
        raise UnreadableInputError(
            f"{path}: damaged Parquet file ({err})", "re-create it with `spanscope convert`"
        ) from None


def _ints(table: pa.Table, name: str, null: int) -> Int64s:
    column = table.column(name)
    if column.null_count:
        column = pc.fill_null(column, null)
    result: Int64s = to_numpy(column, np.int64)
    return result


def _view(table: pa.Table, http: bool, urls: bool) -> pa.Table:
    """The canonical columns the analyses read, typed as a read for analysis types them."""
    columns: dict[str, Any] = {}
    for name in (*_VIEW_COLUMNS, *(_HTTP_COLUMNS if http else ())):
        column = table.column(name)
        if name == "SpanName":
            # Decoded as a dictionary (cheap); expanded only where the HTTP analyses or
            # the endpoint keys need plain strings.
            columns[name] = column.cast(pa.string()) if http else column
        else:
            columns[name] = column.cast(ANALYSIS_SCHEMA.field(name).type)
    if urls:
        maps = table.column("SpanAttributes")
        columns["SpanAttributes"] = pa.chunked_array(
            [keep_keys(chunk, ANALYSIS_ATTRIBUTES) for chunk in maps.chunks], maps.type
        )
    for name in _NULL_COLUMNS:
        columns[name] = pa.nulls(table.num_rows, SPAN_SCHEMA.field(name).type)
    return pa.table(columns)


def _requests(table: pa.Table, tree: SpanTree) -> pa.Table:
    """The request table, from the columns each Server span carries.

    Server spans are picked with a mask, which Arrow applies chunk by chunk (a
    ``take`` would first join the chunks of every million-row column), then put in
    request order.
    """
    servers = np.flatnonzero(tree.is_server)
    order = np.empty(len(servers), dtype=np.int64)
    order[tree.request[servers]] = servers  # a Server span's request index is its rank
    # the position among the Server spans (row order) of each request's span
    ranked: Any = pa.array(np.argsort(tree.request[servers], kind="stable"))
    mask = pa.array(tree.is_server)

    def of_servers(name: str) -> Any:
        return table.column(name).filter(mask).combine_chunks().take(ranked)

    found = ServerColumns(
        trace_id=of_servers("spanscope_req_trace_id"),
        span_id=of_servers("spanscope_req_span_id"),
        endpoint=of_servers("spanscope_req_endpoint"),
        http_status_code=of_servers("http_status_code"),
        status_code=of_servers("StatusCode"),
        db_ns=to_numpy(of_servers("spanscope_req_db_ns"), np.int64),
    )
    return build_requests(tree, order, found)


def _statements(path: str, table: pa.Table) -> tuple[DbSpans, StatementKeys]:
    column = table.column("spanscope_template")
    rows = np.flatnonzero(to_numpy(pc.is_valid(column), np.bool_))

    def on_statements(name: str) -> Any:
        """A statement-span column's values, aligned with ``rows`` (its nulls dropped)."""
        values = to_numpy(
            pc.drop_null(table.column(name)), table.schema.field(name).type.to_pandas_dtype()
        )
        if len(values) != len(rows):
            raise UnreadableInputError(
                f"{path}: prepared column {name} does not match the statement spans",
                "re-create the file with `spanscope convert`",
            )
        return values

    template = on_statements("spanscope_template").astype(np.int64)
    # Each template's text sits on its first span; template ids are 0..n-1.
    texts = table.column("spanscope_template_text")
    firsts = np.flatnonzero(to_numpy(pc.is_valid(texts), np.bool_))
    template_of_row = np.full(table.num_rows, -1, dtype=np.int64)
    template_of_row[rows] = template
    in_row_order = pc.drop_null(texts).to_pylist()
    templates = [str(in_row_order[i]) for i in np.argsort(template_of_row[firsts]).tolist()]
    statement = on_statements("spanscope_statement").astype(np.int64)
    parameterized = np.zeros(int(statement.max()) + 1 if rows.size else 0, dtype=np.bool_)
    parameterized[statement] = on_statements("spanscope_parameterized")
    keys = StatementKeys(
        parent_template=on_statements("spanscope_parent_template_key").astype(np.int64),
        request_template=on_statements("spanscope_request_template_key").astype(np.int64),
        duplicate=on_statements("spanscope_duplicate_key").astype(np.int64),
        sites=_sites(table, on_statements("spanscope_site").astype(np.int64), rows),
    )
    return DbSpans(rows, template, templates, statement, parameterized), keys


def _sites(table: pa.Table, site: Int64s, rows: Int64s) -> StatementSites:
    """The statement spans' sites: ids are numbered in order of first appearance, so a
    site's values sit where its id first exceeds every id before it."""
    if not rows.size:
        empty = pa.table(
            {name: table.column(SITE_PREFIX + name).slice(0, 0) for name in SITE_COLUMNS}
        )
        return StatementSites(site, empty)
    seen = np.maximum.accumulate(site)
    first = np.flatnonzero(np.r_[True, site[1:] > seen[:-1]])
    # The first rows ascend with the site ids: a mask keeps them in id order.
    mask = np.zeros(table.num_rows, dtype=np.bool_)
    mask[rows[first]] = True
    picked = pa.array(mask)
    values = {
        name: table.column(SITE_PREFIX + name)
        .filter(picked)
        .combine_chunks()
        .cast(ANALYSIS_SCHEMA.field(name).type)
        for name in SITE_COLUMNS
    }
    return StatementSites(site, pa.table(values))
