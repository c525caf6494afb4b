"""``spanscope compare --format json``: one JSON object, schema version 1.

Times are milliseconds, rounded to 3 decimals; ``p_value`` keeps 3 significant
digits (a p-value of 1e-11 must not print as 0).  Keys may be added within a
``schema_version``; none is removed or renamed without bumping it.

Top level
    ``schema_version`` (str): ``"1"``; ``kind`` (str): ``"compare"``;
    ``spanscope_version`` (str).
    ``options`` (object)
        ``alpha`` (float): significance level of the Mann-Whitney U test;
        ``min_change_pct`` (float): smallest relative change called faster/slower;
        ``metric`` (str): ``"mean"``, ``"p50"`` or ``"p95"``, the statistic that change
        is measured on; ``min_repeats`` (int): the N+1 threshold.
    ``before``, ``after`` (object)
        ``files`` (int), ``requests`` (int), ``skipped_records`` (int).
    ``endpoints`` (array)
        One object per endpoint seen on either side; regressions first, then
        improvements, new, gone, too few requests, no significant change:

        ``endpoint`` (str): ``"GET books/"``;
        ``verdict`` (str): ``"faster"`` or ``"slower"`` (Mann-Whitney p < alpha *and*
        |relative change of metric| >= min_change_pct), ``"no significant change"``,
        ``"too few requests"`` (so few that no difference could reach p < alpha, e.g.
        one request on a side), ``"new"`` (after only) or ``"gone"`` (before only);
        ``p_value`` (float | null): two-sided Mann-Whitney U on per-request durations;
        ``speedup`` (float | null): before mean / after mean;
        ``before``, ``after`` (object | null): ``requests`` (int), ``mean_ms``,
        ``p50_ms``, ``p95_ms`` (float), ``queries_per_request`` (float, mean DB spans
        per request), ``max_queries`` (int), ``n_plus_one`` (int, N+1 findings);
        ``change`` (object | null): after minus before -- ``mean_ms``, ``p50_ms``,
        ``p95_ms`` (float), ``mean_pct``, ``p50_pct``, ``p95_pct`` (float | null, null
        when the before value is 0), ``queries_per_request`` (float).
    ``n_plus_one`` (array)
        N+1 findings matched on (endpoint, normalized statement); new first, then
        remaining, then resolved:

        ``status`` (str): ``"resolved"`` (before only), ``"remaining"`` (both) or
        ``"new"`` (after only); ``endpoint`` (str); ``statement`` (str);
        ``before``, ``after`` (object | null): the finding as ``spanscope analyze
        --format json`` writes it (``repeats``, ``requests``, ``wasted_ms``, ``code``,
        ``relation``, ``suggestion``...).
"""

from __future__ import annotations

from typing import Any, Final, TextIO

from spanscope.analyzer.analyses.compare import CompareResult
from spanscope.analyzer.render.json_output import JsonFormat, write_json

SCHEMA_VERSION: Final = "1"
DECIMALS: Final = 3
P_VALUE_DIGITS: Final = 3


def _rounded(value: Any, key: str = "") -> Any:
    if isinstance(value, float):
        if key == "p_value":
            return float(f"{value:.{P_VALUE_DIGITS}g}")
        return round(value, DECIMALS)
    if isinstance(value, dict):
        return {name: _rounded(item, name) for name, item in value.items()}
    if isinstance(value, list):
        return [_rounded(item) for item in value]
    return value


def compare_document(result: CompareResult) -> dict[str, Any]:
    """The JSON document as Python data (see the module docstring)."""
    document: dict[str, Any] = _rounded(
        {"schema_version": SCHEMA_VERSION, "kind": "compare", **result.to_dict()}
    )
    return document


class CompareJsonRenderer(JsonFormat):
    def render(self, result: CompareResult, out: TextIO, *, color: bool) -> None:
        write_json(compare_document(result), out)
