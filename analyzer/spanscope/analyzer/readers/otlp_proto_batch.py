"""A batch of OTLP protobuf ``TracesData`` messages -> span tables, without a per-span loop.

1. the messages are decoded together into Arrow columns (:mod:`.otlp_proto_view`);
2. relabelled into the OTLP JSON parse layout (:mod:`.otlp_proto_layout`) and flattened,
   validated and derived by the same vectorized code as JSON lines (:mod:`.otlp_flatten`);
3. every message that path cannot take exactly -- one that fails to decode, one with an
   invalid span, one with bytes, array or key-value-list attribute values -- goes to the
   reference reader (:mod:`.otlp_proto`), which converts what it can and reports the
   rest at the message's number.  A batch that fails to decode is bisected, so a damaged
   message costs a few re-decodes of its neighbours, not the batch at Python speed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import pyarrow as pa
from spanscope.analyzer.diagnostics import Diagnostics
from spanscope.analyzer.enrich import ANALYSIS_SCHEMA, for_analysis
from spanscope.analyzer.readers import otlp_proto
from spanscope.analyzer.readers.otlp_flatten import flatten
from spanscope.analyzer.readers.otlp_proto_layout import as_parsed
from spanscope.analyzer.readers.otlp_proto_view import decode
from spanscope.analyzer.readers.rows import SpanRows
from spanscope.analyzer.schema import BASE_SCHEMA

# After this many failed decodes in one batch, the rest of it goes to the reference
# reader directly: a batch that is damaged everywhere is not worth bisecting.
_MAX_FAILED_DECODES: Final = 24


def read_messages(
    records: Sequence[int],
    payloads: Sequence[bytes],
    path: str,
    diagnostics: Diagnostics,
    *,
    analysis: bool = False,
) -> pa.Table:
    """Every valid span of ``payloads`` (message ``i`` is record ``records[i]`` of
    ``path``), as a BASE_SCHEMA table, or ANALYSIS_SCHEMA with ``analysis``."""
    outcome = _Outcome()
    _decode_run(payloads, 0, len(payloads), outcome, analysis)
    tables = outcome.fast
    if outcome.slow:
        rows = SpanRows()
        for index in sorted(set(outcome.slow)):  # in file order: problems come sorted
            otlp_proto.add_traces_data(payloads[index], rows, diagnostics, path, records[index])
        slow = rows.to_table()
        tables.append(for_analysis(slow) if analysis else slow)
    if not tables:
        return (ANALYSIS_SCHEMA if analysis else BASE_SCHEMA).empty_table()
    return pa.concat_tables(tables)


@dataclass
class _Outcome:
    fast: list[pa.Table] = field(default_factory=list)
    slow: list[int] = field(default_factory=list)  # message indices for the reference reader
    failed_decodes: int = 0


def _decode_run(
    payloads: Sequence[bytes], lo: int, hi: int, outcome: _Outcome, analysis: bool
) -> None:
    """Messages lo..hi-1 decoded together; bisected on failure."""
    if lo == hi:
        return
    if outcome.failed_decodes >= _MAX_FAILED_DECODES:
        outcome.slow.extend(range(lo, hi))
        return
    try:
        resource_spans = decode(payloads[lo:hi], analysis=analysis)
    except ValueError:  # what ptars raises for any wire-format problem
        outcome.failed_decodes += 1
        if hi - lo == 1:
            outcome.slow.append(lo)  # the reference reader words the problem
            return
        middle = (lo + hi) // 2
        _decode_run(payloads, lo, middle, outcome, analysis)
        _decode_run(payloads, middle, hi, outcome, analysis)
        return
    table, span_rows, redo = flatten(
        as_parsed(resource_spans, analysis=analysis), analysis=analysis
    )
    if len(redo):
        table = table.filter(pa.array(~np.isin(span_rows, redo)))
        outcome.slow.extend(int(row) + lo for row in redo)
    if table.num_rows:
        outcome.fast.append(table)
