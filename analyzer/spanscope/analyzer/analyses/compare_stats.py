"""Per-endpoint samples of a request table, their summaries, and the before/after verdict.

The verdict asks two questions, both of which must say yes before a change is
called one: is the difference larger than noise (a two-sided Mann-Whitney U test
on the per-request durations, rank-based, so one slow outlier does not decide it),
and is it large enough to matter (a minimum relative change of the chosen
statistic)?  With very few requests no test can reach significance -- one request
before and one after can never give p < 0.05 -- and that case gets its own verdict
rather than a misleading "no significant change".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Final, Literal, cast

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
from spanscope.analyzer.config import CompareOptions

Verdict = Literal["faster", "slower", "no significant change", "too few requests", "new", "gone"]

FASTER: Final = "faster"
SLOWER: Final = "slower"
NO_CHANGE: Final = "no significant change"
TOO_FEW: Final = "too few requests"
NEW: Final = "new"
GONE: Final = "gone"


@dataclass(frozen=True)
class Sample:
    """One endpoint's requests: durations (ms), DB query counts and trace ids, row-aligned."""

    durations_ms: npt.NDArray[np.float64]
    queries: npt.NDArray[np.int64]
    trace_ids: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.durations_ms)


@dataclass(frozen=True)
class Summary:
    """Latency of one endpoint in one version; times in ms."""

    requests: int
    mean_ms: float
    p50_ms: float
    p95_ms: float
    queries_per_request: float
    max_queries: int

    def stat(self, name: str) -> float:
        value: float = getattr(self, f"{name}_ms")
        return value


def endpoint_samples(requests: pa.Table) -> dict[str, Sample]:
    """Split a request table (see :mod:`spanscope.analyzer.requests`) by endpoint."""
    if requests.num_rows == 0:
        return {}
    encoded = cast(
        "pa.DictionaryArray[Any, Any]",
        pc.dictionary_encode(requests.column("endpoint")).combine_chunks(),
    )
    codes = encoded.indices.to_numpy(zero_copy_only=False)
    names = encoded.dictionary.to_pylist()
    order = np.argsort(codes, kind="stable")
    bounds = np.flatnonzero(np.diff(codes[order])) + 1
    durations = requests.column("duration_ms").to_numpy().astype(np.float64)
    queries = requests.column("queries").to_numpy().astype(np.int64)
    trace_ids = np.asarray(requests.column("TraceId").to_pylist(), dtype=object)
    samples = {}
    for rows in np.split(order, bounds):
        samples[names[codes[rows[0]]]] = Sample(
            durations[rows], queries[rows], tuple(trace_ids[rows].tolist())
        )
    return samples


def summarize(sample: Sample) -> Summary:
    # numpy's default "linear" percentile equals DuckDB's quantile_cont used by `endpoints`.
    p50, p95 = np.percentile(sample.durations_ms, [50, 95])
    return Summary(
        requests=len(sample),
        mean_ms=float(np.mean(sample.durations_ms)),
        p50_ms=float(p50),
        p95_ms=float(p95),
        queries_per_request=float(np.mean(sample.queries)),
        max_queries=int(np.max(sample.queries)),
    )


def relative_change_pct(before: float, after: float) -> float | None:
    """``(after - before) / before`` in percent; ``None`` when ``before`` is zero."""
    return None if before == 0 else (after - before) / before * 100.0


def smallest_p_value(n_before: int, n_after: int) -> float:
    """The smallest two-sided p-value Mann-Whitney U can give for these sample sizes.

    Reached when the two samples do not overlap at all: 2 / C(n1 + n2, n1).
    """
    # Integer division of Python ints never overflows (2 / C(2000, 1000) is simply 0.0).
    return min(1.0, 2 / math.comb(n_before + n_after, n_before))


def mann_whitney_p(before: Sample, after: Sample) -> float:
    """Two-sided Mann-Whitney U p-value of the durations (1.0 when all values are equal)."""
    # Imported here: scipy.stats takes a noticeable part of a second to import, and
    # every CLI command imports this module just to register itself.
    from scipy.stats import mannwhitneyu

    result = mannwhitneyu(before.durations_ms, after.durations_ms, alternative="two-sided")
    p_value = float(result.pvalue)
    return 1.0 if math.isnan(p_value) else p_value


@dataclass(frozen=True)
class Judgement:
    """The outcome of comparing one endpoint's two samples."""

    verdict: Verdict
    p_value: float | None
    change_pct: float | None  # of ``options.metric``


def judge(before: Sample | None, after: Sample | None, options: CompareOptions) -> Judgement:
    """The verdict for one endpoint (see the module docstring)."""
    if before is None or len(before) == 0:
        return Judgement(NEW, None, None)
    if after is None or len(after) == 0:
        return Judgement(GONE, None, None)
    change = relative_change_pct(
        summarize(before).stat(options.metric), summarize(after).stat(options.metric)
    )
    if smallest_p_value(len(before), len(after)) >= options.alpha:
        return Judgement(TOO_FEW, None, change)
    p_value = mann_whitney_p(before, after)
    if p_value >= options.alpha or change is None or abs(change) < options.min_change_pct:
        return Judgement(NO_CHANGE, p_value, change)
    return Judgement(SLOWER if change > 0 else FASTER, p_value, change)
