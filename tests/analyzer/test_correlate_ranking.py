"""``correlate``: the planted cause first, shared trends not mistaken for causes, and the
guards (too few buckets, constant series, NaN pairs, many comparisons) that keep it honest."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from spanscope.analyzer.analyses.correlate import (
    SIGNIFICANCE,
    Correlation,
    CorrelationResult,
    InsufficientDataError,
    correlate,
)
from spanscope.analyzer.analyses.series import correlation_series
from spanscope.analyzer.errors import UsageError
from timeseries_fixtures import (
    SHOP_ENDPOINTS,
    EndpointProfile,
    Scenario,
    shop_requests,
    shop_traffic,
)

REPORTS = "GET reports/"
#: Fixed generator seeds keep these statistical tests deterministic.  A truly
#: unrelated series is still called significant now and then (about 1 run in 20 at
#: p < 0.05): seed 1, for one, happens to draw report times whose changes follow
#: the DB spells (r = 0.48), so it is not among these.
SEEDS = (3, 4, 5)
SHOP = Scenario(seed=SEEDS[0])


def find(result: CorrelationResult, kind: str, name: str) -> Correlation:
    return next(row for row in result if row.kind == kind and row.name == name)


@pytest.mark.parametrize("seed", SEEDS)
def test_planted_db_slow_spells_rank_the_db_layer_first(seed: int) -> None:
    result = correlate(shop_requests(Scenario(seed=seed)))
    top = result.results[0]
    assert (top.kind, top.name) == ("layer", "db")
    assert top.r > 0.8 and top.significant


@pytest.mark.parametrize("seed", SEEDS)
def test_trend_only_series_is_not_significant_after_differencing(seed: int) -> None:
    reports = find(correlate(shop_requests(Scenario(seed=seed))), "endpoint_time", REPORTS)
    assert reports.q_value >= SIGNIFICANCE
    assert reports.r_undifferenced is not None and reports.r_undifferenced > 0.6
    assert abs(reports.r) < reports.r_undifferenced - 0.3
    assert reports.note is not None and "shared trend only" in reports.note


def test_without_differencing_the_shared_trend_passes_for_a_correlation() -> None:
    undifferenced = correlate(shop_requests(SHOP), difference=False)
    reports = find(undifferenced, "endpoint_time", REPORTS)
    assert reports.significant
    assert reports.r == pytest.approx(reports.r_undifferenced)
    assert not undifferenced.differenced


def test_results_are_sorted_by_p_value() -> None:
    p_values = [row.p_value for row in correlate(shop_requests(SHOP))]
    assert p_values == sorted(p_values)


def test_q_values_are_benjamini_hochberg_never_below_p_and_monotone() -> None:
    rows = correlate(shop_requests(SHOP)).results
    assert all(row.p_value <= row.q_value <= 1 for row in rows)
    q_values = [row.q_value for row in rows]
    assert q_values == sorted(q_values)
    # The largest p-value needs no correction; none is scaled by more than the number of tests.
    assert rows[-1].q_value == pytest.approx(rows[-1].p_value)
    assert all(row.q_value <= row.p_value * len(rows) for row in rows)


def test_constant_series_is_skipped_with_a_reason_instead_of_r_zero() -> None:
    result = correlate(shop_requests(SHOP))
    assert all(row.name != REPORTS for row in result if row.kind == "endpoint_throughput")
    skipped = {(item.kind, item.name): item.reason for item in result.skipped}
    assert "constant (2 requests in every bucket)" in skipped[("endpoint_throughput", REPORTS)]


def test_layer_without_any_span_is_skipped_as_always_zero() -> None:
    requests = shop_requests(SHOP)
    with_mail = requests.append_column("mail_self_ms", pa.array(np.zeros(requests.num_rows)))
    skipped = {(item.kind, item.name): item.reason for item in correlate(with_mail).skipped}
    assert skipped[("layer", "mail")].startswith("always 0 ms")


def test_too_few_buckets_are_refused_with_a_hint_to_use_a_smaller_interval() -> None:
    short = shop_requests(Scenario(seed=1, minutes=8))
    with pytest.raises(InsufficientDataError) as caught:
        correlate(short, interval="1min")
    message = str(caught.value)
    assert "only 7 differenced points" in message
    assert "hint: use a smaller --interval" in message


def test_the_hinted_smaller_interval_makes_the_same_data_usable() -> None:
    short = shop_requests(Scenario(seed=1, minutes=8))
    assert correlate(short, interval="20s").points == 8 * 3 - 1


def test_empty_buckets_drop_the_differences_that_touch_them() -> None:
    result = correlate(shop_requests(Scenario(seed=1, idle_minutes=frozenset({10, 11}))))
    assert result.buckets == 40 and result.empty_buckets == 2
    # Differences (9,10), (10,11) and (11,12) are undefined: 39 - 3 remain.
    assert result.points == 36
    assert all(row.n <= 36 for row in result)


def test_each_row_reports_its_pairwise_complete_point_count() -> None:
    rare = EndpointProfile("GET", "admin/", per_minute=2.5, app_ms=50, queries=2, query_ms=3)
    requests = shop_requests(Scenario(seed=1, endpoints=(*SHOP_ENDPOINTS, rare)))
    admin = find(correlate(requests), "endpoint_time", "GET admin/")
    starts = requests.filter(pc.equal(requests.column("endpoint"), "GET admin/"))
    minutes = set((starts.column("start").cast(pa.int64()).to_numpy() // 60_000_000_000).tolist())
    # A difference exists where admin/ was served in a minute and in the one before it.
    assert admin.n == sum(1 for m in minutes if m - 1 in minutes)
    assert admin.n < correlate(requests).points


def test_series_with_too_few_paired_points_is_skipped() -> None:
    rare = EndpointProfile("GET", "admin/", per_minute=0.3, app_ms=50, queries=2, query_ms=3)
    result = correlate(shop_requests(Scenario(seed=1, endpoints=(*SHOP_ENDPOINTS, rare))))
    skipped = {(item.kind, item.name): item.reason for item in result.skipped}
    assert "paired point(s) with the target" in skipped[("endpoint_time", "GET admin/")]


def test_an_endpoint_serving_every_request_is_noted_as_the_target_itself() -> None:
    only_books = Scenario(seed=1, endpoints=(SHOP_ENDPOINTS[0],))
    books = find(correlate(shop_requests(only_books)), "endpoint_time", "GET books/")
    assert books.r == pytest.approx(1.0)
    assert books.note is not None and "serves every request" in books.note


def test_a_constant_response_time_cannot_be_correlated() -> None:
    minutes = [datetime(2026, 1, 1, 9, m, tzinfo=timezone.utc) for m in range(20)]
    requests = pa.table(
        {
            "endpoint": ["GET books/"] * 20,
            "start": pa.array(minutes, pa.timestamp("ns", tz="UTC")),
            "duration_ms": [40.0] * 20,
            "db_ms": [float(m % 3) for m in range(20)],
        }
    )
    with pytest.raises(InsufficientDataError, match=r"does not change"):
        correlate(requests)


def test_a_series_table_can_be_correlated_directly() -> None:
    spans = shop_traffic(SHOP)
    assert correlate(correlation_series(spans, "1min")) == correlate(spans)


def test_min_points_below_three_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match=r"at least 3"):
        correlate(shop_requests(SHOP), min_points=2)


def test_results_convert_to_a_dataframe_with_one_row_per_tested_series() -> None:
    result = correlate(shop_requests(SHOP))
    frame = result.to_pandas()
    assert list(frame.columns) == [
        "kind",
        "name",
        "r",
        "p_value",
        "q_value",
        "r_undifferenced",
        "n",
        "note",
    ]
    assert len(frame) == len(result) and frame["p_value"].is_monotonic_increasing


def test_head_keeps_the_best_rows_and_counts_the_rest() -> None:
    result = correlate(shop_requests(SHOP))
    top = result.head(3)
    assert top.results == result.results[:3]
    assert top.omitted == len(result) - 3
