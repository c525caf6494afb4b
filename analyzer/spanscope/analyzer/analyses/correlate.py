"""Which layer, endpoint time or endpoint throughput moves with the app's response time?

Scout's "think like a data scientist" method on trace dumps: bucket the requests by
start time (:func:`~spanscope.analyzer.analyses.series.correlation_series`), take the
first difference of every series so that trends they merely share (traffic growing
all morning while the app slows down) do not pass for correlations, then rank every
series by the p-value of its Pearson correlation with the overall mean response time.

    from spanscope.analyzer import load
    from spanscope.analyzer.analyses.correlate import correlate, correlation_series

    spans = load("spanscope-traces/")
    series = correlation_series(spans)              # one row per minute
    series.to_pandas().diff().corr()                # the article's notebook
    correlate(spans).to_pandas()                    # ranked, with p- and q-values

What keeps the ranking honest:

* Too few buckets: below ``min_points`` (default 10) differenced points of the target
  :class:`InsufficientDataError` is raised -- a p-value from 5 points means little.
* Empty buckets and endpoints absent from a bucket are NaN (see the series module);
  each correlation uses the buckets where both series are defined (pairwise-complete)
  and reports that count as ``n``.  A series with fewer than ``min_points`` such
  points is skipped with its reason.
* A constant series (a scheduled job that calls an endpoint exactly twice a minute)
  has no correlation at all: it is skipped, never reported as r = 0.
* Many series tested at once: Benjamini-Hochberg q-values (false discovery rate)
  stand beside the raw p-values; call a row significant on its q-value.
* ``r_undifferenced`` is the correlation of the raw levels: high there but not
  after differencing means the two only shared a trend.
* An endpoint that serves most requests largely *is* the target; that row carries a
  note rather than pretending to be a discovery.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Final

import numpy as np
import pyarrow as pa
from spanscope.analyzer.analyses.inputs import SpansOrPaths
from spanscope.analyzer.analyses.partitioned_limits import DEFAULT_MEMORY_SPANS
from spanscope.analyzer.analyses.series import (
    DEFAULT_INTERVAL,
    SERIES_KINDS,
    TARGET_COLUMN,
    FloatArray,
    Interval,
    SeriesKind,
    correlation_series,
    format_interval,
    interval_of,
    is_series_table,
    parse_interval,
    parse_series_column,
    read_requests,
    series_column,
    series_from_requests,
)
from spanscope.analyzer.diagnostics import Diagnostics
from spanscope.analyzer.errors import SpanscopeError, UsageError

__all__ = [
    "DEFAULT_MIN_POINTS",
    "SIGNIFICANCE",
    "Correlation",
    "CorrelationResult",
    "InsufficientDataError",
    "SkippedSeries",
    "correlate",
    "correlate_series",
    "correlation_series",
]

#: Fewest differenced points (of the target, and of each series) worth a p-value.
DEFAULT_MIN_POINTS: Final = 10
#: Pearson's p-value needs at least three points; fewer is a usage error.
SMALLEST_MIN_POINTS: Final = 3
#: q-value below which a row is called significant (in notes and renderers).
SIGNIFICANCE: Final = 0.05
#: |r| of the raw levels from which a non-significant differenced row is called
#: "shared trend only".
TREND_R: Final = 0.5
#: An endpoint with at least this share of all requests is mostly the target itself.
DOMINANT_SHARE: Final = 0.5


class InsufficientDataError(SpanscopeError):
    """Too few buckets, or a target that never changes: no correlation can be trusted."""


@dataclass(frozen=True)
class Correlation:
    """One series against the mean response time.

    ``r`` and ``p_value`` are Pearson's on the first differences (on the raw levels
    with ``difference=False``); ``q_value`` is the Benjamini-Hochberg adjusted p-value
    over every tested series; ``r_undifferenced`` is Pearson's r on the raw levels
    (``None`` when they cannot be correlated); ``n`` the pairwise-complete points used.
    """

    kind: SeriesKind
    name: str
    r: float
    p_value: float
    q_value: float
    r_undifferenced: float | None
    n: int
    note: str | None = None

    @property
    def column(self) -> str:
        """The column of this series in the series table."""
        return series_column(self.kind, self.name)

    @property
    def significant(self) -> bool:
        return self.q_value < SIGNIFICANCE


@dataclass(frozen=True)
class SkippedSeries:
    """A series that was not tested, and why."""

    kind: SeriesKind
    name: str
    reason: str


_RESULT_ARROW_SCHEMA: Final = pa.schema(
    [
        pa.field(name, type_)
        for name, type_ in (
            ("kind", pa.string()),
            ("name", pa.string()),
            ("r", pa.float64()),
            ("p_value", pa.float64()),
            ("q_value", pa.float64()),
            ("r_undifferenced", pa.float64()),
            ("n", pa.int64()),
            ("note", pa.string()),
        )
    ]
)


@dataclass(frozen=True)
class CorrelationResult:
    """Every tested series ranked by p-value (ascending), and the skipped ones."""

    interval_s: float
    buckets: int  # rows of the series table, empty buckets included
    empty_buckets: int  # buckets without any request
    points: int  # defined (differenced) points of the target
    differenced: bool
    min_points: int
    results: tuple[Correlation, ...]
    skipped: tuple[SkippedSeries, ...]
    #: results left out by :meth:`head` (0 when complete)
    omitted: int = 0
    series: pa.Table = field(default_factory=lambda: pa.table({}), compare=False, repr=False)
    files: tuple[str, ...] = field(default=(), compare=False)
    diagnostics: Diagnostics = field(default_factory=Diagnostics, compare=False, repr=False)

    def __iter__(self) -> Iterator[Correlation]:
        return iter(self.results)

    def __len__(self) -> int:
        return len(self.results)

    @property
    def interval(self) -> str:
        """The bucket width as written on the command line (``"1min"``)."""
        return format_interval(round(self.interval_s * 1e9))

    def head(self, count: int) -> CorrelationResult:
        """The ``count`` best-ranked results (q-values stay those of the full test)."""
        kept = self.results[:count]
        return replace(self, results=kept, omitted=self.omitted + len(self.results) - len(kept))

    def to_arrow(self) -> pa.Table:
        return pa.Table.from_pylist(
            [asdict(row) for row in self.results], schema=_RESULT_ARROW_SCHEMA
        )

    def to_pandas(self) -> Any:
        """A ``pandas.DataFrame`` of the results (pandas is optional, hence ``Any``)."""
        return self.to_arrow().to_pandas()

    def to_dict(self) -> dict[str, Any]:
        """Unrounded JSON-ready data (the renderers round)."""
        return {
            "interval_s": self.interval_s,
            "buckets": self.buckets,
            "empty_buckets": self.empty_buckets,
            "points": self.points,
            "differenced": self.differenced,
            "min_points": self.min_points,
            "results": [asdict(row) for row in self.results],
            "omitted_results": self.omitted,
            "skipped": [asdict(row) for row in self.skipped],
        }


def correlate(
    source: SpansOrPaths,
    *,
    interval: Interval = DEFAULT_INTERVAL,
    difference: bool = True,
    min_points: int = DEFAULT_MIN_POINTS,
    input_format: str | None = None,
    strict: bool = False,
    memory_spans: int | None = DEFAULT_MEMORY_SPANS,
) -> CorrelationResult:
    """Rank every series of ``source`` by its correlation with the mean response time.

    ``source`` is a span table, a request table, dump files/folders/globs, or a table
    from :func:`correlation_series` (whose own interval then applies).
    """
    _check_min_points(min_points)
    if isinstance(source, pa.Table) and is_series_table(source):
        return correlate_series(source, difference=difference, min_points=min_points)
    interval_ns = parse_interval(interval)
    loaded = read_requests(
        source, input_format=input_format, strict=strict, memory_spans=memory_spans
    )
    series = series_from_requests(loaded.table, interval_ns)
    result = correlate_series(series, difference=difference, min_points=min_points)
    return replace(result, files=tuple(loaded.files), diagnostics=loaded.diagnostics)


def correlate_series(
    series: pa.Table, *, difference: bool = True, min_points: int = DEFAULT_MIN_POINTS
) -> CorrelationResult:
    """:func:`correlate` on a table from :func:`correlation_series`."""
    _check_min_points(min_points)
    interval_ns = interval_of(series)
    target_levels = _column(series, TARGET_COLUMN)
    target = _prepare(target_levels, difference)
    points = int(np.isfinite(target).sum())
    _check_target(target, points, series.num_rows, interval_ns, difference, min_points)

    shares = _endpoint_shares(series)
    tested: list[Correlation] = []
    skipped: list[SkippedSeries] = []
    for column in series.schema.names:
        parsed = parse_series_column(column)
        if parsed is None:
            continue
        kind, name = parsed
        levels = _column(series, column)
        values = _prepare(levels, difference)
        both = np.isfinite(values) & np.isfinite(target)
        n = int(both.sum())
        reason = _untestable(kind, levels, values[both], target[both], n, min_points)
        if reason is not None:
            skipped.append(SkippedSeries(kind, name, reason))
            continue
        notes: list[str] = []
        r, p_value = _pearson(values[both], target[both], notes)
        if kind == "endpoint_time":
            notes.extend(_share_notes(shares.get(name, 0.0)))
        note = "; ".join(notes) or None
        r_levels = _r_levels(levels, target_levels)
        # The q-value needs every p-value: NaN until the loop is done.
        tested.append(Correlation(kind, name, r, p_value, np.nan, r_levels, n, note))

    q_values = _bh_q_values([row.p_value for row in tested])
    results = [
        _with_trend_note(replace(row, q_value=q_value), difference)
        for row, q_value in zip(tested, q_values, strict=True)
    ]
    results.sort(key=_rank_key)
    empty = int(np.isnan(target_levels).sum())
    return CorrelationResult(
        interval_s=interval_ns / 1e9,
        buckets=series.num_rows,
        empty_buckets=empty,
        points=points,
        differenced=difference,
        min_points=min_points,
        results=tuple(results),
        skipped=tuple(sorted(skipped, key=lambda s: (SERIES_KINDS.index(s.kind), s.name))),
        series=series,
    )


def _check_min_points(min_points: int) -> None:
    if min_points < SMALLEST_MIN_POINTS:
        raise UsageError(
            f"min_points={min_points} is too small for a p-value",
            f"use at least {SMALLEST_MIN_POINTS} (the default is {DEFAULT_MIN_POINTS})",
        )


def _check_target(
    target: FloatArray,
    points: int,
    buckets: int,
    interval_ns: int,
    difference: bool,
    min_points: int,
) -> None:
    what = "differenced points" if difference else "points"
    if points < min_points:
        raise InsufficientDataError(
            f"only {points} {what} of the mean response time in {buckets} bucket(s) of "
            f"{format_interval(interval_ns)}; at least {min_points} are needed for a "
            "meaningful correlation",
            "use a smaller --interval (e.g. 30s) or a dump that covers more time",
        )
    defined = target[np.isfinite(target)]
    if np.ptp(defined) == 0:
        raise InsufficientDataError(
            "the mean response time does not change from one bucket to the next, "
            "so nothing can correlate with it",
            "check that the dump holds real traffic, or try another --interval",
        )


def _column(series: pa.Table, name: str) -> FloatArray:
    values: FloatArray = series.column(name).to_numpy().astype(np.float64)
    return values


def _prepare(levels: FloatArray, difference: bool) -> FloatArray:
    """First differences ``y(t) - y(t-1)`` (NaN where either side is NaN), or the levels."""
    if not difference:
        return levels
    return np.diff(levels)


def _untestable(
    kind: SeriesKind,
    levels: FloatArray,
    values: FloatArray,
    target: FloatArray,
    n: int,
    min_points: int,
) -> str | None:
    defined = levels[np.isfinite(levels)]
    if defined.size and np.ptp(defined) == 0:
        return _constant_reason(kind, float(defined[0]))
    if n < min_points:
        return f"only {n} paired point(s) with the target (at least {min_points} needed)"
    if np.ptp(values) == 0:
        return "constant where paired with the target: correlation is undefined"
    if np.ptp(target) == 0:
        return "the target is constant where this series is defined: correlation is undefined"
    return None


def _constant_reason(kind: SeriesKind, value: float) -> str:
    if kind == "layer" and value == 0:
        return "always 0 ms: no spans of this layer in the input"
    unit = " requests" if kind == "endpoint_throughput" else " ms"
    return f"constant ({value:g}{unit} in every bucket): correlation is undefined"


def _pearson(values: FloatArray, target: FloatArray, notes: list[str]) -> tuple[float, float]:
    # scipy.stats takes seconds to import on a cold start; only this command needs it.
    from scipy import stats

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", stats.NearConstantInputWarning)
        result = stats.pearsonr(values, target)
    if any(issubclass(w.category, stats.NearConstantInputWarning) for w in caught):
        notes.append("nearly constant: r may be imprecise")
    return float(result.statistic), float(result.pvalue)


def _r_levels(levels: FloatArray, target: FloatArray) -> float | None:
    both = np.isfinite(levels) & np.isfinite(target)
    x, y = levels[both], target[both]
    if x.size < SMALLEST_MIN_POINTS or np.ptp(x) == 0 or np.ptp(y) == 0:
        return None
    # np.corrcoef: only r is wanted here, no p-value, and it stays quiet on its own.
    return float(np.corrcoef(x, y)[0, 1])


def _bh_q_values(p_values: list[float]) -> list[float]:
    if not p_values:
        return []
    from scipy import stats

    adjusted = stats.false_discovery_control(np.asarray(p_values), method="bh")
    return [float(q) for q in np.atleast_1d(adjusted)]


def _endpoint_shares(series: pa.Table) -> dict[str, float]:
    """Each endpoint's share of all requests, from its throughput column."""
    counts: dict[str, float] = {}
    for column in series.schema.names:
        parsed = parse_series_column(column)
        if parsed is not None and parsed[0] == "endpoint_throughput":
            counts[parsed[1]] = float(np.nansum(_column(series, column)))
    total = sum(counts.values())
    return {name: count / total for name, count in counts.items()} if total else {}


def _with_trend_note(row: Correlation, difference: bool) -> Correlation:
    """Flag a row whose raw levels correlate but whose differences do not."""
    r_levels = row.r_undifferenced
    if not difference or row.significant or r_levels is None or abs(r_levels) < TREND_R:
        return row
    trend = f"shared trend only (r raw {r_levels:+.2f})"
    return replace(row, note=f"{row.note}; {trend}" if row.note else trend)


def _share_notes(share: float) -> list[str]:
    if share >= 1.0:
        return ["serves every request: this series is the target itself"]
    if share >= DOMINANT_SHARE:
        return [f"{share:.0%} of all requests: largely the target itself"]
    return []


def _rank_key(row: Correlation) -> tuple[float, float, int, str]:
    return (row.p_value, -abs(row.r), SERIES_KINDS.index(row.kind), row.name)
