"""Run the books demo for real: a database, an instrumented server, HTTP traffic, the analyzer.

Shared by ``examples/run_demo.py`` and the end-to-end tests, so the demo a user
runs and the one the tests check are started, driven and stopped by the same code.
Standard library only (the demo's own dependencies run in child processes).
"""

from demo_harness.errors import HarnessError
from demo_harness.postgres import PostgresServer, find_postgres_bindir, temporary_postgres
from demo_harness.project import (
    DEMO_PROJECT_DIR,
    Database,
    SqliteDatabase,
    demo_environment,
    prepare_database,
)
from demo_harness.scenario import Plan, Recording, demo_plan, record_traffic
from demo_harness.server import InstrumentedServer, ServerExit
from demo_harness.tools import run_spanscope
from demo_harness.traffic import Response, send_requests

__all__ = [
    "DEMO_PROJECT_DIR",
    "Database",
    "HarnessError",
    "InstrumentedServer",
    "Plan",
    "PostgresServer",
    "Recording",
    "Response",
    "ServerExit",
    "SqliteDatabase",
    "demo_environment",
    "demo_plan",
    "find_postgres_bindir",
    "prepare_database",
    "record_traffic",
    "run_spanscope",
    "send_requests",
    "temporary_postgres",
]
