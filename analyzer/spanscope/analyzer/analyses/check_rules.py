"""The rules of ``spanscope check``: each turns one budget of ``[tool.spanscope.check]`` into outcomes.

A rule yields one :class:`Outcome` per scope it covers (one endpoint, or all
endpoints for a total), passed or not, so CI reports can list what was checked
as well as what broke.  Rules are looked up in :data:`RULES`, in report order.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Final

from spanscope.analyzer.analyses.compare import Measurement
from spanscope.analyzer.analyses.compare_stats import (
    Sample,
    Summary,
    mann_whitney_p,
    relative_change_pct,
    smallest_p_value,
    summarize,
)
from spanscope.analyzer.config import CheckConfig, CompareOptions, GlobLimits
from spanscope.analyzer.report import NPlusOneFinding

ALL_ENDPOINTS: Final = "all endpoints"


@dataclass(frozen=True)
class Outcome:
    """One rule applied to one scope (an endpoint, or :data:`ALL_ENDPOINTS`)."""

    rule: str  # a Rule.id, e.g. "spanscope/p95-budget"
    scope: str
    passed: bool
    actual: float | None  # None when the rule could not measure (too few requests)
    limit: float
    setting: str  # the [tool.spanscope.check] key that set the limit
    pattern: str | None  # the endpoint glob of that key, for per-endpoint limits
    message: str
    findings: tuple[NPlusOneFinding, ...] = ()  # the N+1 findings counted
    trace_id: str | None = None  # an example request

    @property
    def setting_display(self) -> str:
        """``p95_budget_ms."GET books/*"``: the key and glob as written in TOML."""
        return self.setting if self.pattern is None else f'{self.setting}."{self.pattern}"'


@dataclass(frozen=True)
class CheckContext:
    """What the rules see: the measurement, its per-endpoint samples, the baseline."""

    config: CheckConfig
    options: CompareOptions  # significance level for the regression rule
    current: Measurement
    samples: dict[str, Sample]
    findings: tuple[NPlusOneFinding, ...]  # not acknowledged
    baseline: dict[str, Sample] | None = None
    summaries: dict[str, Summary] = field(default_factory=dict)

    def summary(self, endpoint: str) -> Summary:
        if endpoint not in self.summaries:
            self.summaries[endpoint] = summarize(self.samples[endpoint])
        return self.summaries[endpoint]

    def scoped(self, limits: GlobLimits) -> Iterator[tuple[str, str, float]]:
        """``(endpoint, pattern, limit)`` for every measured endpoint a pattern covers."""
        for endpoint in sorted(self.samples):
            match = limits.limit_for(endpoint)
            if match is not None:
                yield endpoint, match[0], match[1]


@dataclass(frozen=True)
class Rule:
    id: str
    title: str  # one line, for SARIF shortDescription and JUnit suite names
    help: str  # what it means and how to fix it
    evaluate: Callable[[CheckContext], list[Outcome]]


def _plural(count: int, noun: str, nouns: str | None = None) -> str:
    return f"{count:,} {noun if count == 1 else nouns or noun + 's'}"


def _ms(value: float) -> str:
    return f"{value:,.1f} ms"


def _n_plus_one(context: CheckContext) -> list[Outcome]:
    config = context.config
    outcomes = []
    if config.max_n_plus_one is not None:
        count = len(context.findings)
        outcomes.append(
            Outcome(
                rule=N_PLUS_ONE.id,
                scope=ALL_ENDPOINTS,
                passed=count <= config.max_n_plus_one,
                actual=count,
                limit=config.max_n_plus_one,
                setting="max_n_plus_one",
                pattern=None,
                message=f"{_plural(count, 'N+1 finding')}, at most {config.max_n_plus_one} allowed",
                findings=context.findings,
            )
        )
    for endpoint, pattern, limit in context.scoped(config.max_n_plus_one_per_endpoint):
        found = tuple(f for f in context.findings if f.endpoint == endpoint)
        outcomes.append(
            Outcome(
                rule=N_PLUS_ONE.id,
                scope=endpoint,
                passed=len(found) <= limit,
                actual=len(found),
                limit=limit,
                setting="max_n_plus_one_per_endpoint",
                pattern=pattern,
                message=f"{_plural(len(found), 'N+1 finding')}, at most {limit:g} allowed",
                findings=found,
            )
        )
    return outcomes


def _p95_budget(context: CheckContext) -> list[Outcome]:
    outcomes = []
    for endpoint, pattern, limit in context.scoped(context.config.p95_budget_ms):
        p95 = context.summary(endpoint).p95_ms
        passed = p95 <= limit
        outcomes.append(
            Outcome(
                rule=P95_BUDGET.id,
                scope=endpoint,
                passed=passed,
                actual=p95,
                limit=limit,
                setting="p95_budget_ms",
                pattern=pattern,
                message=f"p95 {_ms(p95)}, budget {_ms(limit)}"
                + ("" if passed else f" ({(p95 / limit - 1) * 100:+.0f}%)"),
            )
        )
    return outcomes


def _queries_per_request(context: CheckContext) -> list[Outcome]:
    outcomes = []
    for endpoint, pattern, limit in context.scoped(context.config.max_queries_per_request):
        sample = context.samples[endpoint]
        worst = int(sample.queries.argmax())
        most = int(sample.queries[worst])
        outcomes.append(
            Outcome(
                rule=QUERIES_PER_REQUEST.id,
                scope=endpoint,
                passed=most <= limit,
                actual=most,
                limit=limit,
                setting="max_queries_per_request",
                pattern=pattern,
                message=f"{_plural(most, 'query', 'queries')} in the busiest request, "
                f"{limit:g} allowed (trace {sample.trace_ids[worst]})",
                trace_id=sample.trace_ids[worst],
            )
        )
    return outcomes


def _regression(context: CheckContext) -> list[Outcome]:
    config = context.config
    if context.baseline is None or config.max_regression_pct is None:
        return []
    allowed = config.max_regression_pct
    metric = config.regression_metric
    outcomes = []
    for endpoint in sorted(context.samples.keys() & context.baseline.keys()):
        old, new = context.baseline[endpoint], context.samples[endpoint]
        before = summarize(old).stat(metric)
        change = relative_change_pct(before, context.summary(endpoint).stat(metric))
        outcome = functools.partial(
            Outcome,
            rule=REGRESSION.id,
            scope=endpoint,
            limit=allowed,
            setting="max_regression_pct",
            pattern=None,
        )
        if smallest_p_value(len(old), len(new)) >= context.options.alpha:
            outcomes.append(
                outcome(
                    passed=True,
                    actual=None,
                    message=f"too few requests to test ({len(old)} in the baseline, "
                    f"{len(new)} now)",
                )
            )
            continue
        p_value = mann_whitney_p(old, new)
        significant = p_value < context.options.alpha
        breached = significant and change is not None and change > allowed
        shown = "n/a" if change is None else f"{change:+.1f}%"
        verdict = "significant" if significant else "not significant"
        outcomes.append(
            outcome(
                passed=not breached,
                actual=change,
                message=f"{metric} {shown} vs the baseline ({verdict}, Mann-Whitney "
                f"p={p_value:.3g}), at most +{allowed:g}% allowed",
            )
        )
    return outcomes


N_PLUS_ONE: Final = Rule(
    id="spanscope/n-plus-one",
    title="N+1 queries",
    help="The same SQL statement ran once per row under one parent span. Load the "
    "relation up front with select_related() or prefetch_related(), or acknowledge the "
    "finding with a reason in [[tool.spanscope.acknowledged]].",
    evaluate=_n_plus_one,
)
P95_BUDGET: Final = Rule(
    id="spanscope/p95-budget",
    title="p95 response time over budget",
    help="The endpoint's 95th-percentile response time exceeds p95_budget_ms.",
    evaluate=_p95_budget,
)
QUERIES_PER_REQUEST: Final = Rule(
    id="spanscope/queries-per-request",
    title="Too many queries in one request",
    help="A request ran more DB queries than max_queries_per_request allows.",
    evaluate=_queries_per_request,
)
REGRESSION: Final = Rule(
    id="spanscope/regression",
    title="Response time regression vs the baseline",
    help="The endpoint got slower than max_regression_pct allows, and a Mann-Whitney U "
    "test says the difference is not noise.",
    evaluate=_regression,
)

RULES: Final = (N_PLUS_ONE, P95_BUDGET, QUERIES_PER_REQUEST, REGRESSION)
RULES_BY_ID: Final = {rule.id: rule for rule in RULES}
