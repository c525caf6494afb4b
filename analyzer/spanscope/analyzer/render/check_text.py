"""``spanscope check --format text``: one line per breach, what was acknowledged, a verdict.

Plain text without colour codes when written to a file or a CI log, so it reads
the same in every CI system; checks that passed are counted, not listed (the
JSON and JUnit formats list them all).
"""

from __future__ import annotations

from typing import ClassVar, Final, TextIO

import click
from spanscope.analyzer.analyses.check import CheckResult
from spanscope.analyzer.analyses.check_rules import Outcome
from spanscope.analyzer.render.terminal import format_code, shorten
from spanscope.analyzer.report import NPlusOneFinding

_STATEMENT_CHARS: Final = 160
_INDENT: Final = "      "


def finding_summary(finding: NPlusOneFinding) -> str:
    """Endpoint, repeats, relation, code location and fix of an N+1 finding, on one line."""
    parts = [finding.endpoint, f"x{finding.repeats:,}"]
    if finding.relation:
        parts.append(finding.relation)
    parts.append(f"at {format_code(finding.code)}")
    if finding.suggestion:
        parts.append(f"fix: {finding.suggestion}")
    return "  ".join(parts)


def finding_line(finding: NPlusOneFinding) -> str:
    """:func:`finding_summary` followed by the (shortened) statement."""
    return f"{finding_summary(finding)}: {shorten(finding.statement, _STATEMENT_CHARS)}"


def _finding_lines(finding: NPlusOneFinding) -> list[str]:
    return [
        f"{_INDENT}{finding_summary(finding)}",
        f"{_INDENT}  {shorten(finding.statement, _STATEMENT_CHARS)}",
    ]


def outcome_lines(outcome: Outcome) -> list[str]:
    rule = outcome.rule.removeprefix("spanscope/")
    lines = [f"FAIL  {rule}  {outcome.scope}: {outcome.message} [{outcome.setting_display}]"]
    for finding in outcome.findings:
        lines.extend(_finding_lines(finding))
    return lines


def result_lines(result: CheckResult) -> list[str]:
    failures = result.failures
    lines: list[str] = []
    for outcome in failures:
        lines.extend(outcome_lines(outcome))
    for item in result.acknowledged:
        lines.append(f"ACK   n-plus-one  acknowledged: {item.acknowledgment.reason}")
        lines.extend(_finding_lines(item.finding))
    for ack in result.unused_acknowledgments:
        lines.append(
            f"note: acknowledgment {ack.describe()} matched no finding; remove it if it was fixed"
        )
    lines.extend(f"note: {note}" for note in result.notes)
    total = len(result.outcomes)
    source = f"; budgets from {result.config_path}" if result.config_path else ""
    requests = f"{result.input.requests:,} requests"
    if failures:
        lines.append(
            f"spanscope check: FAILED, {len(failures)} of {total} checks over budget "
            f"({requests}{source})"
        )
    else:
        lines.append(f"spanscope check: passed, {total} checks within budget ({requests}{source})")
    return lines


class CheckTextRenderer:
    name: ClassVar[str] = "text"
    suffixes: ClassVar[tuple[str, ...]] = (".txt", ".log")

    def render(self, result: CheckResult, out: TextIO, *, color: bool) -> None:
        for line in result_lines(result):
            style = {"FAIL": "red", "ACK ": "yellow"}.get(line[:4]) if color else None
            out.write((click.style(line, fg=style) if style else line) + "\n")
