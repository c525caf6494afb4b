"""``spanscope check --format junit``: JUnit XML, as Jenkins, GitLab and most CI systems read it.

One ``<testsuite>`` per rule, one ``<testcase>`` per rule and endpoint (``name``
is the endpoint, ``classname`` the rule), a ``<failure>`` with the breach's
message and the N+1 details as its text.  Acknowledged N+1 findings appear in a
``spanscope/acknowledged`` suite as ``<skipped>`` test cases carrying their reason.
The output validates against Jenkins' JUnit schema (``junit-10.xsd``).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from typing import ClassVar, Final, TextIO

from spanscope.analyzer.analyses.check import AcknowledgedFinding, CheckResult
from spanscope.analyzer.analyses.check_rules import RULES, Outcome
from spanscope.analyzer.render.check_text import finding_line

ACKNOWLEDGED_SUITE: Final = "spanscope/acknowledged"
# XML 1.0 cannot carry most control characters, not even escaped; a SQL statement
# from a span may contain one, so it is replaced rather than written.
_NOT_XML: Final = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _text(value: str) -> str:
    return _NOT_XML.sub("\ufffd", value)


def _classname(rule_id: str) -> str:
    return rule_id.replace("/", ".")


def _suite(parent: ET.Element, name: str, tests: int, failures: int, skipped: int) -> ET.Element:
    return ET.SubElement(
        parent,
        "testsuite",
        name=name,
        tests=str(tests),
        failures=str(failures),
        errors="0",
        skipped=str(skipped),
    )


def _outcome_case(suite: ET.Element, outcome: Outcome) -> None:
    case = ET.SubElement(
        suite, "testcase", name=_text(outcome.scope), classname=_classname(outcome.rule)
    )
    if outcome.passed:
        return
    failure = ET.SubElement(
        case,
        "failure",
        type=outcome.rule,
        message=_text(f"{outcome.message} [{outcome.setting_display}]"),
    )
    failure.text = _text("\n".join(finding_line(finding) for finding in outcome.findings))


def _acknowledged_suite(parent: ET.Element, items: Iterable[AcknowledgedFinding]) -> None:
    cases = list(items)
    if not cases:
        return
    suite = _suite(parent, ACKNOWLEDGED_SUITE, len(cases), 0, len(cases))
    for item in cases:
        case = ET.SubElement(
            suite,
            "testcase",
            name=_text(
                f"{item.finding.endpoint}: {item.finding.relation or item.finding.statement}"
            ),
            classname=_classname(ACKNOWLEDGED_SUITE),
        )
        ET.SubElement(case, "skipped", message=_text(f"acknowledged: {item.acknowledgment.reason}"))


def junit_tree(result: CheckResult) -> ET.ElementTree[ET.Element]:
    root = ET.Element(
        "testsuites",
        name="spanscope check",
        tests=str(len(result.outcomes) + len(result.acknowledged)),
        failures=str(len(result.failures)),
        errors="0",
    )
    for rule in RULES:
        outcomes = [outcome for outcome in result.outcomes if outcome.rule == rule.id]
        if not outcomes:
            continue
        failed = sum(not outcome.passed for outcome in outcomes)
        suite = _suite(root, rule.id, len(outcomes), failed, 0)
        for outcome in outcomes:
            _outcome_case(suite, outcome)
    _acknowledged_suite(root, result.acknowledged)
    ET.indent(root)
    return ET.ElementTree(root)


class CheckJunitRenderer:
    name: ClassVar[str] = "junit"
    suffixes: ClassVar[tuple[str, ...]] = (".xml",)

    def render(self, result: CheckResult, out: TextIO, *, color: bool) -> None:
        junit_tree(result).write(out, encoding="unicode", xml_declaration=True)
        out.write("\n")
