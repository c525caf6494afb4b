"""The books demo end to end, as a user runs it.

The demo starts as a real server process under the real ``opentelemetry-instrument``
with no tracing setting but ``SPANSCOPE_TRACES_DIR``, answers real HTTP requests,
is stopped with SIGTERM, and the ``spanscope`` CLI analyzes the files it wrote.
Every check runs on SQLite and on PostgreSQL (psycopg 3).
"""

from __future__ import annotations

import ast
import json
import subprocess
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import pytest
from demo_harness import (
    DEMO_PROJECT_DIR,
    Database,
    PostgresServer,
    Recording,
    SqliteDatabase,
    demo_plan,
    run_spanscope,
)
from demo_harness.trace_files import TraceFiles, read_trace_files
from e2e_demo import record_demo

pytestmark = pytest.mark.e2e

BOOKS_REQUESTS = FIXED_REQUESTS = 2  # the demo sends as many to each books view
PLAN = demo_plan(BOOKS_REQUESTS, home_requests=1)
BOOKS = 1000  # what `manage.py seed_books` creates
BOOKS_ENDPOINT = "GET books/"
FIXED_ENDPOINT = "GET books/fixed/"
VIEWS_FILE = DEMO_PROJECT_DIR / "inventory" / "views.py"
RELATIONS = ["author", "publisher"]
# Authors and publishers `manage.py seed_books` creates (its AUTHORS and PUBLISHERS).
RELATED_ROWS = {"author": 20, "publisher": 10}


# --- running the demo ------------------------------------------------------------------


@dataclass
class DemoRun:
    """Everything one run of the demo left behind."""

    database: str
    traces_dir: Path
    recording: Recording
    analysis: subprocess.CompletedProcess[str]

    @cached_property
    def files(self) -> TraceFiles:
        """The trace files read line by line, independently of the analyzer; every line parses."""
        files = read_trace_files(self.traces_dir)
        assert files.bad_lines == [], files.bad_lines[:5]
        return files

    @cached_property
    def report(self) -> dict[str, Any]:
        """The parsed ``--format json`` output (a failed test, not a crash, when it is not JSON)."""
        try:
            report: dict[str, Any] = json.loads(self.analysis.stdout)
        except json.JSONDecodeError:
            pytest.fail(
                f"`spanscope analyze --format json` printed no JSON (exit {self.analysis.returncode}):\n"
                f"{self.analysis.stderr[-2000:]}",
                pytrace=False,
            )
        return report


def run_demo(database: Database, workdir: Path) -> DemoRun:
    traces, recording = record_demo(database, workdir, PLAN)
    analysis = run_spanscope(["analyze", str(traces), "--format", "json"])
    return DemoRun(database.name, traces, recording, analysis)


@dataclass
class DemoRuns:
    """One run per database, made on first use and shared by every test of this module."""

    request: pytest.FixtureRequest
    workdir: Path
    runs: dict[str, DemoRun] = field(default_factory=dict)

    def get(self, database: str) -> DemoRun:
        if database not in self.runs:
            self.runs[database] = run_demo(self._database(database), self.workdir / database)
        return self.runs[database]

    def _database(self, name: str) -> Database:
        if name == "postgres":
            server: PostgresServer = self.request.getfixturevalue("postgres_server")
            return server
        return SqliteDatabase(self.workdir / "books.sqlite3")


@pytest.fixture(scope="module")
def demo_runs(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> DemoRuns:
    return DemoRuns(request, tmp_path_factory.mktemp("books-demo"))


@pytest.fixture(
    scope="module",
    params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
)
def demo(request: pytest.FixtureRequest, demo_runs: DemoRuns) -> DemoRun:
    return demo_runs.get(request.param)


# --- reading the views file: where the loop really is ----------------------------------


def loop_line(function: str, relation: str) -> int:
    """The line of ``book.<relation>.name`` inside ``function`` of inventory/views.py."""
    source = VIEWS_FILE.read_text()
    tree = ast.parse(source)
    node = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == function)
    lines = source.splitlines()
    end = node.end_lineno or node.lineno
    matches = [
        number
        for number in range(node.lineno, end + 1)
        if f"book.{relation}.name" in lines[number - 1]
    ]
    assert len(matches) == 1, f"expected one `book.{relation}.name` in {function}()"
    return matches[0]


# --- reading the report ----------------------------------------------------------------


def endpoint_names(report: dict[str, Any]) -> list[str]:
    return [row["endpoint"] for row in report["endpoints"]]


def endpoint(report: dict[str, Any], name: str) -> dict[str, Any]:
    rows: list[dict[str, Any]] = [row for row in report["endpoints"] if row["endpoint"] == name]
    assert rows, f"no endpoint {name!r} in {endpoint_names(report)}"
    return rows[0]


def findings(report: dict[str, Any], endpoint_name: str) -> list[dict[str, Any]]:
    return [f for f in report["n_plus_one"] if f["endpoint"] == endpoint_name]


def lookup_finding(report: dict[str, Any], relation: str) -> dict[str, Any]:
    """The N+1 on `books/` whose statement reads the related table (inventory_author, ...)."""
    table = f"inventory_{relation}"
    matching = [f for f in findings(report, BOOKS_ENDPOINT) if table in f["statement"].lower()]
    assert len(matching) == 1, (
        f"expected one N+1 finding on {table} for {BOOKS_ENDPOINT}, got: "
        f"{[f['statement'] for f in findings(report, BOOKS_ENDPOINT)]}"
    )
    return matching[0]


def shape(value: Any) -> Any:
    """Keys and JSON types of a document, values left out (int and float are both numbers)."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in sorted(value.items())}
    if isinstance(value, list):
        return sorted({json.dumps(shape(item), sort_keys=True) for item in value})
    if isinstance(value, bool) or value is None:
        return type(value).__name__
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


# --- the server and the traffic --------------------------------------------------------


def test_demo_answers_every_request_with_200(demo: DemoRun) -> None:
    statuses = {(r.path, r.status) for r in demo.recording.responses}
    assert statuses == {(path, 200) for path, _ in PLAN}


def test_demo_server_exits_on_sigterm_without_being_killed(demo: DemoRun) -> None:
    assert not demo.recording.server_exit.killed, demo.recording.server_exit.log[-2000:]


def test_trace_files_hold_one_server_span_per_request(demo: DemoRun) -> None:
    counts = {route: len(demo.files.server_spans(route)) for route in ("books/", "books/fixed/")}
    assert counts == {"books/": BOOKS_REQUESTS, "books/fixed/": FIXED_REQUESTS}


@pytest.mark.parametrize("route", ["books/", "books/fixed/"])
def test_db_spans_are_children_of_the_request_span(demo: DemoRun, route: str) -> None:
    for request in demo.files.server_spans(route):
        db_spans = [s for s in demo.files.in_trace(request.trace_id) if s.is_db]
        assert db_spans, f"no DB span in the trace of a {route} request"
        assert {s.parent_span_id for s in db_spans} == {request.span_id}


def test_n_plus_one_request_runs_one_query_per_lookup(demo: DemoRun) -> None:
    request = demo.files.server_spans("books/")[0]
    queries = sum(1 for s in demo.files.in_trace(request.trace_id) if s.is_db)
    # 1 list query + one author and one publisher lookup per book (PostgreSQL may add
    # connection set-up queries, never fewer).
    assert queries >= 1 + 2 * BOOKS


@pytest.mark.parametrize("relation", RELATIONS)
def test_each_lazy_load_carries_the_keyed_hash_of_its_parameters(
    demo: DemoRun, relation: str
) -> None:
    request = demo.files.server_spans("books/")[0]
    table = f'"inventory_{relation}"'
    hashes = [
        s.attributes.get("spanscope.db.params_hash")
        for s in demo.files.in_trace(request.trace_id)
        if s.is_db and table in (s.statement or "") and "inventory_book" not in (s.statement or "")
    ]
    assert len(hashes) == BOOKS
    assert all(isinstance(h, str) and len(h) == 16 for h in hashes), hashes[:3]
    # One hash per related row: the same id gives the same hash, another id another.
    assert len(set(hashes)) == RELATED_ROWS[relation]


# --- the analysis ----------------------------------------------------------------------


def test_analyzer_exits_zero(demo: DemoRun) -> None:
    assert demo.analysis.returncode == 0, demo.analysis.stderr[-2000:]


def test_analyzer_reads_every_record_of_the_trace_files(demo: DemoRun) -> None:
    counts = demo.report["input"]
    assert counts["skipped_records"] == 0
    assert counts["files"] >= 1
    assert counts["spans"] == len(demo.files.spans)


@pytest.mark.parametrize("relation", RELATIONS)
def test_n_plus_one_on_books_repeats_the_lookup_once_per_book(demo: DemoRun, relation: str) -> None:
    finding = lookup_finding(demo.report, relation)
    assert finding["repeats"] == BOOKS
    assert finding["requests"] == BOOKS_REQUESTS


@pytest.mark.parametrize("relation", RELATIONS)
def test_n_plus_one_names_the_orm_relation(demo: DemoRun, relation: str) -> None:
    assert lookup_finding(demo.report, relation)["relation"] == f"inventory.Book.{relation}"


@pytest.mark.parametrize("relation", RELATIONS)
def test_n_plus_one_points_at_the_line_of_the_loop_in_views(demo: DemoRun, relation: str) -> None:
    code = lookup_finding(demo.report, relation)["code"]
    assert code is not None
    assert Path(code["file"]).resolve() == VIEWS_FILE.resolve()
    assert code["line"] == loop_line("books", relation)
    assert code["function"].rsplit(".", 1)[-1] == "books"


@pytest.mark.parametrize("relation", RELATIONS)
def test_n_plus_one_suggests_select_related(demo: DemoRun, relation: str) -> None:
    suggestion = lookup_finding(demo.report, relation)["suggestion"]
    assert suggestion is not None
    assert f'select_related("{relation}")' in suggestion


def test_fixed_view_has_no_n_plus_one(demo: DemoRun) -> None:
    endpoint(demo.report, FIXED_ENDPOINT)  # it was analyzed ...
    assert findings(demo.report, FIXED_ENDPOINT) == []  # ... and is clean


def test_books_ranks_above_its_fixed_twin(demo: DemoRun) -> None:
    names = endpoint_names(demo.report)
    books, fixed = endpoint(demo.report, BOOKS_ENDPOINT), endpoint(demo.report, FIXED_ENDPOINT)
    assert (books["requests"], fixed["requests"]) == (BOOKS_REQUESTS, FIXED_REQUESTS)
    assert names.index(BOOKS_ENDPOINT) < names.index(FIXED_ENDPOINT)
    assert books["total_ms"] > fixed["total_ms"]


def test_n_plus_one_view_runs_a_thousand_times_more_queries(demo: DemoRun) -> None:
    books, fixed = endpoint(demo.report, BOOKS_ENDPOINT), endpoint(demo.report, FIXED_ENDPOINT)
    assert books["queries_per_request"] >= 1 + 2 * BOOKS
    assert fixed["queries_per_request"] < 10


@pytest.mark.postgres
def test_report_has_the_same_shape_on_sqlite_and_postgres(demo_runs: DemoRuns) -> None:
    sqlite, postgres = demo_runs.get("sqlite").report, demo_runs.get("postgres").report
    assert shape(sqlite) == shape(postgres)
