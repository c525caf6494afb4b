"""Interval unions and parent lookup: the vectorized kernels under every analysis."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from spanscope.analyzer.engine import covered_per_group, group_summary, parent_rows


def union_by_hand(intervals: list[tuple[int, int]]) -> int:
    covered: set[int] = set()
    for start, end in intervals:
        covered.update(range(start, end))
    return len(covered)


def covered(groups: list[int], intervals: list[tuple[int, int]], count: int) -> list[int]:
    starts = np.array([s for s, _ in intervals], dtype=np.int64)
    ends = np.array([e for _, e in intervals], dtype=np.int64)
    result = covered_per_group(np.array(groups, dtype=np.int64), starts, ends, count)
    return [int(value) for value in result]


def test_overlapping_intervals_count_once_and_gaps_not_at_all() -> None:
    assert covered([0, 0, 0], [(10, 30), (20, 40), (50, 55)], 1) == [35]


def test_a_nested_interval_adds_nothing() -> None:
    assert covered([0, 0], [(0, 100), (10, 20)], 1) == [100]


def test_groups_never_share_coverage_and_empty_groups_are_zero() -> None:
    assert covered([2, 0, 2, 0], [(0, 10), (5, 8), (5, 20), (100, 101)], 4) == [4, 0, 20, 0]


def test_empty_and_inverted_intervals_are_ignored() -> None:
    assert covered([0, 0], [(5, 5), (9, 3)], 1) == [0]


@pytest.mark.parametrize(
    "chunk_extent",
    [None, 2_000.0],  # 2,000: the groups are summed in several chunks (a chunk every few)
    ids=["one chunk", "several chunks"],
)
def test_matches_a_brute_force_union_on_random_groups(
    chunk_extent: float | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from spanscope.analyzer import engine

    if chunk_extent is not None:
        monkeypatch.setattr(engine, "_CHUNK_EXTENT", chunk_extent)
    rng = np.random.default_rng(7)
    groups = rng.integers(0, 30, 2_000)
    starts = rng.integers(0, 1_000, 2_000)
    ends = starts + rng.integers(0, 60, 2_000)
    result = covered_per_group(groups, starts, ends, 30)
    expected = [
        union_by_hand(list(zip(starts[groups == g], ends[groups == g], strict=True)))
        for g in range(30)
    ]
    assert result.tolist() == expected


def test_real_epoch_nanoseconds_and_week_long_groups_stay_exact() -> None:
    epoch = 1_795_310_871_000_000_000
    week = 7 * 24 * 3600 * 10**9
    result = covered(
        [0, 0, 1], [(epoch, epoch + week), (epoch + 5, epoch + 7), (epoch, epoch + 3)], 2
    )
    assert result == [week, 3]


def test_group_summary_wastes_the_union_minus_one_mean_member() -> None:
    summary = group_summary(
        np.array([0, 0, 1, 0], dtype=np.int64),
        np.array([0, 2, 50, 10], dtype=np.int64),
        np.array([4, 6, 60, 14], dtype=np.int64),
    )
    assert summary.size.tolist() == [3, 1]
    assert summary.wasted_ns.tolist() == pytest.approx([10 - 4, 0])
    assert summary.first.tolist() == [0, 2]


@pytest.mark.parametrize("hex_ids", [True, False])
def test_parents_are_found_within_the_same_trace_only(hex_ids: bool) -> None:
    trace_a, trace_b = ("a" * 32, "b" * 32) if hex_ids else ("trace-a", "trace-b")
    one, two = ("1" * 16, "2" * 16) if hex_ids else ("one", "two")
    traces = pa.array([trace_a, trace_a, trace_b, trace_b])
    spans = pa.array([one, two, two, one])
    parents = pa.array(["", one, one, "f" * 16])
    assert parent_rows(traces, spans, parents).tolist() == [-1, 0, 3, -1]


def test_upper_case_or_odd_length_ids_take_the_exact_path() -> None:
    traces = pa.array(["A" * 32, "A" * 32])
    spans = pa.array(["X1", "0123456789abcdef"])
    parents = pa.array(["", "X1"])
    assert parent_rows(traces, spans, parents).tolist() == [-1, 0]


def test_null_ids_are_roots_and_match_nothing() -> None:
    traces = pa.chunked_array([pa.array(["t", "t", None])])
    spans = pa.chunked_array([pa.array(["a", "b", "c"])])
    parents = pa.chunked_array([pa.array([None, "a", "a"])])
    assert parent_rows(traces, spans, parents).tolist() == [-1, 0, -1]


def test_the_union_leaves_the_callers_arrays_as_they_were() -> None:
    rng = np.random.default_rng(11)
    groups = rng.integers(0, 20, 500)
    starts = rng.integers(0, 1_000, 500)
    ends = starts + rng.integers(-5, 60, 500)
    copies = [array.copy() for array in (groups, starts, ends)]
    covered_per_group(groups, starts, ends, 20)
    for array, copy in zip((groups, starts, ends), copies, strict=True):
        assert np.array_equal(array, copy)
