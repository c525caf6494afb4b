"""Steps the end-to-end tests of the demo share: one recorded run and its analysis.

The fixtures built on them live in ``conftest.py``; plain functions live here
so that test modules can import them by name.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import Any

from demo_harness import (
    Database,
    Plan,
    Recording,
    demo_environment,
    prepare_database,
    record_traffic,
    run_spanscope,
)
from demo_harness.trace_files import TraceFiles, read_trace_files


def record_demo(
    database: Database,
    workdir: Path,
    plan: Plan,
    extra_env: Mapping[str, str] | None = None,
) -> tuple[Path, Recording]:
    """Migrate and seed ``database``, serve ``plan`` from the instrumented demo, SIGTERM it.

    The trace files go to ``workdir/traces`` (returned with the recording), the
    server's log to ``workdir/server.log``. Hermetic: nothing from the
    developer's ``OTEL_*``/``SPANSCOPE_*`` environment leaks in; ``extra_env``
    is added last.
    """
    traces = workdir / "traces"
    traces.mkdir(parents=True, exist_ok=True)
    env = demo_environment(
        os.environ,
        database,
        hermetic=True,
        extra={"SPANSCOPE_TRACES_DIR": str(traces), **(extra_env or {})},
    )
    prepare_database(env)
    return traces, record_traffic(env, workdir / "server.log", plan)


def analyze_json(path: Path) -> dict[str, Any]:
    """``spanscope analyze PATH --format json``, parsed; the test fails when the command does."""
    analysis = run_spanscope(["analyze", str(path), "--format", "json"])
    assert analysis.returncode == 0, analysis.stderr[-2000:]
    report: dict[str, Any] = json.loads(analysis.stdout)
    return report


class TracesOnDisk:
    """A run that left trace files in ``traces_dir``: read independently of the
    analyzer (``files``) and analysed by the real ``spanscope analyze`` (``report``),
    each once however many tests look."""

    traces_dir: Path

    @cached_property
    def files(self) -> TraceFiles:
        return read_trace_files(self.traces_dir)

    @cached_property
    def report(self) -> dict[str, Any]:
        return analyze_json(self.traces_dir)
