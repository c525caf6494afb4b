"""``spanscope check``: exit codes for CI, and JUnit/SARIF that validate against their schemas."""

from __future__ import annotations

import functools
import json
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import pyarrow.parquet as pq
import pytest
import xmlschema
from click.testing import CliRunner
from compare_workloads import (
    AUTHOR_LINE,
    PUBLISHER_LINE,
    Endpoint,
    add_books_n_plus_one,
    add_books_select_related,
    add_requests,
)
from spanbuilder import SpanBuilder
from spanscope.analyzer.cli import cli
from spanscope.analyzer.render.check_sarif import artifact_location, config_line

SCHEMAS = Path(__file__).resolve().parents[1] / "data" / "schemas"
SARIF_SCHEMA = json.loads((SCHEMAS / "sarif-schema-2.1.0.json").read_text())
JUNIT_XSD = SCHEMAS / "jenkins-junit-10.xsd"

BUDGETS = """
[tool.spanscope.check]
max_n_plus_one = 0
p95_budget_ms = { "GET books/*" = 200, "*" = 1000 }
max_queries_per_request = 50
max_regression_pct = 10

[[tool.spanscope.acknowledged]]
endpoint = "GET books/*"
relation = "inventory.Book.publisher"
reason = "publishers are cached upstream"
"""


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def dump(path: Path, *, fixed: bool, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    b = SpanBuilder()
    if fixed:
        add_books_select_related(b, count=8, rng=rng)
    else:
        add_books_n_plus_one(b, count=8, books=30, query_ms=10, rng=rng)
    add_requests(b, Endpoint("authors/", 30), count=60, rng=rng, start_ms=1e7)
    pq.write_table(b.table(), path)
    return path


@pytest.fixture(scope="module")
def dumps(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("dumps")
    return {
        "slow": dump(folder / "slow.parquet", fixed=False, seed=31),
        "fast": dump(folder / "fast.parquet", fixed=True, seed=32),
        "fast-again": dump(folder / "fast-again.parquet", fixed=True, seed=33),
    }


def make_repo(folder: Path) -> Path:
    """A checkout with budgets in pyproject.toml and the view the spans point at."""
    (folder / "pyproject.toml").write_text(BUDGETS)
    views = folder / "inventory" / "views.py"
    views.parent.mkdir()
    views.write_text("".join(f"# line {n}\n" for n in range(1, 30)))
    return folder


@pytest.fixture(scope="module")
def shared_repo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One checkout for the tests that only read it, the current directory while they run."""
    with pytest.MonkeyPatch.context() as patch:
        folder = make_repo(tmp_path_factory.mktemp("repo"))
        patch.chdir(folder)
        yield folder


@pytest.fixture
def repo(shared_repo: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(shared_repo)
    return shared_repo


@pytest.fixture
def own_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A checkout of the test's own, for tests that rewrite the budgets."""
    monkeypatch.chdir(tmp_path)
    return make_repo(tmp_path)


Report = Callable[..., tuple[int, str, str]]


@pytest.fixture(scope="module")
def report(shared_repo: Path, dumps: dict[str, Path]) -> Report:
    """``spanscope check DUMP --format F`` in the shared checkout, each run once per module."""

    @functools.cache
    def run_once(dump_name: str, output_format: str = "text") -> tuple[int, str, str]:
        return run("check", str(dumps[dump_name]), "--format", output_format)

    return run_once


def test_within_budget_exits_zero(report: Report) -> None:
    code, out, err = report("fast")
    assert code == 0, out + err
    assert "spanscope check: passed" in out


def test_over_budget_exits_one_with_one_line_per_breach(report: Report) -> None:
    code, out, _ = report("slow")
    assert code == 1
    fails = [line for line in out.splitlines() if line.startswith("FAIL")]
    assert [line.split()[1] for line in fails] == [
        "n-plus-one",
        "p95-budget",
        "queries-per-request",
    ]
    assert "FAILED, 3 of" in out.splitlines()[-1]


def test_acknowledged_finding_is_reported_with_its_reason_not_failed(report: Report) -> None:
    _, out, _ = report("slow")
    assert "ACK   n-plus-one  acknowledged: publishers are cached upstream" in out
    n_plus_one_failure = out.split("FAIL  p95-budget")[0]
    assert "inventory.Book.author" in n_plus_one_failure
    assert "inventory.Book.publisher" not in n_plus_one_failure


def test_regression_against_a_baseline_fails(own_repo: Path, dumps: dict[str, Path]) -> None:
    (own_repo / "pyproject.toml").write_text("[tool.spanscope.check]\nmax_regression_pct = 10\n")
    code, out, _ = run("check", str(dumps["slow"]), "--baseline", str(dumps["fast"]))
    assert code == 1
    assert "FAIL  regression  GET books/" in out
    code, _, _ = run("check", str(dumps["fast-again"]), "--baseline", str(dumps["fast"]))
    assert code == 0


def test_no_budget_configured_exits_two(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dumps: dict[str, Path]
) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = run("check", str(dumps["fast"]))
    assert code == 2
    assert "nothing to check" in err and "hint:" in err


def test_bad_configuration_exits_two_naming_the_key(own_repo: Path, dumps: dict[str, Path]) -> None:
    (own_repo / "pyproject.toml").write_text("[tool.spanscope.check]\nmax_n_plus_one = -1\n")
    code, _, err = run("check", str(dumps["fast"]))
    assert code == 2
    assert "max_n_plus_one must be an integer >= 0" in err


def test_unreadable_input_exits_two(repo: Path) -> None:
    code, _, err = run("check", str(repo / "missing.jsonl"))
    assert code == 2
    assert "hint:" in err


def test_config_option_reads_another_file(own_repo: Path, dumps: dict[str, Path]) -> None:
    lenient = own_repo / "lenient.toml"
    lenient.write_text("[check]\nmax_n_plus_one = 10\n")
    code, _, _ = run("check", str(dumps["slow"]), "--config", str(lenient))
    assert code == 0


def test_json_report_lists_every_outcome(report: Report) -> None:
    code, out, _ = report("slow", "json")
    assert code == 1
    document = json.loads(out)
    assert (document["kind"], document["passed"]) == ("check", False)
    assert len(document["outcomes"]) == 1 + 2 + 2  # total N+1, p95 and queries per endpoint
    assert [a["reason"] for a in document["acknowledged"]] == ["publishers are cached upstream"]


def test_report_to_a_file_still_tells_the_log_why(
    repo: Path, dumps: dict[str, Path], tmp_path: Path
) -> None:
    target = tmp_path / "report.xml"
    code, out, err = run("check", str(dumps["slow"]), "-o", str(target))
    assert (code, out) == (1, "")
    assert "GET books/" in err and target.read_text().startswith("<?xml")


# --- JUnit XML -----------------------------------------------------------------------


def test_junit_validates_against_the_jenkins_schema(report: Report) -> None:
    schema = xmlschema.XMLSchema(JUNIT_XSD)
    for name in ("slow", "fast"):
        code, out, _ = report(name, "junit")
        assert code in (0, 1)
        schema.validate(out)


def test_junit_schema_rejects_a_broken_report() -> None:
    # The validator is live: a test case without its required name fails.
    broken = '<testsuites><testsuite name="s" tests="1" failures="0" errors="0"><testcase/></testsuite></testsuites>'
    assert not xmlschema.XMLSchema(JUNIT_XSD).is_valid(broken)


def test_junit_has_one_testcase_per_rule_and_endpoint(report: Report) -> None:
    root = ET.fromstring(report("slow", "junit")[1])
    cases = {(c.get("classname"), c.get("name")): c for c in root.iter("testcase")}
    assert set(cases) == {
        ("spanscope.n-plus-one", "all endpoints"),
        ("spanscope.p95-budget", "GET authors/"),
        ("spanscope.p95-budget", "GET books/"),
        ("spanscope.queries-per-request", "GET authors/"),
        ("spanscope.queries-per-request", "GET books/"),
        ("spanscope.acknowledged", "GET books/: inventory.Book.publisher"),
    }
    failure = cases[("spanscope.p95-budget", "GET books/")].find("failure")
    assert failure is not None and "budget 200.0 ms" in failure.get("message", "")
    assert cases[("spanscope.p95-budget", "GET authors/")].find("failure") is None
    assert root.get("failures") == "3"


def test_junit_escapes_and_cleans_text_from_spans(repo: Path, tmp_path: Path) -> None:
    b = SpanBuilder()
    request = b.request("GET", "x/<script>&", duration_ms=50)
    b.queries(request, "SELECT '\x01<&>' FROM t WHERE id = {i}", count=6, start_ms=1, each_ms=1)
    path = tmp_path / "hostile.parquet"
    pq.write_table(b.table(), path)
    code, out, _ = run("check", str(path), "--format", "junit")
    assert code == 1
    xmlschema.XMLSchema(JUNIT_XSD).validate(out)
    names = [c.get("name") for c in ET.fromstring(out).iter("testcase")]
    assert "GET x/<script>&" in names


# --- SARIF ---------------------------------------------------------------------------


def sarif_results(report: Report, name: str = "slow") -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = json.loads(report(name, "sarif")[1])["runs"][0]["results"]
    return results


def test_sarif_validates_against_the_official_schema(report: Report) -> None:
    validator = jsonschema.Draft4Validator(SARIF_SCHEMA)
    for name in ("slow", "fast"):
        code, out, _ = report(name, "sarif")
        assert code in (0, 1)
        validator.validate(json.loads(out))


def test_sarif_schema_rejects_a_broken_log() -> None:
    broken = {"version": "2.1.0", "runs": [{"tool": {"driver": {}}}]}  # driver needs a name
    assert not jsonschema.Draft4Validator(SARIF_SCHEMA).is_valid(broken)


def test_sarif_points_each_n_plus_one_at_its_line_relative_to_the_repo(report: Report) -> None:
    results = sarif_results(report)
    n_plus_one = {
        r["properties"]["statement"].split('"')[1]: r
        for r in results
        if r["ruleId"] == "spanscope/n-plus-one"
    }
    author = n_plus_one["inventory_author"]
    location = author["locations"][0]["physicalLocation"]
    # the spans say /srv/app/inventory/views.py; the checkout has inventory/views.py
    assert location["artifactLocation"] == {"uri": "inventory/views.py", "uriBaseId": "%SRCROOT%"}
    assert location["region"]["startLine"] == AUTHOR_LINE.line
    assert author["level"] == "error"


def test_sarif_reports_acknowledged_findings_as_suppressed(report: Report) -> None:
    results = sarif_results(report)
    (publisher,) = [r for r in results if "suppressions" in r]
    assert (
        publisher["locations"][0]["physicalLocation"]["region"]["startLine"] == PUBLISHER_LINE.line
    )
    assert publisher["suppressions"] == [
        {
            "kind": "external",
            "status": "accepted",
            "justification": "publishers are cached upstream",
        }
    ]


def test_sarif_budget_breach_points_at_the_budget_line(report: Report) -> None:
    results = sarif_results(report)
    (p95,) = [r for r in results if r["ruleId"] == "spanscope/p95-budget"]
    location = p95["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "pyproject.toml"
    line = BUDGETS.splitlines()[location["region"]["startLine"] - 1]
    assert line.startswith("p95_budget_ms") and "GET books/*" in line


def test_sarif_source_root_option(
    repo: Path, dumps: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> None:
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    code, out, _ = run(
        "check", str(dumps["slow"]), "--format", "sarif", "--source-root", str(elsewhere)
    )
    assert code == 1
    document = json.loads(out)
    base = document["runs"][0]["originalUriBaseIds"]["%SRCROOT%"]["uri"]
    assert base == elsewhere.resolve().as_uri() + "/"
    # nothing of /srv/app/inventory/views.py exists there: the path stays absolute
    uris = [
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        for r in document["runs"][0]["results"]
        if r["ruleId"] == "spanscope/n-plus-one"
    ]
    assert all(uri.startswith("file:///srv/app/") for uri in uris)


def test_artifact_location_inside_the_root_is_relative(tmp_path: Path) -> None:
    path = tmp_path / "shop" / "views.py"
    assert artifact_location(str(path), tmp_path) == {
        "uri": "shop/views.py",
        "uriBaseId": "%SRCROOT%",
    }


def test_artifact_location_percent_encodes(tmp_path: Path) -> None:
    location = artifact_location(str(tmp_path / "my app" / "views.py"), tmp_path)
    assert location["uri"] == "my%20app/views.py"


def test_config_line_finds_a_glob_in_a_sub_table() -> None:
    text = '[tool.spanscope.check.p95_budget_ms]\n"GET a/*" = 10\n"GET b/*" = 20\n'
    assert config_line(text, "p95_budget_ms", "GET b/*") == 3
    assert config_line(text, "max_n_plus_one", None) == 1
