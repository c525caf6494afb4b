"""Breakdown: where requests spend their time, by layer, per endpoint and overall.

Layers are ``app`` (the request span's own time), ``db``, ``cache``, ``template``,
``http`` (external calls) and ``other`` (client calls to unknown systems, messaging,
custom internal spans).  Each span contributes its *self time*: its duration minus
the union of its children's intervals, every span first clipped into its parent
(see :mod:`spanscope.analyzer.requests`).  Concurrent children are therefore never
subtracted twice from their parent.  Siblings that run at the same time each count
their own self time, as in Elastic APM's breakdown; without such concurrency the six
layers add up to the request's duration.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as _compute
from spanscope.analyzer.analyses.inputs import SpansOrPaths, prepare_spans
from spanscope.analyzer.engine import to_numpy
from spanscope.analyzer.report import ALL_ENDPOINTS, Breakdown, BreakdownRow
from spanscope.analyzer.requests import CHILD_LAYERS, Prepared

pc: Any = _compute

#: BreakdownRow field -> the request-table column it is the mean of.
_MEANS: Final = {
    "duration_ms": "duration_ms",
    "app_ms": "app_ms",
    **{f"{layer}_ms": f"{layer}_self_ms" for layer in CHILD_LAYERS},
    **{f"{layer}_calls": f"{layer}_calls" for layer in CHILD_LAYERS},
}


def breakdown_from(prepared: Prepared) -> Breakdown:
    """The breakdown of a span set prepared by :func:`spanscope.analyzer.requests.prepare`."""
    return breakdown_of(prepared.requests)


def breakdown_of(requests: pa.Table) -> Breakdown:
    """The breakdown of a request table (:attr:`spanscope.analyzer.requests.Prepared.requests`).

    Sums run in NumPy in row order, so the same requests always give the same last
    digit (DuckDB's parallel ``avg`` over grouping sets does not): a prepared file's
    report is then exactly its source's.
    """
    count = requests.num_rows
    if count == 0:
        return Breakdown(None, ())
    endpoint = requests.column("endpoint").combine_chunks()
    if pa.types.is_dictionary(endpoint.type):
        endpoint = endpoint.cast(endpoint.type.value_type)
    encoded = pc.dictionary_encode(endpoint, null_encoding="encode")
    code = to_numpy(encoded.indices, np.int64)
    names = encoded.dictionary.to_pylist()
    size = np.bincount(code, minlength=len(names))
    sums = {
        field: np.bincount(
            code, weights=to_numpy(requests.column(column), np.float64), minlength=len(names)
        )
        for field, column in _MEANS.items()
    }
    overall = BreakdownRow(
        endpoint=ALL_ENDPOINTS,
        requests=count,
        **{field: float(total.sum()) / count for field, total in sums.items()},
    )
    # By total time, then name (a request without an endpoint name last).
    order = sorted(
        range(len(names)),
        key=lambda i: (-sums["duration_ms"][i], names[i] is None, names[i] or ""),
    )
    rows = tuple(
        BreakdownRow(
            endpoint=names[i],
            requests=int(size[i]),
            **{field: float(total[i] / size[i]) for field, total in sums.items()},
        )
        for i in order
    )
    return Breakdown(overall, rows)


def breakdown(spans: SpansOrPaths) -> Breakdown:
    """Mean self time (ms) and calls per request by layer, overall and per endpoint."""
    return breakdown_from(prepare_spans(spans))
