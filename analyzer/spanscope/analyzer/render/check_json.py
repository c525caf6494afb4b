"""``spanscope check --format json``: one JSON object, schema version 1.

Floats are rounded to 3 decimals.  Keys may be added within a
``schema_version``; none is removed or renamed without bumping it.

Top level
    ``schema_version`` (str): ``"1"``; ``kind`` (str): ``"check"``;
    ``spanscope_version`` (str); ``config`` (str | null): the configuration file read;
    ``passed`` (bool): every check within budget (the exit code is 0 exactly then).
    ``input``, ``baseline`` (object; ``baseline`` null without ``--baseline``)
        ``files`` (int), ``requests`` (int), ``skipped_records`` (int).
    ``outcomes`` (array)
        One object per rule and scope, in rule order:
        ``rule`` (str): ``"spanscope/n-plus-one"``, ``"spanscope/p95-budget"``,
        ``"spanscope/queries-per-request"`` or ``"spanscope/regression"``;
        ``scope`` (str): an endpoint, or ``"all endpoints"`` for a total;
        ``passed`` (bool); ``actual`` (float | null): the measured value (N+1 count,
        p95 ms, queries in the busiest request, relative change in %), null when it
        could not be measured; ``limit`` (float); ``setting`` (str): the
        ``[tool.spanscope.check]`` key; ``pattern`` (str | null): its endpoint glob;
        ``message`` (str); ``findings`` (array): the N+1 findings counted, as
        ``spanscope analyze --format json`` writes them; ``trace_id`` (str | null).
    ``acknowledged`` (array)
        Accepted N+1 findings (not counted by any rule), each with its ``reason``.
    ``unused_acknowledgments`` (array)
        ``{"endpoint", "reason", "statement", "relation"}`` of acknowledgments that
        matched no finding.
    ``notes`` (array of str): checks that could not run, and why.
"""

from __future__ import annotations

from typing import Any, Final, TextIO

from spanscope.analyzer.analyses.check import CheckResult
from spanscope.analyzer.render.json import rounded
from spanscope.analyzer.render.json_output import JsonFormat, write_json

SCHEMA_VERSION: Final = "1"


def check_document(result: CheckResult) -> dict[str, Any]:
    """The JSON document as Python data (see the module docstring)."""
    document: dict[str, Any] = rounded(
        {"schema_version": SCHEMA_VERSION, "kind": "check", **result.to_dict()}
    )
    return document


class CheckJsonRenderer(JsonFormat):
    def render(self, result: CheckResult, out: TextIO, *, color: bool) -> None:
        write_json(check_document(result), out)
