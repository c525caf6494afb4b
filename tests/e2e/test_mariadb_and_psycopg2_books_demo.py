"""The books demo's N+1 on the other database drivers: MariaDB (PyMySQL) and PostgreSQL (psycopg2).

Same story as the SQLite/psycopg 3 demo test: a real server under the real
``opentelemetry-instrument``, a real database server, SIGTERM, then the files
read raw and by ``spanscope analyze``. The checks that matter for a new driver:
the right instrumentation traced it, exactly one span per query (never a
DB-API span *and* another one), the right ``db.system``, parameterized SQL,
and the N+1 found with its relation and fix.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from demo_harness import Database, Recording
from demo_harness.trace_files import RawSpan
from e2e_demo import TracesOnDisk, record_demo

pytestmark = pytest.mark.e2e

BOOKS = 1000  # what `manage.py seed_books` creates
BOOKS_REQUESTS = 2
PLAN = [("books/", BOOKS_REQUESTS), ("books/fixed/", 1)]
RELATIONS = ["author", "publisher"]
# Authors and publishers `manage.py seed_books` creates (its AUTHORS and PUBLISHERS).
RELATED_ROWS = {"author": 20, "publisher": 10}


@dataclass(frozen=True)
class Driver:
    name: str
    fixture: str  # the database server fixture
    extra_env: dict[str, str]
    scope: str  # the instrumentation that must have traced the queries
    db_system: str
    placeholder: str  # how the driver's parameterized SQL marks a parameter


DRIVERS = {
    "mariadb-pymysql": Driver(
        "mariadb-pymysql",
        "mariadb_server",
        {},
        "opentelemetry.instrumentation.pymysql",
        "mysql",
        "%s",
    ),
    "postgres-psycopg2": Driver(
        "postgres-psycopg2",
        "postgres_server",
        {"SPANSCOPE_DEMO_PG_DRIVER": "psycopg2"},
        "opentelemetry.instrumentation.psycopg2",
        "postgresql",
        "%s",
    ),
}


@dataclass
class DriverRun(TracesOnDisk):
    driver: Driver
    traces_dir: Path
    recording: Recording

    def db_spans_of(self, route: str) -> list[list[RawSpan]]:
        """The DB spans of each request to ``route``."""
        return [
            [s for s in self.files.in_trace(request.trace_id) if s.is_db]
            for request in self.files.server_spans(route)
        ]

    def lookups(self, spans: list[RawSpan], relation: str) -> list[RawSpan]:
        table = f"inventory_{relation}"
        return [
            s
            for s in spans
            if table in (s.statement or "") and "inventory_book" not in (s.statement or "")
        ]

    def finding(self, relation: str) -> dict[str, Any]:
        table = f"inventory_{relation}"
        matching = [
            f
            for f in self.report["n_plus_one"]
            if f["endpoint"] == "GET books/" and table in f["statement"].lower()
        ]
        assert len(matching) == 1, [f["statement"] for f in self.report["n_plus_one"]]
        finding: dict[str, Any] = matching[0]
        return finding


@pytest.fixture(
    scope="module",
    params=[
        pytest.param("mariadb-pymysql", marks=pytest.mark.mariadb),
        pytest.param("postgres-psycopg2", marks=pytest.mark.postgres),
    ],
)
def run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> DriverRun:
    driver = DRIVERS[request.param]
    database: Database = request.getfixturevalue(driver.fixture)
    traces, recording = record_demo(
        database, tmp_path_factory.mktemp(driver.name), PLAN, driver.extra_env
    )
    return DriverRun(driver, traces, recording)


def test_demo_answers_every_request_with_200(run: DriverRun) -> None:
    assert {(r.path, r.status) for r in run.recording.responses} == {(p, 200) for p, _ in PLAN}
    assert not run.recording.server_exit.killed


def test_queries_are_traced_by_the_drivers_own_instrumentation(run: DriverRun) -> None:
    scopes = {s.scope for s in run.files.spans if s.is_db}
    assert scopes == {run.driver.scope}


def test_every_db_span_names_the_database_system(run: DriverRun) -> None:
    assert {s.db_system for s in run.files.spans if s.is_db} == {run.driver.db_system}


@pytest.mark.parametrize("relation", RELATIONS)
def test_each_lazy_load_is_exactly_one_span(run: DriverRun, relation: str) -> None:
    per_request = [len(run.lookups(spans, relation)) for spans in run.db_spans_of("books/")]
    assert per_request == [BOOKS] * BOOKS_REQUESTS


def test_no_span_is_written_twice(run: DriverRun) -> None:
    ids = [(s.trace_id, s.span_id) for s in run.files.spans]
    assert len(ids) == len(set(ids))
    assert run.files.bad_lines == []


@pytest.mark.parametrize("relation", RELATIONS)
def test_statements_are_parameterized_not_literal(run: DriverRun, relation: str) -> None:
    statements = {
        s.statement for spans in run.db_spans_of("books/") for s in run.lookups(spans, relation)
    }
    # 1,000 different ids, one statement text: the id is a placeholder, never a value.
    assert len(statements) == 1
    assert run.driver.placeholder in next(iter(statements))  # type: ignore[operator]


@pytest.mark.parametrize("relation", RELATIONS)
def test_each_lazy_load_carries_the_keyed_hash_of_its_parameters(
    run: DriverRun, relation: str
) -> None:
    spans = run.lookups(run.db_spans_of("books/")[0], relation)
    hashes = [s.attributes.get("spanscope.db.params_hash") for s in spans]
    assert all(isinstance(h, str) and len(h) == 16 for h in hashes), hashes[:3]
    # One hash per related row: the same id gives the same hash, another id another.
    related = RELATED_ROWS[relation]
    assert len(set(hashes)) == related < len(spans)


@pytest.mark.parametrize("relation", RELATIONS)
def test_analyzer_finds_the_n_plus_one_with_its_relation_and_fix(
    run: DriverRun, relation: str
) -> None:
    finding = run.finding(relation)
    assert (finding["repeats"], finding["requests"]) == (BOOKS, BOOKS_REQUESTS)
    assert finding["relation"] == f"inventory.Book.{relation}"
    assert f'select_related("{relation}")' in finding["suggestion"]


def test_fixed_view_has_no_n_plus_one(run: DriverRun) -> None:
    assert [f for f in run.report["n_plus_one"] if f["endpoint"] == "GET books/fixed/"] == []
    assert run.report["input"]["skipped_records"] == 0
