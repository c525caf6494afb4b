"""``spanscope correlate --format json``: one JSON object, schema version 1.

Correlations are rounded to 4 decimals, p- and q-values to 3 significant digits
(a p-value of 1.1e-54 stays 1.1e-54 rather than becoming 0).  Keys may be added in
a later version of the same ``schema_version``; a key is never removed or renamed
without bumping it.

Top level
    ``schema_version`` (str)
        ``"1"``.
    ``spanscope_version`` (str)
        The spanscope release that wrote the document.
    ``interval_s`` (float)
        The bucket width in seconds.
    ``buckets`` (int)
        Buckets from the first request to the last, empty ones included;
        ``empty_buckets`` (int): those without any request (their means are
        undefined and take no part in any correlation).
    ``points`` (int)
        Defined points of the target (the mean response time) after differencing.
    ``differenced`` (bool)
        ``true``: r and p are computed on first differences (``--no-diff``: ``false``).
    ``min_points`` (int)
        The fewest paired points a series needed to be tested.
    ``results`` (array)
        One object per tested series, sorted by ``p_value`` ascending:

        ``kind`` (str): ``"layer"`` (mean self time per request in that layer),
        ``"endpoint_time"`` (the endpoint's mean response time) or
        ``"endpoint_throughput"`` (its requests per bucket);
        ``name`` (str): the layer (``"db"``) or endpoint (``"GET books/"``);
        ``r`` (float): Pearson's r with the mean response time;
        ``p_value`` (float): its two-sided p-value;
        ``q_value`` (float): the Benjamini-Hochberg adjusted p-value over all tested
        series (call a row significant when ``q_value < 0.05``);
        ``r_undifferenced`` (float | null): Pearson's r of the raw levels -- high
        here with a low ``r`` means the two only shared a trend;
        ``n`` (int): the pairwise-complete points the test used;
        ``note`` (str | null): e.g. an endpoint that serves most requests, or a
        shared trend only.
    ``omitted_results`` (int)
        Tested series left out by ``--top`` (their q-values still counted).
    ``skipped`` (array)
        Series that could not be tested: ``{"kind", "name", "reason"}`` (constant
        series, too few paired points).
"""

from __future__ import annotations

from typing import Any, Final, TextIO

from spanscope.analyzer.analyses.analyze import spanscope_version
from spanscope.analyzer.analyses.correlate import CorrelationResult
from spanscope.analyzer.render.json_output import JsonFormat, write_json

SCHEMA_VERSION: Final = "1"
R_DECIMALS: Final = 4
P_DIGITS: Final = 3


def _significant_digits(value: float) -> float:
    return float(f"{value:.{P_DIGITS}g}")


def _row(row: dict[str, Any]) -> dict[str, Any]:
    r_levels = row["r_undifferenced"]
    return {
        "kind": row["kind"],
        "name": row["name"],
        "r": round(row["r"], R_DECIMALS),
        "p_value": _significant_digits(row["p_value"]),
        "q_value": _significant_digits(row["q_value"]),
        "r_undifferenced": None if r_levels is None else round(r_levels, R_DECIMALS),
        "n": row["n"],
        "note": row["note"],
    }


def correlation_document(result: CorrelationResult) -> dict[str, Any]:
    """The JSON document as Python data (see the module docstring)."""
    data = result.to_dict()
    return {
        "schema_version": SCHEMA_VERSION,
        "spanscope_version": spanscope_version(),
        "interval_s": data["interval_s"],
        "buckets": data["buckets"],
        "empty_buckets": data["empty_buckets"],
        "points": data["points"],
        "differenced": data["differenced"],
        "min_points": data["min_points"],
        "results": [_row(row) for row in data["results"]],
        "omitted_results": data["omitted_results"],
        "skipped": data["skipped"],
    }


class CorrelationJsonRenderer(JsonFormat):
    def render(self, result: CorrelationResult, out: TextIO, *, color: bool) -> None:
        write_json(correlation_document(result), out)
