"""The correlation ranking, when the correlate analysis is available.

Imported lazily: the report works without it, and a dump with too few time
buckets for a meaningful correlation (the analysis refuses it) simply has no
such section.  The best-ranked series are embedded with their bucket values, so
the page can plot each one against the response time.
"""

from __future__ import annotations

import importlib
import math
from datetime import timedelta
from typing import Any, Final

import numpy as np
import pyarrow as pa
from spanscope.analyzer.errors import SpanscopeError
from spanscope.analyzer.render.html.values import clip, ms

#: Ranked rows listed in the page.
MAX_RESULTS: Final = 30
#: Rows whose series are plotted (the best ranked).
MAX_PLOTTED: Final = 10
#: Beyond this many buckets the series are not embedded (the ranking still is).
MAX_PLOTTED_BUCKETS: Final = 1500
#: Scout's interval, tried first; a finer one only when that leaves too few buckets.
PREFERRED_INTERVAL_S: Final = 60.0


def _correlate_module() -> Any | None:
    try:
        return importlib.import_module("spanscope.analyzer.analyses.correlate")
    except ModuleNotFoundError:
        return None


def _values(series: pa.Table, column: str) -> list[float | None]:
    values = series.column(column).to_numpy().astype(np.float64)
    return [ms(float(v)) for v in values]


def _number(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return float(f"{value:.4g}")


def _section(result: Any) -> dict[str, Any]:
    series: pa.Table = result.series
    rows = list(result.results)[:MAX_RESULTS]
    plotted = series.num_rows <= MAX_PLOTTED_BUCKETS
    first_bucket = series.column("bucket")[0] if series.num_rows else None
    return {
        "interval_s": result.interval_s,
        "buckets": result.buckets,
        "empty_buckets": result.empty_buckets,
        "differenced": result.differenced,
        "start_ms": None if first_bucket is None else first_bucket.value // 1_000_000,
        "results": [
            {
                "kind": row.kind,
                "name": clip(row.name, 200),
                "r": _number(row.r),
                "p_value": _number(row.p_value),
                "q_value": _number(row.q_value),
                "r_undifferenced": _number(row.r_undifferenced),
                "n": row.n,
                "note": row.note,
                "significant": row.significant,
                "series": _values(series, row.column) if plotted and i < MAX_PLOTTED else None,
            }
            for i, row in enumerate(rows)
        ],
        "omitted": len(result.results) - len(rows),
        "target": _values(series, "response_ms") if plotted else None,
    }


def correlation_section(
    requests: pa.Table, chart_interval_s: float | None
) -> dict[str, Any] | None:
    """The ranking of a request table, or ``None`` when the analysis
    is not installed or refuses the data (too few buckets, a constant target).

    ``chart_interval_s`` (the latency chart's bucket width) is tried when one-minute
    buckets are too few, so a short dump still gets a ranking when it can.
    """
    module = _correlate_module()
    if module is None:
        return None
    intervals = [PREFERRED_INTERVAL_S]
    if chart_interval_s is not None and chart_interval_s < PREFERRED_INTERVAL_S:
        intervals.append(chart_interval_s)
    for interval_s in intervals:
        try:
            result = module.correlate(requests, interval=timedelta(seconds=interval_s))
        except SpanscopeError:  # too few buckets or nothing varies: try a finer interval
            continue
        if len(result.results):
            return _section(result)
    return None
