#!/usr/bin/env python
"""Run the books demo end to end and print spanscope's analysis.

1. migrate and seed the demo database (SQLite by default, or PostgreSQL);
2. start ``opentelemetry-instrument python manage.py runserver --noreload`` as a
   real server; the only tracing setting is ``SPANSCOPE_TRACES_DIR``;
3. send real HTTP requests: 3 to ``/``, then N to ``books/`` (the N+1 loop)
   and N to ``books/fixed/`` (``select_related``); every request is traced, the
   ``/`` ones double as warm-up (imports, first connection) and are their own
   endpoint, so they do not blur the two books views;
4. stop the server with SIGTERM (the way a process manager does) and run
   ``spanscope analyze`` on the trace files;
5. deploy "the fix" (``SPANSCOPE_DEMO_APPLY_FIX=1``: ``books/`` is now served by
   the ``select_related`` view), replay the same traffic into a second folder,
   and run ``spanscope compare`` on the before and after dumps: ``books/`` gets
   faster with both N+1 findings resolved; ``books/fixed/`` runs the same code in
   both runs, so whatever it shows is run-to-run variation (in the first run its
   requests share the CPU with the export of the N+1 requests' 2,001 spans each).

Your own ``OTEL_*`` variables are passed through (they win over spanscope's
defaults); ``--db postgres`` uses the server named by ``PGHOST`` etc. when
``PGHOST`` is set, else a throwaway server started from the local PostgreSQL
binaries.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path

from demo_harness import (
    Database,
    HarnessError,
    PostgresServer,
    Recording,
    Response,
    SqliteDatabase,
    demo_environment,
    demo_plan,
    prepare_database,
    record_traffic,
    run_spanscope,
    temporary_postgres,
)

REPO_ROOT = Path(__file__).resolve().parent.parent


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--requests",
        type=int,
        default=10,
        metavar="N",
        help="requests to books/ and to books/fixed/ each (default: 10)",
    )
    parser.add_argument(
        "--db",
        choices=("sqlite", "postgres"),
        default="sqlite",
        help="database of the demo (default: sqlite)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=REPO_ROOT / "out" / "demo",
        metavar="DIR",
        help="working folder: traces/, traces-after/, server logs, books.sqlite3 "
        "(default: out/demo)",
    )
    parser.add_argument(
        "--no-compare",
        action="store_true",
        help="skip step 5 (the after-the-fix run and `spanscope compare`)",
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the trace files of earlier runs in DIR/traces (default: start empty)",
    )
    args = parser.parse_args(argv)
    if args.requests < 1:
        parser.error("--requests must be at least 1")
    return args


def fresh_traces_dir(path: Path, keep: bool) -> Path:
    """Create ``path``; unless ``keep``, first delete the trace files an earlier run left there.

    Only files that look like trace dumps are deleted: a folder holding anything
    else is refused rather than emptied, so a mistyped ``--out`` cannot cost data.
    """
    path.mkdir(parents=True, exist_ok=True)
    if keep:
        return path
    entries = list(path.iterdir())
    strangers = [entry for entry in entries if not (entry.is_file() and ".json" in entry.name)]
    if strangers:
        raise HarnessError(
            f"{path} holds {strangers[0].name!r}, which is not a trace file; not emptying it",
            "pass --out with a new folder, or --keep to add to what is there",
        )
    for entry in entries:
        entry.unlink()
    return path


@contextmanager
def existing_postgres() -> Iterator[PostgresServer]:
    """The server the libpq variables (PGHOST, PGPORT, PGUSER, PGDATABASE) point at."""
    yield PostgresServer(
        host=os.environ["PGHOST"],
        port=int(os.environ.get("PGPORT") or 5432),
        user=os.environ.get("PGUSER") or os.environ.get("USER", "postgres"),
        dbname=os.environ.get("PGDATABASE") or "books",
    )


def open_database(name: str, out: Path) -> AbstractContextManager[Database]:
    if name == "sqlite":
        return nullcontext(SqliteDatabase(out / "books.sqlite3"))
    return existing_postgres() if os.environ.get("PGHOST") else temporary_postgres()


def say(message: str) -> None:
    print(f"==> {message}", flush=True)


def summarize(responses: list[Response]) -> list[str]:
    """Client-side view of the traffic: per path, count, statuses and mean time."""
    lines = []
    for path in dict.fromkeys(response.path for response in responses):
        mine = [response for response in responses if response.path == path]
        statuses = sorted({response.status for response in mine})
        mean_ms = statistics.fmean(response.seconds for response in mine) * 1000
        lines.append(
            f"    /{path:<14} {len(mine):>4} requests  status {statuses}  mean {mean_ms:9.1f} ms"
        )
    return lines


def run(args: argparse.Namespace) -> int:
    out = args.out.resolve()
    before = fresh_traces_dir(out / "traces", args.keep)
    after = fresh_traces_dir(out / "traces-after", args.keep)
    plan = demo_plan(args.requests)
    with open_database(args.db, out) as database:
        env = demo_environment(os.environ, database, extra={"SPANSCOPE_TRACES_DIR": str(before)})
        say(f"preparing the {database.name} database (migrate, seed 1,000 books)")
        prepare_database(env)
        recording = record_traffic(env, out / "server.log", plan, say)
        if not args.no_compare:
            say("deploying the fix (books/ now uses select_related) and replaying the traffic")
            fixed_env = {**env, "SPANSCOPE_TRACES_DIR": str(after), "SPANSCOPE_DEMO_APPLY_FIX": "1"}
            recording_after = record_traffic(fixed_env, out / "server-after.log", plan, say)
    status = report(recording, ["analyze", str(before)])
    if not args.no_compare:
        status = max(status, report(recording_after, ["compare", str(before), str(after)]))
    return status


def report(recording: Recording, spanscope_args: list[str]) -> int:
    """Client-side timings of one run, then the spanscope command on its traces."""
    responses = recording.responses
    print("\n".join(["client-side timings:", *summarize(responses)]), flush=True)
    if recording.server_exit.killed:
        say(f"the server ignored SIGTERM and was killed; see {recording.log_path}")
    say("spanscope " + " ".join(spanscope_args))
    result = run_spanscope(spanscope_args)
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    failed = [response for response in responses if response.status >= 400]
    if failed:
        say(
            f"{len(failed)} request(s) failed, e.g. /{failed[0].path} -> {failed[0].status}; "
            f"see {recording.log_path}"
        )
        return 1
    return result.returncode


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return run(args)
    except HarnessError as error:
        print(f"run_demo: error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
