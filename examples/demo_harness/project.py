"""The demo project: where it lives, how its database is chosen, migrated and seeded."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from demo_harness.errors import HarnessError, tail

DEMO_PROJECT_DIR = Path(__file__).resolve().parent.parent / "django_books_demo"
SETTINGS_MODULE = "django_books_demo.settings"

# Variables that configure tracing or the demo itself. A hermetic run drops any
# inherited value so that only what the caller passes explicitly applies.
_CONFIG_PREFIXES = ("OTEL_", "SPANSCOPE_", "PG", "DJANGO_")


class Database(Protocol):
    """A database the demo can use: a name for messages and the variables that select it."""

    @property
    def name(self) -> str: ...

    def environment(self) -> dict[str, str]: ...


@dataclass(frozen=True)
class SqliteDatabase:
    path: Path

    @property
    def name(self) -> str:
        return "sqlite"

    def environment(self) -> dict[str, str]:
        return {"SPANSCOPE_DEMO_DB": "sqlite", "SPANSCOPE_DEMO_SQLITE_PATH": str(self.path)}


def demo_environment(
    base: Mapping[str, str],
    database: Database,
    *,
    hermetic: bool = False,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment of a demo process: ``base``, then the database's variables, then ``extra``.

    ``hermetic=True`` first removes every inherited ``OTEL_*``, ``SPANSCOPE_*``,
    ``PG*`` and ``DJANGO_*`` variable (tests use it, so a developer's shell
    cannot change what they check).
    """
    env = {
        key: value
        for key, value in base.items()
        if not (hermetic and key.startswith(_CONFIG_PREFIXES))
    }
    env.update(database.environment())
    # Exported explicitly: without it the OpenTelemetry Django instrumentor
    # configures default settings before manage.py can set its own.
    env["DJANGO_SETTINGS_MODULE"] = SETTINGS_MODULE
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


def manage(args: list[str], env: Mapping[str, str], timeout_s: float = 300) -> str:
    """Run ``python manage.py ARGS`` in the demo project; its output, or HarnessError on failure."""
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=DEMO_PROJECT_DIR,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    output = done.stdout + done.stderr
    if done.returncode != 0:
        raise HarnessError(
            f"`manage.py {' '.join(args)}` failed with exit code {done.returncode}:\n{tail(output)}",
            "check the database settings (SPANSCOPE_DEMO_DB, SPANSCOPE_DEMO_SQLITE_PATH, PG*)",
        )
    return output


def prepare_database(env: Mapping[str, str]) -> None:
    """Create the tables and the 1,000 books (both steps are no-ops when already done).

    Run without instrumentation: set-up queries are not part of the story the traces tell.
    """
    manage(["migrate", "--verbosity", "0"], env)
    manage(["seed_books"], env)
