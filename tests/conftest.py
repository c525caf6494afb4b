"""Fixtures shared by every test: the services tests start, and the skip-or-fail policy.

A test that needs a service binary (PostgreSQL's ``initdb``/``postgres``) is
skipped when it is not installed -- unless ``SPANSCOPE_REQUIRE_SERVICES=1``
(set by ``.ci/run``), where a missing service fails the test instead, so CI
can never pass by skipping.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLES_DIR = REPO_ROOT / "examples"

# The tests drive the demo with the very code `examples/run_demo.py` uses; that
# package lives beside the demo rather than inside the installed distribution.
if str(EXAMPLES_DIR) not in sys.path:
    sys.path.insert(0, str(EXAMPLES_DIR))

from demo_harness import PostgresServer, find_postgres_bindir, temporary_postgres  # noqa: E402
from demo_harness.mariadb import (  # noqa: E402
    MariadbBinaries,
    MariadbServer,
    find_mariadb,
    temporary_mariadb,
)

REQUIRE_SERVICES = "SPANSCOPE_REQUIRE_SERVICES"


def services_required() -> bool:
    return os.environ.get(REQUIRE_SERVICES, "") == "1"


def missing_service(what: str, hint: str) -> NoReturn:
    """Skip the test -- or fail it when services are required (CI)."""
    message = f"{what} is not installed (hint: {hint})"
    if services_required():
        pytest.fail(
            f"{message}; {REQUIRE_SERVICES}=1 makes a missing service a failure", pytrace=False
        )
    pytest.skip(message)


@pytest.fixture(scope="session")
def postgres_bindir() -> Path:
    """The folder of PostgreSQL's server binaries (Debian: /usr/lib/postgresql/<version>/bin)."""
    bindir = find_postgres_bindir()
    if bindir is None:
        missing_service("PostgreSQL (initdb, postgres)", "apt-get install postgresql")
    return bindir


@pytest.fixture(scope="session")
def postgres_server(postgres_bindir: Path) -> Iterator[PostgresServer]:
    """A private PostgreSQL server on a free loopback port with an empty database.

    Trust authentication, no password: connect with ``psycopg.connect(server.conninfo)``
    or hand ``server.environment()`` (PGHOST, PGPORT, PGUSER, PGDATABASE) to a child process.
    """
    with temporary_postgres(postgres_bindir, dbname="spanscope_test") as server:
        yield server


@pytest.fixture(scope="session")
def mariadb_binaries() -> MariadbBinaries:
    """MariaDB's ``mariadbd``, ``mariadb-install-db`` and ``mariadb`` (Debian: mariadb-server)."""
    binaries = find_mariadb()
    if binaries is None:
        missing_service("MariaDB (mariadbd, mariadb-install-db)", "apt-get install mariadb-server")
    return binaries


@pytest.fixture(scope="session")
def mariadb_server(mariadb_binaries: MariadbBinaries) -> Iterator[MariadbServer]:
    """A private MariaDB server on a free loopback port with an empty database.

    No grant tables (any user, no password); hand ``server.environment()`` to the demo.
    """
    with temporary_mariadb(mariadb_binaries, dbname="spanscope_test") as server:
        yield server
