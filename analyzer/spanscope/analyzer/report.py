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
    return pa.int64() if name in ("requests", "errors") else pa.float64()


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
        )
    ]
)


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

    def to_dict(self) -> dict[str, Any]:
        """Unrounded JSON-ready data (see :mod:`spanscope.analyzer.render.json` for the contract)."""
        return {
            "spanscope_version": self.spanscope_version,
            "options": {"min_repeats": self.min_repeats},
            "input": asdict(self.input),
            "endpoints": self.endpoints.to_dicts(),
            "n_plus_one": [finding.to_dict() for finding in self.n_plus_one],
        }
