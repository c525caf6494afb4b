"""Span keys per table, merged: the same parents as one join over the whole input, and
no answer (the exact path) whenever the keys cannot prove it."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from spanscope.analyzer import engine, span_keys

TRACE_A = "a" * 31 + "1"
TRACE_B = "b" * 31 + "2"


def _sid(number: int) -> str:
    return f"{number:016x}"


def _spans(*rows: tuple[str, int, int | None]) -> pa.Table:
    """(trace, span number, parent number or None) per span."""
    return pa.table(
        {
            "TraceId": [trace for trace, _, _ in rows],
            "SpanId": [_sid(span) for _, span, _ in rows],
            "ParentSpanId": ["" if parent is None else _sid(parent) for _, _, parent in rows],
        }
    )


def _merged(*tables: pa.Table) -> span_keys.MergedKeys | None:
    keys = [span_keys.table_keys(table) for table in tables]
    assert all(found is not None for found in keys)
    return span_keys.merge([found for found in keys if found], pa.concat_tables(tables))


def _joined(*tables: pa.Table) -> list[int]:
    whole = pa.concat_tables(tables)
    parents = engine.parent_rows(
        whole.column("TraceId"), whole.column("SpanId"), whole.column("ParentSpanId")
    )
    return [int(row) for row in parents]


def test_parents_in_other_tables_are_found_as_a_whole_input_join_finds_them() -> None:
    first = _spans((TRACE_A, 1, None), (TRACE_A, 2, 1), (TRACE_B, 7, None))
    # two children of spans read earlier, one child of a span read later
    second = _spans((TRACE_A, 3, 2), (TRACE_A, 4, 2), (TRACE_B, 8, 9))
    third = _spans((TRACE_B, 9, 7))
    merged = _merged(first, second, third)
    assert merged is not None
    assert merged.parent.tolist() == _joined(first, second, third)
    assert merged.parent.tolist() == [-1, 0, -1, 1, 1, 6, 2]


def test_a_parent_id_of_another_trace_is_no_parent() -> None:
    first = _spans((TRACE_A, 1, None))
    second = _spans((TRACE_B, 2, 1))  # span 1 exists, but in trace A: an orphan
    merged = _merged(first, second)
    assert merged is not None
    assert merged.parent.tolist() == [-1, -1]
    assert merged.has_parent.tolist() == [False, True]


def test_a_span_read_twice_leaves_the_decision_to_the_exact_path() -> None:
    first = _spans((TRACE_A, 1, None), (TRACE_A, 2, 1))
    second = _spans((TRACE_A, 2, 1))  # a rotated file repeating a span
    assert _merged(first, second) is None


def test_the_same_span_id_in_two_traces_is_two_spans() -> None:
    first = _spans((TRACE_A, 1, None), (TRACE_A, 2, 1))
    second = _spans((TRACE_B, 1, None), (TRACE_B, 2, 1))
    merged = _merged(first, second)
    assert merged is not None
    assert merged.parent.tolist() == [-1, 0, -1, 2]


def test_ids_that_are_not_hex_of_the_otlp_widths_have_no_keys() -> None:
    short = pa.table({"TraceId": [TRACE_A], "SpanId": ["12ab"], "ParentSpanId": [""]})
    not_hex = pa.table({"TraceId": ["z" * 32], "SpanId": [_sid(1)], "ParentSpanId": [""]})
    assert span_keys.table_keys(short) is None
    assert span_keys.table_keys(not_hex) is None


def test_rows_are_taken_from_the_chunks_that_hold_them_in_the_order_asked() -> None:
    column = pa.chunked_array([["a", "b"], [], ["c"], ["d", "e", "f"]])
    rows = np.array([5, 0, 2, 3, 1, 5], dtype=np.int64)
    assert span_keys.take_rows(column, rows).to_pylist() == ["f", "a", "c", "d", "b", "f"]
    assert span_keys.take_rows(column, np.zeros(0, dtype=np.int64)).to_pylist() == []
