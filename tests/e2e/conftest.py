"""Fixtures the end-to-end tests share: the demo on a ready SQLite database.

The database servers (PostgreSQL, MariaDB) come from ``tests/conftest.py``.
"""

from __future__ import annotations

import os

import pytest
from demo_harness import SqliteDatabase, demo_environment, prepare_database

# Before any test module imports it: its asserts then explain themselves like a test's.
pytest.register_assert_rewrite("e2e_demo")


@pytest.fixture(scope="module")
def sqlite_demo_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The demo's hermetic environment on a migrated, seeded SQLite database (one per module).

    Add ``SPANSCOPE_TRACES_DIR`` and any tracing setting per server; the set-up
    queries ran without instrumentation, so they are in no trace file.
    """
    database = SqliteDatabase(tmp_path_factory.mktemp("demo-db") / "books.sqlite3")
    env = demo_environment(os.environ, database, hermetic=True)
    prepare_database(env)
    return env
