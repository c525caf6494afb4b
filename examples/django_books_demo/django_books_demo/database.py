"""The demo's ``DATABASES["default"]``, chosen by environment variables.

``SPANSCOPE_DEMO_DB=sqlite`` (the default) uses the SQLite file named by
``SPANSCOPE_DEMO_SQLITE_PATH`` (default: ``books.sqlite3`` next to ``manage.py``).
``SPANSCOPE_DEMO_DB=postgres`` uses PostgreSQL through psycopg 3 with the libpq
variables ``PGHOST``, ``PGPORT``, ``PGUSER``, ``PGPASSWORD`` and ``PGDATABASE``
(default database name: ``books``).
"""

from __future__ import annotations

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


BACKENDS: dict[str, Callable[[Mapping[str, str]], DatabaseSettings]] = {
    "sqlite": _sqlite,
    "postgres": _postgres,
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
