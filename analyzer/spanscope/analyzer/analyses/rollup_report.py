"""The analyses of ``spanscope analyze`` over a prepared file's rollups
(:mod:`.rollups`): the same report the span table gives, from a few short tables."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
from spanscope.analyzer.analyses.breakdown import breakdown_of
from spanscope.analyzer.analyses.duplicates import CODE_COLUMNS, duplicate_findings
from spanscope.analyzer.analyses.endpoints import endpoints_of
from spanscope.analyzer.analyses.nplusone import located_counts, n_plus_one_findings
from spanscope.analyzer.analyses.nplusone_rollup import groups_at
from spanscope.analyzer.analyses.rollups import Rollups, stored_request_columns
from spanscope.analyzer.analyses.slow_queries import slow_statements
from spanscope.analyzer.analyses.threads import analysis_pool
from spanscope.analyzer.errors import UnreadableInputError
from spanscope.analyzer.prepared_format import Marker, read_rollup_tables
from spanscope.analyzer.report import (
    Breakdown,
    DuplicateFinding,
    EndpointsResult,
    HttpNPlusOneFinding,
    NPlusOneFinding,
    SlowStatement,
)


@dataclass(frozen=True)
class Results:
    """The analyses' part of an :class:`~spanscope.analyzer.report.AnalysisReport`."""

    endpoints: EndpointsResult
    n_plus_one: list[NPlusOneFinding]
    breakdown: Breakdown
    duplicates: list[DuplicateFinding]
    slow_queries: list[SlowStatement]
    n_plus_one_http: list[HttpNPlusOneFinding]


def read_rollups(path: str, marker: Marker, group_by: str) -> Rollups:
    """The rollups of the prepared file at ``path`` (whose current marker is ``marker``),
    the requests' endpoints keyed by ``group_by`` alone."""
    only = {"requests": stored_request_columns(group_by)}
    try:
        return Rollups.from_tables(read_rollup_tables(path, marker, only))
    except (pa.ArrowException, OSError, KeyError) as err:
        raise UnreadableInputError(
            f"{path}: damaged Parquet file ({err})", "re-create it with `spanscope convert`"
        ) from None


def rollup_results(
    rollups: Rollups, *, min_repeats: int, group_by: str, apdex_ms: float
) -> Results:
    """Every analysis of ``analyze`` on ``rollups`` with these options (checked by the
    caller).  No HTTP N+1: a file with HTTP client spans is not analysed from rollups."""
    requests = rollups.requests_by(group_by)
    # The rollups are small (a row per request, per statement template, per group),
    # so the analyses run side by side with no memory to weigh against: each is a
    # few DuckDB and Arrow calls, which release the GIL.  Longest first.
    with analysis_pool() as pool:
        n_plus_one = pool.submit(_n_plus_one, rollups, requests, min_repeats)
        endpoints = pool.submit(endpoints_of, requests, apdex_ms)
        slow_queries = pool.submit(slow_statements, rollups.times, requests, rollups.templates)
        duplicates = pool.submit(_duplicates, rollups, requests)
        breakdown = pool.submit(breakdown_of, requests)
        return Results(
            endpoints=endpoints.result(),
            n_plus_one=n_plus_one.result(),
            breakdown=breakdown.result(),
            duplicates=duplicates.result(),
            slow_queries=slow_queries.result(),
            n_plus_one_http=[],
        )


def _n_plus_one(rollups: Rollups, requests: pa.Table, min_repeats: int) -> list[NPlusOneFinding]:
    selected = groups_at(rollups.n_plus_one, min_repeats)
    return n_plus_one_findings(
        selected.groups,
        selected.spread,
        requests,
        rollups.templates,
        located_counts(selected.sites, rollups.sites),
    )


def _duplicates(rollups: Rollups, requests: pa.Table) -> list[DuplicateFinding]:
    duplicates = rollups.duplicates
    code = located_counts(duplicates.sites, rollups.sites).select(["gid", *CODE_COLUMNS, "c"])
    return duplicate_findings(duplicates.groups, code, requests, rollups.templates)
