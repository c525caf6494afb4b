"""``compare(before, after)``: did a change make each endpoint faster, slower, or nothing at all?

Each side is a span table, dump files/folders/globs, or a :class:`Measurement`
(a request table plus N+1 findings, for callers that already have them).  Per
endpoint the result gives requests, mean/p50/p95 before and after with their
absolute and relative change, queries per request, the Mann-Whitney U p-value and
a verdict (see :mod:`spanscope.analyzer.analyses.compare_stats`); N+1 findings are
matched on (endpoint, normalized statement) and listed as resolved, remaining or new.

    from spanscope.analyzer.analyses.compare import compare
    result = compare("before/", "after/")
    result.endpoints_to_pandas()
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Final, Literal

import pyarrow as pa
from spanscope.analyzer.analyses.analysis_input import RollupInput, SpilledInput, analysis_input
from spanscope.analyzer.analyses.analyze import spanscope_version
from spanscope.analyzer.analyses.compare_stats import (
    FASTER,
    GONE,
    NEW,
    NO_CHANGE,
    SLOWER,
    TOO_FEW,
    Sample,
    Summary,
    Verdict,
    endpoint_samples,
    judge,
    relative_change_pct,
    summarize,
)
from spanscope.analyzer.analyses.endpoints import DEFAULT_APDEX_MS
from spanscope.analyzer.analyses.grouping import DEFAULT_GROUP_BY, check_group_by, regroup
from spanscope.analyzer.analyses.inputs import SpansOrPaths
from spanscope.analyzer.analyses.nplusone import (
    DEFAULT_MIN_REPEATS,
    check_min_repeats,
    n_plus_one_from,
)
from spanscope.analyzer.analyses.partitioned import (
    DEFAULT_MEMORY_SPANS,
    check_memory_spans,
    in_request_order,
    partitioned_results,
)
from spanscope.analyzer.config import CompareOptions
from spanscope.analyzer.diagnostics import Diagnostics
from spanscope.analyzer.load import PartitionedRead
from spanscope.analyzer.report import NPlusOneFinding
from spanscope.analyzer.requests import public_request_table

NPlusOneStatus = Literal["resolved", "remaining", "new"]

# Regressions first: they are what a reviewer must see; then wins, then the rest.
_VERDICT_ORDER: Final = {SLOWER: 0, FASTER: 1, NEW: 2, GONE: 3, TOO_FEW: 4, NO_CHANGE: 5}


@dataclass(frozen=True)
class Measurement:
    """What one version of an app measured: its requests and its N+1 findings."""

    requests: pa.Table  # the columns of spanscope.analyzer.requests.request_table
    findings: tuple[NPlusOneFinding, ...] = ()
    files: tuple[str, ...] = ()
    diagnostics: Diagnostics = field(default_factory=Diagnostics, compare=False)


def measure(
    source: SpansOrPaths | Measurement,
    *,
    min_repeats: int = DEFAULT_MIN_REPEATS,
    input_format: str | None = None,
    strict: bool = False,
    group_by: str = DEFAULT_GROUP_BY,
    memory_spans: int | None = DEFAULT_MEMORY_SPANS,
) -> Measurement:
    """The request table and N+1 findings of a span table or of dump files, with
    requests keyed into endpoints as ``group_by`` says (route, url or name).

    One finding per (endpoint, normalized statement) -- the worst -- is kept: the
    unit that compare matches and check counts, however many parent spans (or
    nesting levels) the same statement repeated under.  Dumps of more than
    ``memory_spans`` spans are measured that many spans at a time, as ``analyze``
    analyses them (:mod:`.partitioned`; None: all at once, in memory).
    """
    if isinstance(source, Measurement):
        return source
    check_min_repeats(min_repeats)
    check_group_by(group_by)
    if memory_spans is not None:
        check_memory_spans(memory_spans)
    loaded = analysis_input(
        source,
        input_format=input_format,
        strict=strict,
        group_by=group_by,
        rollups=False,
        memory_spans=memory_spans,
    )
    if isinstance(loaded, SpilledInput):
        return _measure_spilled(loaded.read, loaded.memory_spans, min_repeats, group_by)
    assert not isinstance(loaded, RollupInput)  # rollups=False
    # One span tree for both: the request table and the findings.
    prepared = regroup(loaded.prepared, group_by)
    findings = n_plus_one_from(prepared, loaded.statements, min_repeats, loaded.keys)
    return Measurement(
        requests=public_request_table(prepared),
        findings=tuple(_by_key(findings).values()),
        files=tuple(loaded.files),
        diagnostics=loaded.diagnostics,
    )


def _measure_spilled(
    read: PartitionedRead, memory_spans: int, min_repeats: int, group_by: str
) -> Measurement:
    try:
        spilled = partitioned_results(
            read,
            memory_spans=memory_spans,
            min_repeats=min_repeats,
            group_by=group_by,
            apdex_ms=DEFAULT_APDEX_MS,  # endpoints' Apdex is not measured
            keep=lambda prepared, _: public_request_table(regroup(prepared, group_by)),
        )
    finally:
        read.close()
    return Measurement(
        requests=in_request_order(spilled.kept),
        findings=tuple(_by_key(spilled.results.n_plus_one).values()),
        files=tuple(read.files),
        diagnostics=read.diagnostics,
    )


@dataclass(frozen=True)
class Change:
    """After minus before, absolute (ms, queries) and relative (percent, ``None`` from 0)."""

    mean_ms: float
    mean_pct: float | None
    p50_ms: float
    p50_pct: float | None
    p95_ms: float
    p95_pct: float | None
    queries_per_request: float

    @classmethod
    def between(cls, before: Summary, after: Summary) -> Change:
        return cls(
            mean_ms=after.mean_ms - before.mean_ms,
            mean_pct=relative_change_pct(before.mean_ms, after.mean_ms),
            p50_ms=after.p50_ms - before.p50_ms,
            p50_pct=relative_change_pct(before.p50_ms, after.p50_ms),
            p95_ms=after.p95_ms - before.p95_ms,
            p95_pct=relative_change_pct(before.p95_ms, after.p95_ms),
            queries_per_request=after.queries_per_request - before.queries_per_request,
        )


@dataclass(frozen=True)
class EndpointChange:
    endpoint: str
    verdict: Verdict
    before: Summary | None
    after: Summary | None
    change: Change | None  # None for new and gone endpoints
    p_value: float | None  # Mann-Whitney U, two-sided; None when no test could run
    n_plus_one_before: int  # N+1 findings on this endpoint
    n_plus_one_after: int

    @property
    def speedup(self) -> float | None:
        """Before mean / after mean (50.0 = fifty times faster)."""
        if self.before is None or self.after is None or self.after.mean_ms == 0:
            return None
        return self.before.mean_ms / self.after.mean_ms

    def to_dict(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint,
            "verdict": self.verdict,
            "p_value": self.p_value,
            "speedup": self.speedup,
            "before": _summary_dict(self.before, self.n_plus_one_before),
            "after": _summary_dict(self.after, self.n_plus_one_after),
            "change": asdict(self.change) if self.change is not None else None,
        }


def _summary_dict(summary: Summary | None, n_plus_one_findings: int) -> dict[str, Any] | None:
    if summary is None:
        return None
    return {**asdict(summary), "n_plus_one": n_plus_one_findings}


@dataclass(frozen=True)
class NPlusOneChange:
    status: NPlusOneStatus
    endpoint: str
    statement: str  # normalized
    before: NPlusOneFinding | None
    after: NPlusOneFinding | None

    @property
    def finding(self) -> NPlusOneFinding:
        """The most recent of the two findings (for its code location, relation and fix)."""
        found = self.after or self.before
        assert found is not None  # one side always exists by construction
        return found

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "endpoint": self.endpoint,
            "statement": self.statement,
            "before": self.before.to_dict() if self.before else None,
            "after": self.after.to_dict() if self.after else None,
        }


@dataclass(frozen=True)
class SideStats:
    files: int
    requests: int
    skipped_records: int


@dataclass(frozen=True)
class CompareResult:
    spanscope_version: str
    options: CompareOptions
    min_repeats: int
    before: SideStats
    after: SideStats
    endpoints: tuple[EndpointChange, ...]
    n_plus_one: tuple[NPlusOneChange, ...]

    def endpoint(self, name: str) -> EndpointChange:
        for row in self.endpoints:
            if row.endpoint == name:
                return row
        raise KeyError(name)

    def n_plus_one_with(self, status: NPlusOneStatus) -> list[NPlusOneChange]:
        return [change for change in self.n_plus_one if change.status == status]

    def to_dict(self) -> dict[str, Any]:
        """Unrounded JSON-ready data (see :mod:`spanscope.analyzer.render.compare_json`)."""
        return {
            "spanscope_version": self.spanscope_version,
            "options": {**asdict(self.options), "min_repeats": self.min_repeats},
            "before": asdict(self.before),
            "after": asdict(self.after),
            "endpoints": [row.to_dict() for row in self.endpoints],
            "n_plus_one": [change.to_dict() for change in self.n_plus_one],
        }

    def endpoints_to_arrow(self) -> pa.Table:
        """One flat row per endpoint (``before_mean_ms``, ``change_p95_pct``, ...)."""
        rows = [_flatten(row.to_dict()) for row in self.endpoints]
        return pa.Table.from_pylist(rows, schema=_endpoint_arrow_schema())

    def endpoints_to_pandas(self) -> Any:
        """A ``pandas.DataFrame`` of :meth:`endpoints_to_arrow` (pandas is optional)."""
        return self.endpoints_to_arrow().to_pandas()


def _endpoint_arrow_schema() -> pa.Schema:
    """Flat columns of :meth:`CompareResult.endpoints_to_arrow`, fixed even when a side is missing."""
    columns: list[pa.Field[Any]] = [
        pa.field("endpoint", pa.string()),
        pa.field("verdict", pa.string()),
        pa.field("p_value", pa.float64()),
        pa.field("speedup", pa.float64()),
    ]
    for side in ("before", "after"):
        for item in (*fields(Summary), *fields(_NPlusOneCount)):
            counted = item.name in ("requests", "max_queries", "n_plus_one")
            columns.append(pa.field(f"{side}_{item.name}", pa.int64() if counted else pa.float64()))
    columns.extend(pa.field(f"change_{item.name}", pa.float64()) for item in fields(Change))
    return pa.schema(columns)


@dataclass(frozen=True)
class _NPlusOneCount:
    n_plus_one: int


def _flatten(data: dict[str, Any]) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            flat.update({f"{key}_{name}": item for name, item in value.items()})
        elif key not in ("before", "after", "change"):
            flat[key] = value
    return flat


def compare(
    before: SpansOrPaths | Measurement,
    after: SpansOrPaths | Measurement,
    *,
    options: CompareOptions | None = None,
    min_repeats: int = DEFAULT_MIN_REPEATS,
    input_format: str | None = None,
    strict: bool = False,
    group_by: str = DEFAULT_GROUP_BY,
    memory_spans: int | None = DEFAULT_MEMORY_SPANS,
) -> CompareResult:
    """Compare two versions of an app endpoint by endpoint (see the module docstring)."""
    opts = options or CompareOptions()
    read = functools.partial(
        measure,
        min_repeats=min_repeats,
        input_format=input_format,
        strict=strict,
        group_by=group_by,
        memory_spans=memory_spans,
    )
    old, new = read(before), read(after)
    return CompareResult(
        spanscope_version=spanscope_version(),
        options=opts,
        min_repeats=min_repeats,
        before=_side_stats(old),
        after=_side_stats(new),
        endpoints=compare_endpoints(old, new, opts),
        n_plus_one=compare_findings(old.findings, new.findings),
    )


def _side_stats(measurement: Measurement) -> SideStats:
    return SideStats(
        files=len(measurement.files),
        requests=measurement.requests.num_rows,
        skipped_records=measurement.diagnostics.skipped_records,
    )


def compare_endpoints(
    before: Measurement, after: Measurement, options: CompareOptions
) -> tuple[EndpointChange, ...]:
    """One :class:`EndpointChange` per endpoint seen on either side, regressions first."""
    old, new = endpoint_samples(before.requests), endpoint_samples(after.requests)
    old_counts, new_counts = _findings_per_endpoint(before), _findings_per_endpoint(after)
    rows = [
        _endpoint_change(
            name,
            old.get(name),
            new.get(name),
            options,
            old_counts.get(name, 0),
            new_counts.get(name, 0),
        )
        for name in sorted(old.keys() | new.keys())
    ]
    rows.sort(key=lambda row: (_VERDICT_ORDER[row.verdict], -_time_moved(row), row.endpoint))
    return tuple(rows)


def _findings_per_endpoint(measurement: Measurement) -> dict[str, int]:
    counts: dict[str, int] = {}
    for finding in measurement.findings:
        counts[finding.endpoint] = counts.get(finding.endpoint, 0) + 1
    return counts


def _time_moved(row: EndpointChange) -> float:
    """How much request time the change moved: |mean change| x requests after."""
    if row.change is None or row.after is None:
        summary = row.after or row.before
        return summary.mean_ms * summary.requests if summary else 0.0
    return abs(row.change.mean_ms) * row.after.requests


def _endpoint_change(
    name: str,
    before: Sample | None,
    after: Sample | None,
    options: CompareOptions,
    n_plus_one_before: int,
    n_plus_one_after: int,
) -> EndpointChange:
    test = judge(before, after, options)
    old = summarize(before) if before is not None else None
    new = summarize(after) if after is not None else None
    return EndpointChange(
        endpoint=name,
        verdict=test.verdict,
        before=old,
        after=new,
        change=Change.between(old, new) if old is not None and new is not None else None,
        p_value=test.p_value,
        n_plus_one_before=n_plus_one_before,
        n_plus_one_after=n_plus_one_after,
    )


def compare_findings(
    before: Iterable[NPlusOneFinding], after: Iterable[NPlusOneFinding]
) -> tuple[NPlusOneChange, ...]:
    """N+1 findings matched on (endpoint, normalized statement): resolved, remaining, new.

    A key found under several parent spans keeps its worst finding (the analyses
    sort by wasted time, so the first one seen).
    """
    old, new = _by_key(before), _by_key(after)
    changes = []
    for key in list(old) + [key for key in new if key not in old]:
        was, now = old.get(key), new.get(key)
        status: NPlusOneStatus = "remaining" if was and now else "resolved" if was else "new"
        changes.append(NPlusOneChange(status, key[0], key[1], was, now))
    order = {"new": 0, "remaining": 1, "resolved": 2}
    changes.sort(key=lambda change: order[change.status])
    return tuple(changes)


def _by_key(findings: Iterable[NPlusOneFinding]) -> dict[tuple[str, str], NPlusOneFinding]:
    keyed: dict[tuple[str, str], NPlusOneFinding] = {}
    for finding in findings:
        keyed.setdefault((finding.endpoint, finding.statement), finding)
    return keyed
