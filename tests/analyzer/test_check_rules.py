"""``check``: each budget of ``[tool.spanscope.check]`` passes or fails per endpoint."""

from __future__ import annotations

import numpy as np
import pytest
from compare_workloads import AUTHOR, AUTHOR_LINE, Endpoint, latencies, request_rows
from spanscope.analyzer.analyses.check import CheckResult, check
from spanscope.analyzer.analyses.compare import Measurement
from spanscope.analyzer.config import Acknowledgment, CheckConfig, Config, GlobLimits
from spanscope.analyzer.errors import UsageError
from spanscope.analyzer.report import NPlusOneFinding

BOOKS = Endpoint("books/", 120)
AUTHORS = Endpoint("authors/", 30)


def n_plus_one(
    endpoint: str, statement: str, relation: str | None = AUTHOR.relation
) -> NPlusOneFinding:
    return NPlusOneFinding(
        endpoint=endpoint,
        statement=statement,
        parent=None,
        repeats=200,
        requests=10,
        wasted_ms=2_000.0,
        example_trace_id="a" * 32,
        code=AUTHOR_LINE,
        relation=relation,
        relation_kind=AUTHOR.kind,
        lookup=AUTHOR.lookup,
        suggestion='select_related("author")',
    )


AUTHOR_N1 = n_plus_one("GET books/", "SELECT author WHERE id = ?")
PUBLISHER_N1 = n_plus_one("GET books/", "SELECT publisher WHERE id = ?", "inventory.Book.publisher")


def app(
    seed: int = 0,
    *,
    slower: float = 1.0,
    findings: tuple[NPlusOneFinding, ...] = (),
    count: int = 200,
) -> Measurement:
    """An app with ``GET books/`` (120 ms, 21 queries) and ``GET authors/`` (30 ms, 2)."""
    rng = np.random.default_rng(seed)
    draws = {
        "GET books/": latencies(BOOKS, count, rng) * slower,
        "GET authors/": latencies(AUTHORS, count, rng),
    }
    return Measurement(request_rows(draws, queries={"GET books/": 21, "GET authors/": 2}), findings)


def run(
    measurement: Measurement, baseline: Measurement | None = None, **budgets: object
) -> CheckResult:
    acknowledged = budgets.pop("acknowledged", ())
    config = Config(check=CheckConfig(**budgets), acknowledged=acknowledged)  # type: ignore[arg-type]
    return check(measurement, config, baseline=baseline)


def outcome_of(result: CheckResult, rule: str, scope: str) -> tuple[bool, str]:
    for outcome in result.outcomes:
        if outcome.rule == f"spanscope/{rule}" and outcome.scope == scope:
            return outcome.passed, outcome.message
    raise AssertionError(f"no {rule} outcome for {scope}")


def test_no_budget_configured_is_a_usage_error_with_an_example() -> None:
    with pytest.raises(UsageError, match=r"nothing to check.*hint: add one, e.g."):
        check(app(), Config())


def test_input_without_requests_is_a_usage_error() -> None:
    empty = Measurement(request_rows({}))
    with pytest.raises(UsageError, match="no requests"):
        run(empty, max_n_plus_one=0)


def test_within_every_budget_passes_with_exit_code_zero() -> None:
    result = run(
        app(),
        max_n_plus_one=0,
        p95_budget_ms=GlobLimits((("*", 1_000),)),
        max_queries_per_request=GlobLimits((("*", 50),)),
    )
    assert result.passed and result.exit_code == 0
    assert len(result.outcomes) == 1 + 2 + 2  # the total, then one per endpoint and rule


def test_n_plus_one_total_over_budget_fails_and_lists_the_findings() -> None:
    result = run(app(findings=(AUTHOR_N1, PUBLISHER_N1)), max_n_plus_one=1)
    assert result.exit_code == 1
    (failure,) = result.failures
    assert (failure.scope, failure.actual, failure.limit) == ("all endpoints", 2, 1)
    assert failure.findings == (AUTHOR_N1, PUBLISHER_N1)


def test_n_plus_one_per_endpoint_budget_applies_to_matching_endpoints_only() -> None:
    result = run(
        app(findings=(AUTHOR_N1,)),
        max_n_plus_one_per_endpoint=GlobLimits((("GET books/*", 0),)),
    )
    assert [o.scope for o in result.outcomes] == ["GET books/"]
    assert outcome_of(result, "n-plus-one", "GET books/") == (
        False,
        "1 N+1 finding, at most 0 allowed",
    )


def test_p95_budget_first_matching_glob_wins() -> None:
    result = run(app(), p95_budget_ms=GlobLimits((("GET books/*", 100), ("*", 1_000))))
    passed, message = outcome_of(result, "p95-budget", "GET books/")
    assert not passed and "budget 100.0 ms" in message
    assert outcome_of(result, "p95-budget", "GET authors/")[0]


def test_p95_budget_compares_the_endpoints_95th_percentile() -> None:
    measurement = app()
    books = measurement.requests.filter(
        measurement.requests.column("endpoint").to_numpy(zero_copy_only=False) == "GET books/"
    )
    p95 = float(np.percentile(books.column("duration_ms").to_numpy(), 95))
    just_above = run(measurement, p95_budget_ms=GlobLimits((("GET books/", p95 * 1.001),)))
    just_below = run(measurement, p95_budget_ms=GlobLimits((("GET books/", p95 * 0.999),)))
    assert (just_above.passed, just_below.passed) == (True, False)


def test_queries_per_request_names_the_busiest_request() -> None:
    result = run(app(), max_queries_per_request=GlobLimits((("*", 20),)))
    (failure,) = result.failures
    assert (failure.scope, failure.actual) == ("GET books/", 21)
    assert failure.trace_id is not None and failure.trace_id in failure.message


def test_a_significant_regression_beyond_the_limit_fails() -> None:
    result = run(app(1, slower=1.3), baseline=app(2), max_regression_pct=10)
    passed, message = outcome_of(result, "regression", "GET books/")
    assert not passed and "significant" in message
    assert outcome_of(result, "regression", "GET authors/")[0]


def test_noise_between_two_runs_is_not_a_regression() -> None:
    result = run(app(3), baseline=app(4), max_regression_pct=0)
    assert result.passed, [o.message for o in result.failures]


def test_a_slower_run_with_too_few_requests_is_not_counted() -> None:
    result = run(app(5, slower=3.0, count=2), baseline=app(6, count=2), max_regression_pct=10)
    passed, message = outcome_of(result, "regression", "GET books/")
    assert passed and "too few requests" in message


def test_regression_budget_without_a_baseline_is_noted_not_failed() -> None:
    result = run(app(), max_regression_pct=10, max_n_plus_one=5)
    assert result.passed
    assert any("no baseline" in note for note in result.notes)


def test_acknowledged_findings_are_silenced_and_reported_with_their_reason() -> None:
    ack = Acknowledgment("GET books/*", "publisher is cached", relation="inventory.Book.publisher")
    result = run(app(findings=(AUTHOR_N1, PUBLISHER_N1)), max_n_plus_one=1, acknowledged=(ack,))
    assert result.passed
    (accepted,) = result.acknowledged
    assert (accepted.finding, accepted.acknowledgment.reason) == (
        PUBLISHER_N1,
        "publisher is cached",
    )
    assert outcome_of(result, "n-plus-one", "all endpoints")[0]


def test_acknowledgment_by_statement_matches_only_that_statement() -> None:
    ack = Acknowledgment("GET books/", "accepted", statement=AUTHOR_N1.statement)
    result = run(app(findings=(AUTHOR_N1, PUBLISHER_N1)), max_n_plus_one=0, acknowledged=(ack,))
    assert [item.finding for item in result.acknowledged] == [AUTHOR_N1]
    assert result.failures[0].findings == (PUBLISHER_N1,)


def test_an_acknowledgment_matching_nothing_is_reported_as_unused() -> None:
    stale = Acknowledgment("GET shelves/", "fixed long ago", relation="inventory.Shelf.books")
    result = run(app(findings=(AUTHOR_N1,)), max_n_plus_one=5, acknowledged=(stale,))
    assert result.unused_acknowledgments == (stale,)
