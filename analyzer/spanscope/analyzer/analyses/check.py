"""``check(spans, config)``: a CI gate -- are the budgets of ``[tool.spanscope.check]`` kept?

Every rule in :data:`~spanscope.analyzer.analyses.check_rules.RULES` that the
configuration enables yields one outcome per endpoint it covers (or one for all
endpoints).  N+1 findings matching an acknowledgment are taken out before any
rule counts them and reported separately, with their reason; an acknowledgment
that matches nothing is reported too, so stale ones get cleaned up.

    from spanscope.analyzer.analyses.check import check
    from spanscope.analyzer.config import load_config
    result = check("spanscope-traces/", load_config())
    result.exit_code  # 0 within budget, 1 not
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass, field
from typing import Any, Final

from spanscope.analyzer.analyses.analyze import spanscope_version
from spanscope.analyzer.analyses.check_rules import RULES, CheckContext, Outcome
from spanscope.analyzer.analyses.compare import Measurement, SideStats, measure
from spanscope.analyzer.analyses.compare_stats import endpoint_samples
from spanscope.analyzer.analyses.inputs import SpansOrPaths
from spanscope.analyzer.analyses.partitioned_limits import DEFAULT_MEMORY_SPANS
from spanscope.analyzer.config import Acknowledgment, Config
from spanscope.analyzer.diagnostics import Diagnostics
from spanscope.analyzer.errors import UsageError
from spanscope.analyzer.report import NPlusOneFinding

EXIT_PASSED: Final = 0
EXIT_FAILED: Final = 1

CONFIG_EXAMPLE: Final = '[tool.spanscope.check] max_n_plus_one = 0, p95_budget_ms = { "*" = 500 }'


@dataclass(frozen=True)
class AcknowledgedFinding:
    finding: NPlusOneFinding
    acknowledgment: Acknowledgment

    def to_dict(self) -> dict[str, Any]:
        return {**self.finding.to_dict(), "reason": self.acknowledgment.reason}


@dataclass(frozen=True)
class CheckResult:
    spanscope_version: str
    config_path: str | None
    input: SideStats
    baseline: SideStats | None
    outcomes: tuple[Outcome, ...]
    acknowledged: tuple[AcknowledgedFinding, ...]
    unused_acknowledgments: tuple[Acknowledgment, ...]
    notes: tuple[str, ...]  # checks that could not run, and why
    #: skipped records of the input and of the baseline (the CLI prints them on stderr)
    diagnostics: tuple[Diagnostics, ...] = field(default=(), compare=False)

    @property
    def failures(self) -> list[Outcome]:
        return [outcome for outcome in self.outcomes if not outcome.passed]

    @property
    def passed(self) -> bool:
        return not self.failures

    @property
    def exit_code(self) -> int:
        return EXIT_PASSED if self.passed else EXIT_FAILED

    def to_dict(self) -> dict[str, Any]:
        """Unrounded JSON-ready data (see :mod:`spanscope.analyzer.render.check_json`)."""
        return {
            "spanscope_version": self.spanscope_version,
            "config": self.config_path,
            "passed": self.passed,
            "input": asdict(self.input),
            "baseline": asdict(self.baseline) if self.baseline else None,
            "outcomes": [_outcome_dict(outcome) for outcome in self.outcomes],
            "acknowledged": [item.to_dict() for item in self.acknowledged],
            "unused_acknowledgments": [asdict(ack) for ack in self.unused_acknowledgments],
            "notes": list(self.notes),
        }


def _outcome_dict(outcome: Outcome) -> dict[str, Any]:
    data = asdict(outcome)
    data["findings"] = [finding.to_dict() for finding in outcome.findings]
    return data


def split_acknowledged(
    findings: tuple[NPlusOneFinding, ...], acknowledgments: tuple[Acknowledgment, ...]
) -> tuple[
    tuple[NPlusOneFinding, ...], tuple[AcknowledgedFinding, ...], tuple[Acknowledgment, ...]
]:
    """``(open findings, acknowledged findings, acknowledgments that matched nothing)``."""
    open_findings: list[NPlusOneFinding] = []
    accepted: list[AcknowledgedFinding] = []
    used: set[int] = set()
    for finding in findings:
        for index, ack in enumerate(acknowledgments):
            if ack.matches(finding.endpoint, finding.statement, finding.relation):
                accepted.append(AcknowledgedFinding(finding, ack))
                used.add(index)
                break
        else:
            open_findings.append(finding)
    unused = tuple(ack for index, ack in enumerate(acknowledgments) if index not in used)
    return tuple(open_findings), tuple(accepted), unused


def check(
    source: SpansOrPaths | Measurement,
    config: Config,
    *,
    baseline: SpansOrPaths | Measurement | None = None,
    input_format: str | None = None,
    strict: bool = False,
    memory_spans: int | None = DEFAULT_MEMORY_SPANS,
) -> CheckResult:
    """Apply every enabled rule of ``config.check`` (see the module docstring)."""
    if not config.check.has_rules():
        where = config.path or "pyproject.toml"
        raise UsageError(
            f"nothing to check: {where} sets no budget in [tool.spanscope.check]",
            f"add one, e.g. {CONFIG_EXAMPLE}",
        )
    read = functools.partial(
        measure,
        min_repeats=config.min_repeats,
        input_format=input_format,
        strict=strict,
        group_by=config.group_by,
        memory_spans=memory_spans,
    )
    current = read(source)
    if current.requests.num_rows == 0:
        raise UsageError(
            "the input holds no requests (no SpanKind Server spans), so no budget can be checked",
            "point spanscope check at dumps of an instrumented app that served traffic",
        )
    old = read(baseline) if baseline is not None else None
    open_findings, accepted, unused = split_acknowledged(current.findings, config.acknowledged)
    context = CheckContext(
        config=config.check,
        options=config.compare,
        current=current,
        samples=endpoint_samples(current.requests),
        findings=open_findings,
        baseline=endpoint_samples(old.requests) if old is not None else None,
    )
    outcomes = tuple(outcome for rule in RULES for outcome in rule.evaluate(context))
    return CheckResult(
        spanscope_version=spanscope_version(),
        config_path=config.path,
        input=_stats(current),
        baseline=_stats(old) if old is not None else None,
        outcomes=outcomes,
        acknowledged=accepted,
        unused_acknowledgments=unused,
        notes=_notes(config, old),
        diagnostics=tuple(m.diagnostics for m in (current, old) if m is not None),
    )


def _stats(measurement: Measurement) -> SideStats:
    return SideStats(
        files=len(measurement.files),
        requests=measurement.requests.num_rows,
        skipped_records=measurement.diagnostics.skipped_records,
    )


def _notes(config: Config, baseline: Measurement | None) -> tuple[str, ...]:
    if config.check.max_regression_pct is not None and baseline is None:
        return ("max_regression_pct not checked: no baseline given (--baseline DUMP)",)
    if config.check.max_regression_pct is None and baseline is not None:
        return ("the baseline was not compared: set max_regression_pct in [tool.spanscope.check]",)
    return ()
