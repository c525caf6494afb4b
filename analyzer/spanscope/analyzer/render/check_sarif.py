"""``spanscope check --format sarif``: SARIF 2.1.0, so a code host annotates the line of each N+1.

Each N+1 finding becomes a result at the code location its queries recorded
(``code.file.path`` / ``code.line.number``): level ``error`` when it breaks a
budget, ``warning`` when within one, and ``note`` with an external suppression
carrying the reason when it is acknowledged (code hosts hide suppressed results).
Other breaches (p95 budget, queries per request, regression) point at the line of
the configuration file that set the limit.

Paths are made relative to the source root (``uriBaseId: "%SRCROOT%"``): a path
inside the root directly, else its longest tail that exists below the root --
the app may have run in a container under ``/app`` while CI checks the
repository out elsewhere.  A path that matches nothing stays an absolute
``file://`` URI.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path, PurePath, PurePosixPath, PureWindowsPath
from typing import Any, ClassVar, Final, TextIO
from urllib.parse import quote

from spanscope.analyzer.analyses.check import CheckResult
from spanscope.analyzer.analyses.check_rules import N_PLUS_ONE, RULES, Outcome
from spanscope.analyzer.render.check_text import finding_line
from spanscope.analyzer.report import NPlusOneFinding

SARIF_VERSION: Final = "2.1.0"
SARIF_SCHEMA: Final = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
SRCROOT: Final = "%SRCROOT%"
_SEVERITY: Final = {"note": 0, "warning": 1, "error": 2}


def _uri_path(parts: tuple[str, ...]) -> str:
    return quote("/".join(parts))


def artifact_location(path: str, root: Path) -> dict[str, str]:
    """``{"uri", "uriBaseId"}`` relative to ``root`` where possible (see the module docstring)."""
    pure: PurePath = PureWindowsPath(path) if "\\" in path else PurePosixPath(path)
    if not pure.is_absolute():
        return {"uri": _uri_path(pure.parts), "uriBaseId": SRCROOT}
    try:
        relative = PurePosixPath(path).relative_to(root.as_posix())
        return {"uri": _uri_path(relative.parts), "uriBaseId": SRCROOT}
    except ValueError:
        pass
    tail = pure.parts[1:]  # without the anchor ("/" or "C:\\")
    for start in range(len(tail)):
        if root.joinpath(*tail[start:]).is_file():
            return {"uri": _uri_path(tail[start:]), "uriBaseId": SRCROOT}
    return {"uri": pure.as_uri()}


def config_line(text: str, setting: str, pattern: str | None) -> int:
    """The 1-based line of ``setting`` (and its ``pattern``) in a TOML text, else 1.

    A best effort by text search -- TOML parsers keep no positions: the line with
    both the key and the quoted glob (an inline table), else the first line after
    the key that has the glob (a sub-table), else the key's line.
    """
    lines = text.splitlines()
    keyed = [index for index, line in enumerate(lines) if setting in line]
    if not keyed:
        return 1
    if pattern is not None:
        quoted = (f'"{pattern}"', f"'{pattern}'")
        for index in range(keyed[0], len(lines)):
            if any(q in lines[index] for q in quoted):
                return index + 1
    return keyed[0] + 1


@dataclass
class _Results:
    """SARIF results keyed so one N+1 finding counted by two rules is reported once."""

    root: Path
    rule_index: dict[str, int]
    items: dict[str, dict[str, Any]] = field(default_factory=dict)

    def finding(self, finding: NPlusOneFinding, level: str, reason: str | None = None) -> None:
        key = _fingerprint(finding.endpoint, finding.statement)
        previous = self.items.get(key)
        if previous is not None and _SEVERITY[previous["level"]] >= _SEVERITY[level]:
            return
        result: dict[str, Any] = {
            "ruleId": N_PLUS_ONE.id,
            "ruleIndex": self.rule_index[N_PLUS_ONE.id],
            "level": level,
            "message": {"text": _finding_message(finding)},
            "partialFingerprints": {"spanscopeFinding/v1": key},
            "properties": {
                "endpoint": finding.endpoint,
                "statement": finding.statement,
                "repeats": finding.repeats,
                "requests": finding.requests,
                "wastedMs": round(finding.wasted_ms, 3),
                "exampleTraceId": finding.example_trace_id,
            },
        }
        if finding.code is not None:
            region = {"startLine": finding.code.line} if finding.code.line else None
            physical: dict[str, Any] = {
                "artifactLocation": artifact_location(finding.code.file, self.root)
            }
            if region and region["startLine"] >= 1:
                physical["region"] = region
            result["locations"] = [{"physicalLocation": physical}]
        if reason is not None:
            result["suppressions"] = [
                {"kind": "external", "status": "accepted", "justification": reason}
            ]
        self.items[key] = result

    def breach(self, outcome: Outcome, config: tuple[str, str] | None) -> None:
        result: dict[str, Any] = {
            "ruleId": outcome.rule,
            "ruleIndex": self.rule_index[outcome.rule],
            "level": "error",
            "message": {"text": f"{outcome.scope}: {outcome.message} [{outcome.setting_display}]"},
            "partialFingerprints": {
                "spanscopeBreach/v1": _fingerprint(outcome.rule, outcome.scope)
            },
        }
        if config is not None:
            path, text = config
            line = config_line(text, outcome.setting, outcome.pattern)
            result["locations"] = [
                {
                    "physicalLocation": {
                        "artifactLocation": artifact_location(path, self.root),
                        "region": {"startLine": line},
                    }
                }
            ]
        self.items[f"{outcome.rule} {outcome.scope}"] = result


def _fingerprint(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:32]


def _finding_message(finding: NPlusOneFinding) -> str:
    return f"N+1 queries: {finding_line(finding)}"


def _rules() -> list[dict[str, Any]]:
    return [
        {
            "id": rule.id,
            "name": rule.id.removeprefix("spanscope/").title().replace("-", ""),
            "shortDescription": {"text": rule.title},
            "fullDescription": {"text": rule.help},
            "help": {"text": rule.help},
            "defaultConfiguration": {"level": "error"},
        }
        for rule in RULES
    ]


def _read_config(path: str | None) -> tuple[str, str] | None:
    if path is None:
        return None
    try:
        return path, Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def sarif_document(result: CheckResult, root: Path | None = None) -> dict[str, Any]:
    """The SARIF log as Python data; ``root`` defaults to the configuration file's folder."""
    source_root = (root or _default_root(result)).resolve()
    results = _Results(source_root, {rule.id: index for index, rule in enumerate(RULES)})
    config = _read_config(result.config_path)
    for outcome in result.outcomes:
        if outcome.rule == N_PLUS_ONE.id:
            for finding in outcome.findings:
                results.finding(finding, "warning" if outcome.passed else "error")
        elif not outcome.passed:
            results.breach(outcome, config)
    for item in result.acknowledged:
        results.finding(item.finding, "note", reason=item.acknowledgment.reason)
    return {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "spanscope",
                        "version": result.spanscope_version,
                        "rules": _rules(),
                    }
                },
                "originalUriBaseIds": {SRCROOT: {"uri": source_root.as_uri() + "/"}},
                "invocations": [{"executionSuccessful": True, "exitCode": result.exit_code}],
                "results": list(results.items.values()),
            }
        ],
    }


def _default_root(result: CheckResult) -> Path:
    if result.config_path is not None:
        return Path(result.config_path).parent
    return Path(os.getcwd())


class CheckSarifRenderer:
    name: ClassVar[str] = "sarif"
    suffixes: ClassVar[tuple[str, ...]] = (".sarif",)

    #: the folder SARIF paths are made relative to; the CLI sets ``--source-root``
    root: Path | None = None

    def render(self, result: CheckResult, out: TextIO, *, color: bool) -> None:
        json.dump(sarif_document(result, self.root), out, indent=2, ensure_ascii=False)
        out.write("\n")
