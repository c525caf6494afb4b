"""``kill -9`` of a whole gunicorn (master and 4 workers) loses at most the last seconds, never files.

Spans are exported every 2 s by default: requests that ended more than one
schedule delay before the kill are already on disk, whole lines only, and the
analyzer reads every file without a complaint.
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from demo_harness import InstrumentedServer, Response
from demo_harness.launchers import LAUNCHERS
from demo_harness.trace_files import TraceFiles, read_trace_files
from demo_harness.traffic import send_concurrently
from e2e_demo import analyze_json

pytestmark = pytest.mark.e2e

REQUESTS = 24
CONCURRENCY = 8
ROUTE = "books/async/"
QUERIES_PER_REQUEST = 7
# spanscope's default schedule delay is 2 s; wait past it (plus the export itself).
SETTLE_S = 3.5


@dataclass(frozen=True)
class Killed:
    responses: list[Response]
    traces_dir: Path
    files: TraceFiles
    report: dict[str, Any]


@pytest.fixture(scope="module")
def killed(sqlite_demo_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Killed:
    workdir = tmp_path_factory.mktemp("sigkill")
    traces = workdir / "traces"
    env = {**sqlite_demo_env, "SPANSCOPE_TRACES_DIR": str(traces)}
    server = InstrumentedServer(env, workdir / "server.log", launcher=LAUNCHERS["gunicorn-sync"])
    with server:
        responses = send_concurrently(server.base_url, [ROUTE] * REQUESTS, CONCURRENCY)
        time.sleep(SETTLE_S)
        os.killpg(server.pid, signal.SIGKILL)  # no handler, no atexit, no flush
        server.stop()  # reaps the master and waits until every worker is gone
    return Killed(responses, traces, read_trace_files(traces), analyze_json(traces))


def test_requests_were_served_before_the_kill(killed: Killed) -> None:
    assert Counter(r.status for r in killed.responses) == {200: REQUESTS}


def test_no_line_is_torn_or_corrupt(killed: Killed) -> None:
    assert killed.files.files
    assert killed.files.bad_lines == []
    for path in killed.files.files:
        assert path.read_bytes().endswith(b"\n"), f"{path.name} ends in the middle of a line"


def test_spans_older_than_the_export_delay_survive(killed: Killed) -> None:
    requests = killed.files.server_spans(ROUTE)
    assert len(requests) == REQUESTS
    for request in requests:
        db_spans = [s for s in killed.files.in_trace(request.trace_id) if s.is_db]
        assert len(db_spans) == QUERIES_PER_REQUEST


def test_analyzer_reads_every_record_after_a_kill(killed: Killed) -> None:
    assert killed.report["input"]["skipped_records"] == 0
    assert killed.report["input"]["spans"] == len(killed.files.spans)
