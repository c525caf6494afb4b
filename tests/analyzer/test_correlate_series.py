"""``correlation_series``: requests bucketed by start time into the series ``correlate`` compares."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from spanscope.analyzer.analyses.correlate import correlate
from spanscope.analyzer.analyses.series import (
    BUCKET_COLUMN,
    TARGET_COLUMN,
    correlation_series,
    interval_of,
    layer_columns,
    parse_interval,
)
from spanscope.analyzer.errors import UsageError
from spanscope.analyzer.requests import request_table
from timeseries_fixtures import (
    SHOP_ENDPOINTS,
    EndpointProfile,
    Scenario,
    shop_requests,
    shop_traffic,
    write_dump,
)

SHOP = Scenario(seed=1)
MINUTE_NS = 60_000_000_000


def column(series: pa.Table, name: str) -> np.ndarray:
    return series.column(name).to_numpy()


def minutes_of(requests: pa.Table, endpoint: str | None = None) -> np.ndarray:
    """The whole UTC minute each request started in (the 1min bucket, computed here)."""
    if endpoint is not None:
        requests = requests.filter(pc.equal(requests.column("endpoint"), endpoint))
    start_ns = requests.column("start").cast(pa.int64()).to_numpy()
    return start_ns // MINUTE_NS


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("1min", 60), ("5m", 300), ("1h", 3600), ("500ms", 0.5), ("2 minutes", 120)],
)
def test_interval_spellings_of_the_command_line_are_understood(text: str, seconds: float) -> None:
    assert parse_interval(text) == round(seconds * 1e9)


def test_interval_may_be_a_number_of_seconds_or_a_timedelta() -> None:
    assert parse_interval(90) == parse_interval(timedelta(seconds=90)) == parse_interval("90s")


@pytest.mark.parametrize("text", ["", "fast", "5 fortnights", "0s", "-1min"])
def test_unreadable_or_empty_interval_is_a_usage_error_with_a_hint(text: str) -> None:
    with pytest.raises(UsageError, match=r"hint: "):
        parse_interval(text)


def test_one_row_per_bucket_from_the_first_request_to_the_last() -> None:
    requests = shop_requests(SHOP)
    series = correlation_series(requests, "1min")
    minutes = minutes_of(requests)
    assert series.num_rows == minutes.max() - minutes.min() + 1 == SHOP.minutes
    buckets = series.column(BUCKET_COLUMN).cast(pa.int64()).to_numpy()
    assert buckets[0] == minutes.min() * MINUTE_NS
    assert set(np.diff(buckets)) == {MINUTE_NS}
    assert interval_of(series) == MINUTE_NS


def test_target_is_the_mean_duration_of_the_requests_started_in_the_bucket() -> None:
    requests = shop_requests(SHOP)
    series = correlation_series(requests, "1min")
    minutes = minutes_of(requests)
    durations = requests.column("duration_ms").to_numpy()
    expected = [durations[minutes == m].mean() for m in range(minutes.min(), minutes.max() + 1)]
    np.testing.assert_allclose(column(series, TARGET_COLUMN), expected)


def test_throughput_counts_each_endpoints_requests_per_bucket() -> None:
    requests = shop_requests(SHOP)
    series = correlation_series(requests, "1min")
    minutes = minutes_of(requests, "GET books/")
    first = minutes_of(requests).min()
    expected = np.bincount(minutes - first, minlength=series.num_rows)
    np.testing.assert_array_equal(column(series, "endpoint_throughput:GET books/"), expected)


def test_layer_series_exist_for_every_layer_column_of_the_request_table() -> None:
    requests = shop_requests(SHOP)
    series = correlation_series(requests)
    layers = [name for name, _ in layer_columns(requests)]
    assert {"app", "db"} <= set(layers)
    assert [f"layer:{name}" for name in layers] == [
        name for name in series.column_names if name.startswith("layer:")
    ]


def test_a_new_layer_column_becomes_a_series_without_a_code_change() -> None:
    requests = shop_requests(SHOP)
    searched = requests.append_column("search_self_ms", pa.array(np.full(requests.num_rows, 2.5)))
    series = correlation_series(searched)
    assert np.allclose(column(series, "layer:search"), 2.5)


def test_self_time_column_is_preferred_over_the_union_column_of_the_same_layer() -> None:
    table = pa.table({"duration_ms": [1.0], "db_ms": [1.0], "db_self_ms": [1.0], "app_ms": [1.0]})
    assert dict(layer_columns(table)) == {"db": "db_self_ms", "app": "app_ms"}


def test_empty_bucket_keeps_its_row_with_undefined_means_and_zero_throughput() -> None:
    series = correlation_series(shop_traffic(Scenario(seed=1, idle_minutes=frozenset({10, 11}))))
    assert series.num_rows == 40
    target = column(series, TARGET_COLUMN)
    assert np.isnan(target[[10, 11]]).all() and np.isfinite(np.delete(target, [10, 11])).all()
    assert np.isnan(column(series, "layer:db")[10])
    assert column(series, "endpoint_throughput:GET books/")[10] == 0


def test_endpoint_time_is_nan_in_buckets_without_that_endpoint() -> None:
    rare = EndpointProfile("GET", "admin/", per_minute=0.5, app_ms=50, queries=2, query_ms=3)
    spans = shop_traffic(Scenario(seed=1, endpoints=(*SHOP_ENDPOINTS, rare)))
    requests = request_table(spans)
    series = correlation_series(requests)
    present = set(minutes_of(requests, "GET admin/") - minutes_of(requests).min())
    times = column(series, "endpoint_time:GET admin/")
    assert {int(i) for i in np.flatnonzero(np.isfinite(times))} == present
    assert 0 < len(present) < series.num_rows


def test_span_table_request_table_and_dump_files_give_the_same_series(tmp_path: Path) -> None:
    spans = shop_traffic(SHOP)
    from_spans = correlation_series(spans)
    dump = write_dump(spans, tmp_path / "traces.parquet")
    for other in (correlation_series(request_table(spans)), correlation_series(str(dump))):
        assert other.column_names == from_spans.column_names
        assert other.column(BUCKET_COLUMN).equals(from_spans.column(BUCKET_COLUMN))
        for name in from_spans.column_names[1:]:  # NaN == NaN here, unlike Table.equals
            np.testing.assert_array_equal(column(other, name), column(from_spans, name))


def test_the_articles_notebook_is_three_lines_of_pandas() -> None:
    spans = shop_traffic(SHOP)
    series = correlation_series(spans)
    matrix = series.to_pandas().diff().corr()

    assert str(matrix.index[0]) == TARGET_COLUMN  # the bucket is the index, not a series
    ranked = correlate(spans)
    db = next(row for row in ranked if row.kind == "layer" and row.name == "db")
    assert matrix.loc["layer:db", TARGET_COLUMN] == pytest.approx(db.r)


def test_a_too_small_interval_for_the_time_covered_is_refused() -> None:
    with pytest.raises(UsageError, match=r"larger --interval"):
        correlation_series(shop_traffic(SHOP), "1ms")
