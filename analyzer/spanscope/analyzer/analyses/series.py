"""Requests bucketed by start time: the series :mod:`~spanscope.analyzer.analyses.correlate`
compares, as one Arrow table that converts to a pandas DataFrame indexed by bucket.

The notebook of Scout's "think like a data scientist" article becomes::

    spans = load("spanscope-traces/")
    series = correlation_series(spans, interval="1min")
    series.to_pandas().diff().corr()["response_ms"].sort_values()

Columns of :func:`correlation_series`, one row per bucket:

=======================================  ==================================================
``bucket``                               bucket start, timestamp[ns, UTC]; buckets are
                                         aligned to the Unix epoch (1min buckets start on
                                         whole UTC minutes) and become the pandas index
``response_ms``                          the target: mean duration of every request that
                                         started in the bucket
``layer:<layer>``                        mean self time per request in that layer (``app``,
                                         ``db``, ``cache``, ``template``, ``http``, ``other``:
                                         one per layer column of the request table, see
                                         :func:`layer_columns`, so new layers appear by
                                         themselves); a request that never touched the
                                         layer counts 0 ms
``endpoint_time:<endpoint>``             mean duration of that endpoint's requests
``endpoint_throughput:<endpoint>``       that endpoint's requests in the bucket
=======================================  ==================================================

Endpoints are ordered by request count, busiest first.

Missing values are NaN (not null), as pandas expects:

* An *empty bucket* (no request at all) is kept as a row rather than dropped, so the
  time axis stays regular and a first difference only ever compares neighbouring
  intervals.  Its means are NaN -- the mean of nothing is not 0 ms -- and its
  throughputs are 0, which is a real observation.  Differences that touch it are NaN
  and drop out of every correlation (pairwise-complete observations).
* An endpoint's mean time is NaN in a bucket where that endpoint had no request.
* The first and last buckets are usually partial (the dump starts and ends mid-bucket),
  so their throughputs read low; only the two edge differences are affected.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Final, Literal, TypeAlias

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
from spanscope.analyzer.analyses.inputs import SpansOrPaths
from spanscope.analyzer.analyses.partitioned_limits import DEFAULT_MEMORY_SPANS, check_memory_spans
from spanscope.analyzer.diagnostics import Diagnostics
from spanscope.analyzer.errors import UsageError

SeriesKind: TypeAlias = Literal["layer", "endpoint_time", "endpoint_throughput"]
SERIES_KINDS: Final[tuple[SeriesKind, ...]] = ("layer", "endpoint_time", "endpoint_throughput")

BUCKET_COLUMN: Final = "bucket"
TARGET_COLUMN: Final = "response_ms"
DEFAULT_INTERVAL: Final = "1min"
#: More buckets than this means the interval is far too small for the time covered.
MAX_BUCKETS: Final = 200_000
#: Schema metadata key holding the bucket width in nanoseconds.
INTERVAL_METADATA_KEY: Final = b"spanscope.interval_ns"

#: Request-table columns holding a layer's self time per request: ``<layer>_self_ms``
#: (``db_self_ms``, ``cache_self_ms``, ...), else ``<layer>_ms`` (``app_ms``, and
#: ``db_ms`` in request tables without ``db_self_ms``).
LAYER_COLUMN_PATTERN: Final = re.compile(
    r"^(?P<layer>[a-z][a-z0-9]*(?:_[a-z0-9]+)*?)(?P<self>_self)?_ms$"
)
#: ``*_ms`` columns of the request table that are not a layer.
NOT_LAYER_COLUMNS: Final = frozenset({"duration_ms"})
#: What a table must have to be taken as a request table rather than a span table.
REQUEST_COLUMNS: Final = ("endpoint", "start", "duration_ms")

Interval: TypeAlias = str | int | float | timedelta

_NS_PER_UNIT: Final = {
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
_UNIT_ALIASES: Final = {
    "ms": "ms",
    "msec": "ms",
    "s": "s",
    "sec": "s",
    "secs": "s",
    "second": "s",
    "seconds": "s",
    "m": "m",
    "min": "m",
    "mins": "m",
    "minute": "m",
    "minutes": "m",
    "h": "h",
    "hr": "h",
    "hour": "h",
    "hours": "h",
}
_INTERVAL_TEXT: Final = re.compile(r"^\s*(?P<value>\d+(?:\.\d+)?)\s*(?P<unit>[a-z]*)\s*$")

FloatArray: TypeAlias = npt.NDArray[np.float64]


def parse_interval(interval: Interval) -> int:
    """The bucket width in nanoseconds: ``"30s"``, ``"1min"``, ``"5m"``, ``"1h"``,
    ``"500ms"``, a number of seconds, or a :class:`~datetime.timedelta`.

    Hand-written because the accepted spellings are few and pandas (whose
    ``Timedelta`` parses them) is not a dependency of the analyzer.
    """
    if isinstance(interval, timedelta):
        nanoseconds = round(interval.total_seconds() * 1e9)
    elif isinstance(interval, (int, float)) and not isinstance(interval, bool):
        nanoseconds = round(float(interval) * 1e9)
    elif isinstance(interval, str):
        match = _INTERVAL_TEXT.match(interval.lower())
        unit = _UNIT_ALIASES.get(match.group("unit") or "s") if match else None
        if match is None or unit is None:
            raise UsageError(
                f"cannot read the interval {interval!r}",
                "write a number and a unit, e.g. 30s, 1min, 5m or 1h",
            )
        nanoseconds = round(float(match.group("value")) * _NS_PER_UNIT[unit])
    else:
        raise UsageError(
            f"cannot read the interval {interval!r}",
            "pass a string such as '1min', a number of seconds or a datetime.timedelta",
        )
    if nanoseconds < _NS_PER_UNIT["ms"]:
        raise UsageError(
            f"the interval {interval!r} is shorter than a millisecond",
            "use an interval of at least 1ms, e.g. 30s or 1min",
        )
    return nanoseconds


def format_interval(interval_ns: int) -> str:
    """``60e9`` -> ``"1min"``, ``30e9`` -> ``"30s"``: the largest unit that divides evenly."""
    for unit, label in (("h", "h"), ("m", "min"), ("s", "s")):
        size = _NS_PER_UNIT[unit]
        if interval_ns % size == 0:
            return f"{interval_ns // size}{label}"
    return f"{interval_ns / _NS_PER_UNIT['ms']:g}ms"


def series_column(kind: SeriesKind, name: str) -> str:
    """The column holding one series: ``"layer:db"``, ``"endpoint_time:GET books/"``."""
    return f"{kind}:{name}"


def parse_series_column(column: str) -> tuple[SeriesKind, str] | None:
    """``"layer:db"`` -> ``("layer", "db")``; ``None`` for ``bucket``, the target and
    anything else.  Kinds hold no colon, so an endpoint name may."""
    kind, sep, name = column.partition(":")
    for known in SERIES_KINDS:
        if sep and kind == known:
            return known, name
    return None


def layer_columns(requests: pa.Table) -> list[tuple[str, str]]:
    """``(layer, column)`` for each layer of a request table, in table order.

    A layer's self-time column is ``<layer>_self_ms`` when the table has one, else
    ``<layer>_ms``: so ``app_ms`` is the ``app`` layer, and ``db_self_ms`` (self time)
    wins over ``db_ms`` (the union of the DB spans).  A layer added to the request
    table later appears here without a change.
    """
    chosen: dict[str, str] = {}
    for column in requests.schema.names:
        match = LAYER_COLUMN_PATTERN.match(column)
        if match is None or column in NOT_LAYER_COLUMNS:
            continue
        layer = match.group("layer")
        if match.group("self") or layer not in chosen:
            chosen[layer] = column
    order = {column: index for index, column in enumerate(requests.schema.names)}
    return sorted(chosen.items(), key=lambda item: order[item[1]])


def interval_of(series: pa.Table) -> int:
    """The bucket width (ns) a :func:`correlation_series` table was built with."""
    metadata = series.schema.metadata or {}
    raw = metadata.get(INTERVAL_METADATA_KEY)
    if raw is None:
        raise UsageError(
            "the series table does not record its interval",
            "pass the table returned by correlation_series(), or the spans themselves",
        )
    return int(raw)


def is_series_table(table: pa.Table) -> bool:
    names = table.schema.names
    return BUCKET_COLUMN in names and TARGET_COLUMN in names


def is_request_table(table: pa.Table) -> bool:
    return all(name in table.schema.names for name in REQUEST_COLUMNS)


@dataclass(frozen=True)
class LoadedRequests:
    """A request table and what reading it cost (files read, skipped records)."""

    table: pa.Table
    files: list[str] = field(default_factory=list)
    diagnostics: Diagnostics = field(default_factory=Diagnostics)


def read_requests(
    source: SpansOrPaths,
    *,
    input_format: str | None = None,
    strict: bool = False,
    memory_spans: int | None = DEFAULT_MEMORY_SPANS,
) -> LoadedRequests:
    """A request table as is; a span table or dump files turned into one.  Dumps of more
    than ``memory_spans`` spans are read a partition of whole traces at a time (see
    :mod:`.partitioned`; None: all at once)."""
    if isinstance(source, pa.Table) and is_request_table(source):
        return LoadedRequests(source)
    # Imported here so that a request table handed in directly never pays for DuckDB.
    from spanscope.analyzer.analyses.analysis_input import (
        RollupInput,
        SpilledInput,
        analysis_input,
    )
    from spanscope.analyzer.analyses.partitioned import partitioned_requests
    from spanscope.analyzer.requests import public_request_table, request_table

    if isinstance(source, pa.Table):
        return LoadedRequests(request_table(source))
    if memory_spans is not None:
        check_memory_spans(memory_spans)
    loaded = analysis_input(
        source, input_format=input_format, strict=strict, rollups=False, memory_spans=memory_spans
    )
    if isinstance(loaded, SpilledInput):
        try:
            table = partitioned_requests(loaded.read, memory_spans=loaded.memory_spans)
        finally:
            loaded.read.close()
        return LoadedRequests(table, loaded.read.files, loaded.read.diagnostics)
    assert not isinstance(loaded, RollupInput)  # rollups=False
    return LoadedRequests(public_request_table(loaded.prepared), loaded.files, loaded.diagnostics)


def correlation_series(
    source: SpansOrPaths,
    interval: Interval = DEFAULT_INTERVAL,
    *,
    input_format: str | None = None,
    strict: bool = False,
    memory_spans: int | None = DEFAULT_MEMORY_SPANS,
) -> pa.Table:
    """The bucketed series (see the module docstring) of a span table, a request table
    (``request_table(spans)``) or dump files, folders and globs."""
    interval_ns = parse_interval(interval)
    loaded = read_requests(
        source, input_format=input_format, strict=strict, memory_spans=memory_spans
    )
    return series_from_requests(loaded.table, interval_ns)


def series_from_requests(requests: pa.Table, interval_ns: int) -> pa.Table:
    """The bucketed series of a request table, buckets ``interval_ns`` wide."""
    if requests.num_rows == 0:
        return _table(np.zeros(0, np.int64), interval_ns, {TARGET_COLUMN: np.zeros(0)})
    start_ns = pc.cast(requests.column("start"), pa.int64()).to_numpy(zero_copy_only=False)
    absolute = start_ns // interval_ns  # floor division: epoch-aligned, also before 1970
    first = int(absolute.min())
    bucket_count = int(absolute.max()) - first + 1
    if bucket_count > MAX_BUCKETS:
        raise UsageError(
            f"{format_interval(interval_ns)} buckets over this time span make "
            f"{bucket_count:,} buckets (at most {MAX_BUCKETS:,})",
            "use a larger --interval, or analyse a shorter stretch of time",
        )
    index = (absolute - first).astype(np.intp)
    # Every aggregate is a weighted bincount over the bucket index: one vectorised
    # pass per column, no Python loop over requests.
    counts = np.bincount(index, minlength=bucket_count).astype(np.float64)
    columns: dict[str, FloatArray] = {
        TARGET_COLUMN: _mean(index, _floats(requests, "duration_ms"), counts)
    }
    for layer, column in layer_columns(requests):
        columns[series_column("layer", layer)] = _mean(index, _floats(requests, column), counts)
    endpoint_columns = _endpoint_series(requests, index, bucket_count)
    columns.update(endpoint_columns)
    buckets = (first + np.arange(bucket_count, dtype=np.int64)) * interval_ns
    return _table(buckets, interval_ns, columns)


def _floats(requests: pa.Table, column: str) -> FloatArray:
    # Nulls become NaN in to_numpy(); a request without the value spent 0 ms there.
    values = requests.column(column).cast(pa.float64()).to_numpy()
    array: FloatArray = np.nan_to_num(values, nan=0.0)
    return array


def _mean(index: npt.NDArray[np.intp], values: FloatArray, counts: FloatArray) -> FloatArray:
    sums = np.bincount(index, weights=values, minlength=counts.size)
    means: FloatArray = np.full(counts.size, np.nan)
    np.divide(sums, counts, out=means, where=counts > 0)
    return means


def _endpoint_series(
    requests: pa.Table, index: npt.NDArray[np.intp], bucket_count: int
) -> dict[str, FloatArray]:
    endpoints = requests.column("endpoint")
    distinct = pc.unique(endpoints)
    names: list[str] = [str(name) for name in distinct.to_pylist()]
    codes = pc.index_in(endpoints, value_set=distinct).to_numpy().astype(np.intp)
    cell = codes * bucket_count + index
    size = len(names) * bucket_count
    counts = np.bincount(cell, minlength=size).astype(np.float64).reshape(len(names), -1)
    sums = np.bincount(cell, weights=_floats(requests, "duration_ms"), minlength=size)
    sums = sums.reshape(len(names), -1)
    means = np.full_like(sums, np.nan)
    np.divide(sums, counts, out=means, where=counts > 0)
    order = sorted(range(len(names)), key=lambda i: (-counts[i].sum(), names[i]))
    columns: dict[str, FloatArray] = {}
    for i in order:
        columns[series_column("endpoint_time", names[i])] = means[i]
    for i in order:
        columns[series_column("endpoint_throughput", names[i])] = counts[i]
    return columns


def _table(
    buckets: npt.NDArray[np.int64], interval_ns: int, columns: dict[str, FloatArray]
) -> pa.Table:
    arrays: list[pa.Array[Any]] = [pa.array(buckets, pa.int64()).cast(pa.timestamp("ns", tz="UTC"))]
    # from_pandas=False keeps NaN as NaN (not null), which is what pandas users expect.
    arrays.extend(pa.array(values, pa.float64()) for values in columns.values())
    names = [BUCKET_COLUMN, *columns]
    table = pa.Table.from_arrays(arrays, names=names)
    return table.replace_schema_metadata(
        {INTERVAL_METADATA_KEY: str(interval_ns).encode(), b"pandas": _pandas_metadata(names)}
    )


def _pandas_metadata(names: Sequence[str]) -> bytes:
    """The ``pandas`` schema metadata (as pandas itself writes it) that makes
    ``to_pandas()`` use ``bucket`` as the index, so ``.diff()`` and ``.corr()`` see
    only the series."""
    columns = [
        {
            "name": BUCKET_COLUMN,
            "field_name": BUCKET_COLUMN,
            "pandas_type": "datetimetz",
            "numpy_type": "datetime64[ns]",
            "metadata": {"timezone": "UTC"},
        },
        *(
            {
                "name": name,
                "field_name": name,
                "pandas_type": "float64",
                "numpy_type": "float64",
                "metadata": None,
            }
            for name in names[1:]
        ),
    ]
    document = {"index_columns": [BUCKET_COLUMN], "column_indexes": [], "columns": columns}
    return json.dumps(document).encode()
