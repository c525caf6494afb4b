"""The demo's ``DATABASES["default"]``, chosen by environment variables.

``SPANSCOPE_DEMO_DB=sqlite`` (the default) uses the SQLite file named by
``SPANSCOPE_DEMO_SQLITE_PATH`` (default: ``books.sqlite3`` next to ``manage.py``).
``SPANSCOPE_DEMO_DB=postgres`` uses PostgreSQL through psycopg 3 with the libpq
variables ``PGHOST``, ``PGPORT``, ``PGUSER``, ``PGPASSWORD`` and ``PGDATABASE``
(default database name: ``books``).
``SPANSCOPE_DEMO_PG_DRIVER=psycopg2`` makes the same PostgreSQL settings use
psycopg2 instead (Django picks psycopg 3 whenever it is importable).
``SPANSCOPE_DEMO_DB=mysql`` uses MySQL or MariaDB through PyMySQL with
``SPANSCOPE_DEMO_MYSQL_HOST``, ``_PORT``, ``_USER``, ``_PASSWORD`` and
``_DATABASE`` (default database name: ``books``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from django.core.exceptions import ImproperlyConfigured

PROJECT_DIR = Path(__file__).resolve().parent.parent

DatabaseSettings = dict[str, Any]


def _sqlite(env: Mapping[str, str]) -> DatabaseSettings:
    path = env.get("SPANSCOPE_DEMO_SQLITE_PATH") or str(PROJECT_DIR / "books.sqlite3")
    return {"ENGINE": "django.db.backends.sqlite3", "NAME": path}


def _postgres(env: Mapping[str, str]) -> DatabaseSettings:
    if env.get("SPANSCOPE_DEMO_PG_DRIVER") == "psycopg2":
        # Django's backend tries `import psycopg` first and falls back to
        # psycopg2 on ImportError; a None entry in sys.modules makes that import
        # fail, in this process only.
        sys.modules["psycopg"] = None  # type: ignore[assignment]
    # Empty HOST/PORT/USER let libpq apply its own defaults (a local socket, the
    # login name), exactly as `psql` does with the same environment.
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": env.get("PGDATABASE") or "books",
        "USER": env.get("PGUSER", ""),
        "PASSWORD": env.get("PGPASSWORD", ""),
        "HOST": env.get("PGHOST", ""),
        "PORT": env.get("PGPORT", ""),
    }


def _mysql(env: Mapping[str, str]) -> DatabaseSettings:
    # Django's MySQL backend imports MySQLdb (mysqlclient, a C extension);
    # PyMySQL is pure Python and stands in for it once installed under that name.
    import pymysql

    pymysql.install_as_MySQLdb()
    return {
        "ENGINE": "django.db.backends.mysql",
        "NAME": env.get("SPANSCOPE_DEMO_MYSQL_DATABASE") or "books",
        "USER": env.get("SPANSCOPE_DEMO_MYSQL_USER", ""),
        "PASSWORD": env.get("SPANSCOPE_DEMO_MYSQL_PASSWORD", ""),
        "HOST": env.get("SPANSCOPE_DEMO_MYSQL_HOST", ""),
        "PORT": env.get("SPANSCOPE_DEMO_MYSQL_PORT", ""),
        "OPTIONS": {"charset": "utf8mb4"},
    }


BACKENDS: dict[str, Callable[[Mapping[str, str]], DatabaseSettings]] = {
    "sqlite": _sqlite,
    "postgres": _postgres,
    "mysql": _mysql,
}


def database_from_environment(env: Mapping[str, str]) -> DatabaseSettings:
    name = env.get("SPANSCOPE_DEMO_DB") or "sqlite"
    try:
        backend = BACKENDS[name]
    except KeyError:
        choices = ", ".join(sorted(BACKENDS))
        raise ImproperlyConfigured(
            f"SPANSCOPE_DEMO_DB={name!r} is not a known database "
            f"(hint: set SPANSCOPE_DEMO_DB to one of: {choices})"
        ) from None
    return backend(env)
