"""What ``analyze`` starts from: the span tree, the request table and the DB statements
of its input, with the input's statistics and diagnostics.

Three ways to get there, chosen per input:

* one Parquet file written by ``spanscope convert`` with a current prepared marker
  (:mod:`spanscope.analyzer.prepared_format`) and no HTTP client spans: only its
  rollups are read (:mod:`.rollups`) -- a few short tables instead of the spans;
* such a file with HTTP client spans: read straight from its span-level prepared
  columns (:mod:`.prepared_read`);
* anything else -- dumps of any format, several files that may overlap, ClickHouse
  exports, older or partitioned Parquet: read, deduplicated and checked
  (:func:`spanscope.analyzer.load.read`), then prepared and templated here.  The
  parent rows the span-tree check found while reading are reused, not looked up again.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc
from spanscope.analyzer.analyses.grouping import DEFAULT_GROUP_BY
from spanscope.analyzer.analyses.inputs import LoadedSpans, SpansOrPaths, path_list, spans_or_spill
from spanscope.analyzer.analyses.rollups import Rollups
from spanscope.analyzer.analyses.statement_keys import StatementKeys
from spanscope.analyzer.analyses.statements import DbSpans, db_spans
from spanscope.analyzer.diagnostics import Diagnostics
from spanscope.analyzer.errors import SpanscopeError
from spanscope.analyzer.prepared_format import Marker, read_marker
from spanscope.analyzer.requests import Prepared, prepare

if TYPE_CHECKING:
    from spanscope.analyzer.load import PartitionedRead

_PARQUET_MAGIC = b"PAR1"


@dataclass(frozen=True)
class RollupInput:
    """A prepared file's rollups, with its statistics and diagnostics."""

    rollups: Rollups
    files: list[str]
    spans: int
    traces: int
    diagnostics: Diagnostics


@dataclass(frozen=True)
class AnalysisInput:
    prepared: Prepared
    statements: DbSpans
    files: list[str]
    spans: int
    traces: int  # distinct trace ids
    diagnostics: Diagnostics
    # The statements' group keys, when the file stored them.
    keys: StatementKeys | None = None


@dataclass(frozen=True)
class SpilledInput:
    """An input too large for memory, spilled to disk by trace: analysed a partition
    at a time (:mod:`.partitioned`).  Close :attr:`read` when done."""

    read: PartitionedRead
    memory_spans: int  # the limit it was spilled under: the size of its partitions


def analysis_input(
    source: SpansOrPaths,
    *,
    input_format: str | None = None,
    strict: bool = False,
    group_by: str = DEFAULT_GROUP_BY,
    rollups: bool = True,
    memory_spans: int | None = None,
) -> AnalysisInput | RollupInput | SpilledInput:
    """The prepared input of ``source``; endpoints keyed by ``group_by`` other than
    route need the URL columns in the span view even when no analysis would otherwise
    read them; ``rollups=False`` never answers with a file's rollups.  Dumps of more
    than ``memory_spans`` spans are spilled (None: always read into memory)."""
    http_columns = group_by != DEFAULT_GROUP_BY
    found = prepared_file(source, input_format)
    if found is not None and rollups and not found[1].http_spans:
        # Imported here: the other paths never need it.
        from spanscope.analyzer.analyses.rollup_report import read_rollups

        path, marker = found
        return RollupInput(
            rollups=read_rollups(path, marker, group_by),
            files=[path],
            spans=marker.rows,
            traces=marker.traces,
            diagnostics=marker.diagnostics(path, strict=strict),
        )
    if found is not None:
        # Imported here: the general path never needs it.
        from spanscope.analyzer.analyses.prepared_read import read_prepared

        path, marker = found
        read = read_prepared(path, marker, strict=strict, http_columns=http_columns)
        return AnalysisInput(
            prepared=Prepared(read.tree, read.requests),
            statements=read.statements,
            files=[path],
            spans=marker.rows,
            traces=marker.traces,
            diagnostics=read.diagnostics,
            keys=read.keys,
        )
    loaded = spans_or_spill(
        source, input_format=input_format, strict=strict, memory_spans=memory_spans
    )
    if not isinstance(loaded, LoadedSpans):
        assert memory_spans is not None  # only a limited read spills
        return SpilledInput(loaded, memory_spans)
    spans = loaded.table
    # Counting distinct trace ids (~0.1 s per 1.6 M spans, a hash of every id in Arrow,
    # which releases the GIL) runs on the other core while the tree is prepared.
    with ThreadPoolExecutor(max_workers=1) as pool:
        traces = pool.submit(_distinct_traces, spans)
        prepared = prepare(spans, loaded.parent)
        statements = db_spans(prepared)
        return AnalysisInput(
            prepared=prepared,
            statements=statements,
            files=loaded.files,
            spans=spans.num_rows,
            traces=traces.result(),
            diagnostics=loaded.diagnostics,
        )


def _distinct_traces(spans: pa.Table) -> int:
    return int(pc.count_distinct(spans.column("TraceId")).as_py()) if spans.num_rows else 0


def prepared_file(source: SpansOrPaths, input_format: str | None) -> tuple[str, Marker] | None:
    """``(path, marker)`` when ``source`` is exactly one prepared Parquet file whose
    marker is current; None sends it down the general path (which also reports any
    problem with the paths)."""
    if isinstance(source, pa.Table) or input_format not in (None, "parquet"):
        return None
    from spanscope.analyzer import paths as input_paths

    try:
        files = input_paths.expand(path_list(source))
        if len(files) != 1:
            return None
        with open(files[0].path, "rb") as handle:
            if handle.read(len(_PARQUET_MAGIC)) != _PARQUET_MAGIC:
                return None
    except (SpanscopeError, OSError):
        return None
    marker = read_marker(files[0].path)
    return None if marker is None else (files[0].path, marker)
