"""Result dataclasses of the analyses, convertible to Arrow, pandas and JSON-ready dicts.

Numbers are kept at full precision here; renderers round for display (the JSON
renderer to 3 decimals).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import pyarrow as pa
from spanscope.analyzer.diagnostics import Diagnostics


@dataclass(frozen=True)
class EndpointStats:
    """Latency and time breakdown of one endpoint (``"GET books/"``); times in ms."""

    endpoint: str
    requests: int
    errors: int
    error_rate: float  # errors / requests
    satisfied: int  # Apdex: not an error, at most T
    tolerating: int  # not an error, above T and at most 4T
    frustrated: int  # an error, or above 4T
    apdex: float  # (satisfied + tolerating / 2) / requests
    mean_ms: float
    p50_ms: float
    p90_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    total_ms: float
    db_ms: float  # mean per request
    app_ms: float  # mean per request: time not covered by any child span
    queries_per_request: float


def _endpoint_column_type(name: str) -> pa.DataType:
    if name == "endpoint":
        return pa.string()
    counts = ("requests", "errors", "satisfied", "tolerating", "frustrated")
    return pa.int64() if name in counts else pa.float64()


_ENDPOINT_ARROW_SCHEMA = pa.schema(
    [pa.field(f.name, _endpoint_column_type(f.name)) for f in fields(EndpointStats)]
)


@dataclass(frozen=True)
class EndpointsResult:
    """Endpoints ranked by total time, descending."""

    rows: tuple[EndpointStats, ...]

    def __iter__(self) -> Iterator[EndpointStats]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def to_arrow(self) -> pa.Table:
        return pa.Table.from_pylist(
            [asdict(row) for row in self.rows], schema=_ENDPOINT_ARROW_SCHEMA
        )

    def to_pandas(self) -> Any:
        """A ``pandas.DataFrame`` (pandas is optional, hence typed ``Any``)."""
        return self.to_arrow().to_pandas()

    def to_dicts(self) -> list[dict[str, Any]]:
        return [asdict(row) for row in self.rows]


@dataclass(frozen=True)
class CodeLocation:
    file: str
    line: int | None
    function: str | None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where} in {self.function}" if self.function else where


@dataclass(frozen=True)
class NPlusOneFinding:
    """The same normalized statement run ``repeats`` times under one parent span.

    ``repeats`` is the count in the worst affected request (``example_trace_id``);
    ``wasted_ms`` sums, over the affected requests, the time covered by the repeated
    queries minus one query's mean time: what a single batched query would save.
    """

    endpoint: str
    statement: str
    parent: str | None  # name of the span the repeated queries hang under
    repeats: int
    requests: int
    wasted_ms: float
    example_trace_id: str
    code: CodeLocation | None
    relation: str | None
    relation_kind: str | None
    lookup: str | None
    suggestion: str | None
    # "parent": the repeats share one parent span; "request": they are spread over
    # several parents in one request (``parent`` is then the most common one)
    level: str = "parent"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["code"] = asdict(self.code) if self.code else None
        return data


def findings_to_arrow(findings: list[NPlusOneFinding]) -> pa.Table:
    """N+1 findings as an Arrow table (``code`` flattened to ``code_file``/``_line``/``_function``)."""
    rows = []
    for finding in findings:
        row = finding.to_dict()
        code = row.pop("code") or {}
        row["code_file"] = code.get("file")
        row["code_line"] = code.get("line")
        row["code_function"] = code.get("function")
        rows.append(row)
    return pa.Table.from_pylist(rows, schema=_FINDINGS_ARROW_SCHEMA)


_FINDINGS_ARROW_SCHEMA = pa.schema(
    [
        pa.field(name, type_)
        for name, type_ in (
            ("endpoint", pa.string()),
            ("statement", pa.string()),
            ("parent", pa.string()),
            ("repeats", pa.int64()),
            ("requests", pa.int64()),
            ("wasted_ms", pa.float64()),
            ("example_trace_id", pa.string()),
            ("relation", pa.string()),
            ("relation_kind", pa.string()),
            ("lookup", pa.string()),
            ("suggestion", pa.string()),
            ("code_file", pa.string()),
            ("code_line", pa.int64()),
            ("code_function", pa.string()),
            ("level", pa.string()),
        )
    ]
)


@dataclass(frozen=True)
class BreakdownRow:
    """Where one endpoint's requests (or all requests) spend their time.

    ``<layer>_ms`` is the mean per request of the summed *self time* of the
    request's spans of that layer -- each span's duration minus the union of its
    children's intervals -- and ``app_ms`` the request span's own self time; unless
    sibling spans overlap in time, the six add up to ``duration_ms``.  ``<layer>_calls`` is the mean number of such spans
    per request.
    """

    endpoint: str  # ``ALL_ENDPOINTS`` for the overall row
    requests: int
    duration_ms: float
    app_ms: float
    db_ms: float
    cache_ms: float
    template_ms: float
    http_ms: float
    other_ms: float
    db_calls: float
    cache_calls: float
    template_calls: float
    http_calls: float
    other_calls: float


ALL_ENDPOINTS = "(all)"


@dataclass(frozen=True)
class Breakdown:
    """Self time by layer, overall and per endpoint (endpoints by total time, descending)."""

    overall: BreakdownRow | None  # None when there are no requests
    endpoints: tuple[BreakdownRow, ...]

    def to_arrow(self) -> pa.Table:
        """One row per endpoint, the overall row first."""
        rows = ([self.overall] if self.overall else []) + list(self.endpoints)
        return pa.Table.from_pylist([asdict(row) for row in rows], schema=_BREAKDOWN_ARROW_SCHEMA)

    def to_pandas(self) -> Any:
        """A ``pandas.DataFrame`` (pandas is optional, hence typed ``Any``)."""
        return self.to_arrow().to_pandas()

    def to_dict(self) -> dict[str, Any]:
        return {
            "overall": asdict(self.overall) if self.overall else None,
            "endpoints": [asdict(row) for row in self.endpoints],
        }


_BREAKDOWN_ARROW_SCHEMA = pa.schema(
    [
        pa.field(
            f.name,
            pa.string()
            if f.name == "endpoint"
            else pa.int64()
            if f.name == "requests"
            else pa.float64(),
        )
        for f in fields(BreakdownRow)
    ]
)


@dataclass(frozen=True)
class DuplicateFinding:
    """The exact same query (same template *and* same parameters) run ``copies`` times
    in one request: its result could have been reused.

    Parameters are known equal when the spans carry the same
    ``spanscope.db.params_hash``, or when the statement text holds its values inline
    (no placeholders) and the texts are identical.
    """

    endpoint: str
    statement: str
    copies: int  # in the worst affected request
    requests: int
    wasted_ms: float  # summed over requests: union of the copies minus one copy
    example_trace_id: str
    code: CodeLocation | None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["code"] = asdict(self.code) if self.code else None
        return data


@dataclass(frozen=True)
class SlowStatement:
    """Latency of one normalized statement over every request that ran it (ms)."""

    statement: str
    count: int
    total_ms: float
    mean_ms: float
    p95_ms: float
    max_ms: float
    endpoints: tuple[str, ...]  # by time spent in this statement, descending

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["endpoints"] = list(self.endpoints)
        return data


@dataclass(frozen=True)
class HttpNPlusOneFinding:
    """The same backend call (method + parameterized URL) made again and again in one
    request: under one parent span, or spread over several (``level``).

    ``repeats``, ``requests``, ``wasted_ms`` and ``example_trace_id`` are counted as
    for :class:`NPlusOneFinding`.
    """

    endpoint: str
    method: str
    url: str  # ids in path segments and query values replaced by ``{id}``
    parent: str | None  # name of the span the calls run under (the most common one)
    repeats: int
    requests: int
    wasted_ms: float
    example_trace_id: str
    # "parent": the calls share one parent span; "request": they are spread over
    # several parents in one request (``parent`` is then the most common one)
    level: str = "parent"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class InputStats:
    files: int
    spans: int
    traces: int
    skipped_records: int


@dataclass(frozen=True)
class AnalysisReport:
    """Everything ``spanscope analyze`` reports, in one value."""

    spanscope_version: str
    input: InputStats
    endpoints: EndpointsResult
    n_plus_one: list[NPlusOneFinding]
    min_repeats: int
    diagnostics: Diagnostics = field(default_factory=Diagnostics, compare=False)
    breakdown: Breakdown = field(default_factory=lambda: Breakdown(None, ()))
    duplicates: list[DuplicateFinding] = field(default_factory=list)
    slow_queries: list[SlowStatement] = field(default_factory=list)
    n_plus_one_http: list[HttpNPlusOneFinding] = field(default_factory=list)
    group_by: str = "route"  # how requests were keyed into endpoints
    apdex_ms: float = 500.0  # the Apdex target T the endpoints were scored against

    def to_dict(self) -> dict[str, Any]:
        """Unrounded JSON-ready data (see :mod:`spanscope.analyzer.render.json` for the contract)."""
        return {
            "spanscope_version": self.spanscope_version,
            "options": {
                "min_repeats": self.min_repeats,
                "group_by": self.group_by,
                "apdex_ms": self.apdex_ms,
            },
            "input": asdict(self.input),
            "endpoints": self.endpoints.to_dicts(),
            "n_plus_one": [finding.to_dict() for finding in self.n_plus_one],
            "n_plus_one_http": [finding.to_dict() for finding in self.n_plus_one_http],
            "duplicates": [finding.to_dict() for finding in self.duplicates],
            "slow_queries": [statement.to_dict() for statement in self.slow_queries],
            "breakdown": self.breakdown.to_dict(),
        }
