"""spanscope's cost per DB span in machine instructions (valgrind's callgrind), not time.

    .venv/bin/python benchmarks/callgrind_instrument.py             # ~4-7 minutes
    .venv/bin/python benchmarks/callgrind_instrument.py --native    # the same phases, timed

Timings of a few µs per span drown in the noise of a shared 2-core machine;
instruction counts do not (deterministic to ~1 %).  One Django process (the
books demo's N+1 and fixed views, as in ``bench_instrument.py``) runs under
callgrind and alternates four modes, switched in place by
``bench_instrument.SpanscopeSwitch``:

- ``upstream``: OpenTelemetry's Django + sqlite3 instrumentation, one
  ``BatchSpanProcessor`` feeding the OTLP JSON-lines file exporter;
- ``hooks``: the same plus spanscope's hooks: the ORM relation wrappers, and its
  ``_populate_span`` in place of upstream's dbapi one, here in its plain form
  (upstream's method, then the query's params left on the span);
- ``upstream_store``: the hooks plus spanscope's span processors and export
  path, exactly as ``configurator.enrichment_pipeline`` builds them: all of
  spanscope's own work;
- ``spanscope``: the same with the ``_populate_span`` spanscope installs over the
  upstream release it was checked against, which also stores upstream's own
  attributes without the SDK's per-value validation
  (``spanscope.instrument.cursor_tracer``).

After each switch one untimed request per view lets the interpreter
re-specialise the code that uses the patched classes.  Each phase then runs a
few requests of one view in one mode, then flushes the batch processor
(``force_flush`` exports on the calling thread, so the export work is counted
apart from the requests'); a call to ``os.getppid`` between phases makes
callgrind dump its counters (``--dump-before=getppid``), and a full garbage
collection before each phase makes the collections inside it depend on its own
allocations only.  Reported per DB span, the median over repetitions:

- *request thread*: (spanscope N+1 request - upstream N+1 request) / DB spans
  per N+1 request -- what the application waits for; also taken on (N+1 -
  fixed) of each mode, which cancels what is paid per request rather than per
  span, and split into spanscope's own work (the hooks, the processors) and
  what its faster store of upstream's attributes saves;
- *exporter thread*: the same difference for the export of those requests'
  spans (attributes made, encoded, written);
- upstream's own instructions per DB span on both threads, for scale.

``--native`` runs the same phases without valgrind and reports thread CPU time
per phase: divided into the instruction counts it gives this machine's rate for
this code, to turn instructions into µs.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import bench_instrument as bench

MODES = ("upstream", "hooks", "upstream_store", "spanscope")
VIEWS = ("books_n_plus_1", "books_fixed")
MARK_FILE = "BENCH_MARKS"


# --- child side: runs under callgrind (or natively with --native) ----------------------


def child(requests: int, repetitions: int, warmup: int, marks_path: str, traces_dir: str) -> None:
    traced = bench._configure_tracing("spanscope", traces_dir, schedule_delay_millis=3_600_000)
    assert traced is not None
    import django

    django.setup()
    from django.core.handlers.wsgi import WSGIHandler
    from django.db import connection

    handler = WSGIHandler()
    switch = bench.SpanscopeSwitch(traced)
    multi = traced.provider._active_span_processor
    marks: list[dict[str, Any]] = []

    def mark(label: str, **fields: Any) -> None:
        # callgrind dumps its counters when getppid is called: the part that ends
        # here is the phase marked last.
        marks.append({"label": label, "thread_ns": time.thread_time_ns(), **fields})
        os.getppid()

    def set_mode(mode: str) -> None:
        switch.set(
            mode in ("spanscope", "upstream_store"),
            connection,
            hooks=mode != "upstream",
            fast_store=mode == "spanscope",
        )

    from django.test.utils import CaptureQueriesContext

    db_spans = {}
    for mode in MODES:  # warm every path and cache once, untimed
        set_mode(mode)
        for view in VIEWS:
            for _ in range(warmup):
                with CaptureQueriesContext(connection) as queries:
                    bench._request(handler, bench.VIEWS[view])
                db_spans[view] = len(queries.captured_queries)
        multi.force_flush()
    for repetition in range(repetitions):
        order = MODES if repetition % 2 == 0 else MODES[::-1]
        for mode in order:
            set_mode(mode)
            # Untimed: switching patches Django's classes, and the interpreter
            # re-specialises the code that uses them on the next request.
            for view in VIEWS:
                bench._request(handler, bench.VIEWS[view])
            multi.force_flush()
            for view in VIEWS:
                # Each phase starts with the collector's counters at zero, so the
                # collections it triggers depend on its own allocations only.
                gc.collect()
                mark("requests", mode=mode, view=view, repetition=repetition)
                for _ in range(requests):
                    bench._request(handler, bench.VIEWS[view])
                mark("export", mode=mode, view=view, repetition=repetition)
                multi.force_flush()
                mark("idle")
    # Which _populate_span spanscope installed: the copy over a checked upstream
    # release, or the plain wrapper (earlier versions, --baseline: none).
    cursor_tracer = sys.modules.get("spanscope.instrument.cursor_tracer")
    populate = cursor_tracer.installed() if cursor_tracer is not None else None
    Path(marks_path).write_text(
        json.dumps({"db_spans": db_spans, "phases": marks, "populate": populate})
    )
    set_mode("spanscope")


# --- parent side -------------------------------------------------------------------


def _totals(out_dir: Path) -> dict[int, dict[int, int]]:
    """part number -> thread number -> instructions, from callgrind's per-part dumps."""
    totals: dict[int, dict[int, int]] = defaultdict(dict)
    for path in out_dir.glob("cg.out*"):
        part = thread = events = None
        with path.open() as file:
            for line in file:
                if line.startswith("part:"):
                    part = int(line.split()[1])
                elif line.startswith("thread:"):
                    thread = int(line.split()[1])
                elif line.startswith("summary:") or line.startswith("totals:"):
                    events = int(line.split()[1])
        if part is not None and thread is not None and events is not None:
            totals[part][thread] = events
    return totals


def _run_child(
    args: argparse.Namespace, tmp: Path, valgrind: bool
) -> tuple[dict[str, int], list[dict[str, Any]], str | None]:
    """DB spans per request of each view, the phases, and which ``_populate_span`` ran."""
    database = tmp / "books.sqlite3"
    if not database.exists():
        bench.seed(database, args.books)
    marks = tmp / "marks.json"
    command = [sys.executable, __file__, "--child"]
    if valgrind:
        command = [
            "valgrind",
            "--tool=callgrind",
            "--separate-threads=yes",
            "--dump-before=getppid",
            f"--callgrind-out-file={tmp / 'cg.out'}",
            *command,
        ]
    env = {
        **bench._child_env(database, args.baseline),
        "PYTHONHASHSEED": "0",
        "BENCH_TRACES_DIR": str(tmp / "traces"),
        MARK_FILE: str(marks),
        "BENCH_REQUESTS": str(args.requests),
        "BENCH_REPETITIONS": str(args.repetitions),
        "BENCH_WARMUP": str(args.warmup),
    }
    subprocess.run(
        command,
        env=env,
        check=True,
        cwd=bench.DEMO,
        stderr=subprocess.DEVNULL if valgrind else None,
    )
    recorded = json.loads(marks.read_text())
    phases: list[dict[str, Any]] = recorded["phases"]
    if valgrind:
        totals = _totals(tmp)
        # Part 1 ends at the first mark: part n + 1 is the phase that mark n started.
        for number, phase in enumerate(phases, start=1):
            threads = totals.get(number + 1, {})
            phase["main"] = threads.get(1, 0)
            phase["other"] = sum(v for t, v in threads.items() if t != 1)
    else:
        for phase, following in itertools.pairwise(phases):
            phase["main"] = following["thread_ns"] - phase["thread_ns"]
            phase["other"] = 0
    return recorded["db_spans"], phases, recorded.get("populate")


def _per_phase(phases: list[dict[str, Any]], requests: int) -> dict[tuple[str, str, str], float]:
    """(kind, mode, view) -> median per request, main thread + other threads."""
    values: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    for phase in phases:
        if phase["label"] in ("requests", "export"):
            key = (phase["label"], phase["mode"], phase["view"])
            values[key].append((phase["main"] + phase["other"]) / requests)
    return {key: statistics.median(v) for key, v in values.items()}


def report(
    per_request: dict[tuple[str, str, str], float], db_spans: dict[str, int], unit: str
) -> str:
    n1, fixed = db_spans["books_n_plus_1"], db_spans["books_fixed"]

    def per_span(kind: str, upper: str, lower: str) -> tuple[float, float]:
        def over(view: str) -> float:
            return per_request[(kind, upper, view)] - per_request[(kind, lower, view)]

        return over("books_n_plus_1") / n1, (over("books_n_plus_1") - over("books_fixed")) / (
            n1 - fixed
        )

    def own(kind: str) -> float:
        return (
            per_request[(kind, "upstream", "books_n_plus_1")]
            - per_request[(kind, "upstream", "books_fixed")]
        ) / (n1 - fixed)

    def row(title: str, values: tuple[float, float]) -> str:
        return f"  {title:<46}{values[0]:>12,.0f}{values[1]:>16,.0f}"

    request = per_span("requests", "spanscope", "upstream")
    export = per_span("export", "spanscope", "upstream")
    lines = [
        f"{unit} per DB span ({n1} DB spans per N+1 request, {fixed} per fixed request)",
        f"  {'':<46}{'N+1 / spans':>12}{'(N+1 - fixed)':>16}",
        "request thread (what the application waits for):",
        row("spanscope over upstream", request),
        row(
            "  spanscope's own work (upstream's store)",
            per_span("requests", "upstream_store", "upstream"),
        ),
        row("    of which the hooks", per_span("requests", "hooks", "upstream")),
        row("    of which the span processors", per_span("requests", "upstream_store", "hooks")),
        row(
            "  its faster store of upstream's attributes",
            per_span("requests", "spanscope", "upstream_store"),
        ),
        f"  upstream's own per DB span{'':<23}{own('requests'):>24,.0f}",
        f"  spanscope's added share{'':<26}{request[1] / own('requests'):>24.1%}",
        "exporter (attributes made, encoded and written):",
        row("spanscope over upstream", export),
        f"  upstream's own per DB span{'':<23}{own('export'):>24,.0f}",
        f"  spanscope's added share{'':<26}{export[1] / own('export'):>24.1%}",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--requests", type=int, default=2, help="requests per phase")
    parser.add_argument("--repetitions", type=int, default=3, help="rounds of all phases")
    parser.add_argument("--books", type=int, default=50, help="books in the database")
    parser.add_argument(
        "--native", action="store_true", help="no valgrind: thread CPU time of the same phases"
    )
    parser.add_argument(
        "--baseline", metavar="DIR", help="measure spanscope/instrument imported from DIR"
    )
    parser.add_argument("--json", action="store_true", help="also print the raw phases")
    parser.add_argument(
        "--keep", metavar="DIR", help="keep callgrind's per-phase files (for callgrind_annotate)"
    )
    parser.add_argument(
        "--warmup", type=int, default=2, help="untimed requests per view and mode first"
    )
    args = parser.parse_args(argv)
    if args.child:
        child(
            int(os.environ["BENCH_REQUESTS"]),
            int(os.environ["BENCH_REPETITIONS"]),
            int(os.environ["BENCH_WARMUP"]),
            os.environ[MARK_FILE],
            os.environ["BENCH_TRACES_DIR"],
        )
        return
    if args.native:
        args.requests, args.repetitions = args.requests * 5, max(args.repetitions, 5)
    with tempfile.TemporaryDirectory(prefix="spanscope-callgrind-") as name:
        tmp = Path(name)
        started = time.monotonic()
        db_spans, phases, populate = _run_child(args, tmp, valgrind=not args.native)
        unit = "thread CPU ns" if args.native else "instructions"
        print(
            f"{'native' if args.native else 'callgrind'}: {args.repetitions} repetitions x "
            f"{args.requests} requests per phase, {time.monotonic() - started:.0f} s"
            + (f", spanscope from {args.baseline}" if args.baseline else "")
            + f"; spanscope's _populate_span: {populate or 'none'}"
        )
        print(report(_per_phase(phases, args.requests), db_spans, unit))
        if args.json:
            print(json.dumps(phases, indent=1))
        if args.keep:
            keep = Path(args.keep)
            keep.mkdir(parents=True, exist_ok=True)
            for path in tmp.glob("cg.out*"):
                path.replace(keep / path.name)
            (keep / "phases.json").write_text(json.dumps(phases, indent=1))


if __name__ == "__main__":
    main()
