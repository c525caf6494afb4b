"""What tracing costs a Django request: none vs upstream OpenTelemetry vs spanscope.

    .venv/bin/python benchmarks/bench_instrument.py            # full run, 2-3 minutes
    .venv/bin/python benchmarks/bench_instrument.py --quick    # smoke run, ~15 s

Configurations, each in its own subprocess (instrumentation cannot be undone
in-process):

- ``none``: plain Django;
- ``upstream``: ``opentelemetry-instrumentation-django`` + ``-sqlite3``, one
  ``BatchSpanProcessor`` feeding spanscope's OTLP JSON-lines file exporter;
- ``spanscope``: the same plus spanscope's capture (code location, ORM
  relation, query-parameter hash, layer: the ``on_start`` of its export
  processor) and its Django patches (relations, templates, cache calls, query
  parameters), built by ``spanscope.instrument.configurator.enrichment_pipeline``
  exactly as under ``opentelemetry-instrument``;
- ``spanscope_no_hash``: the same with ``SPANSCOPE_PARAMS_HASH=0``;
- ``baseline`` (only with ``--baseline DIR``): ``spanscope`` with another copy
  of ``spanscope/instrument`` imported from ``DIR``, to compare two versions of
  spanscope in one run.

Both traced configurations use the same batch settings (queue 8,192, 2 s delay)
so neither drops spans.  Within a round all children stay alive side by side
and the parent asks them for one request at a time, round-robin: only one runs
at any moment, and load that drifts on a shared machine hits every
configuration alike.  Each round starts fresh processes; the figures are the
median over rounds of each round's per-request medians.
Requests are WSGI calls made in-process on a prebuilt ``environ`` straight into
``django.core.handlers.wsgi.WSGIHandler`` -- no network, no test client -- so
the figures are Django's own request path plus tracing.  Views come from
``examples/django_books_demo`` (hello, the N+1 ``books`` view and the
``select_related`` ``books/fixed`` view), on a private SQLite copy seeded with
``--books`` books.

Each request is timed three ways: wall clock, the process's CPU time (all
threads, so the batch exporter's encoding counts) and the request thread's CPU
time (what the application waits for; the least disturbed by other processes).

"Per DB span", spanscope's target: what spanscope adds over upstream
OpenTelemetry (same instrumentations, same batch settings, same exporter) for
each DB span, on the request thread -- (median N+1 request time of spanscope -
that of upstream) / DB spans per N+1 request; and, less noisy, the same
difference taken on (N+1 request - fixed request) of each configuration,
divided by the difference in DB spans between the two views, which cancels
whatever a configuration costs per request rather than per span -- and,
separately, on the exporter thread: each child's exporter is timed in place
(thread CPU time per span exported, attributes made, encoded and written), and
spanscope's figure is shown minus upstream's.  Ratios against upstream's own
cost come from the same run.  Afterwards the spanscope child also times the
``on_start`` that captures, in place.  ``callgrind_instrument.py`` counts the
same quantities in machine instructions, which this machine's load does not
disturb.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, Any, NamedTuple

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "examples" / "django_books_demo"
CONFIGURATIONS = ("none", "upstream", "spanscope", "spanscope_no_hash")
SPANSCOPE = "spanscope"
BASELINE = "baseline"  # spanscope imported from --baseline DIR
# What each configuration's child sets in its environment.
CONFIGURATION_ENV = {"spanscope_no_hash": {"SPANSCOPE_PARAMS_HASH": "0"}}
VIEWS = {"hello": "/", "books_fixed": "/books/fixed/", "books_n_plus_1": "/books/"}
CLOCKS: dict[str, Callable[[], int]] = {
    "wall": time.perf_counter_ns,
    "cpu": time.process_time_ns,
    "thread": time.thread_time_ns,
}


# --- child side ------------------------------------------------------------------


def _environ(path: str) -> dict[str, Any]:
    return {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "HTTP_HOST": "localhost",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.url_scheme": "http",
        "wsgi.version": (1, 0),
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }


def _request(handler: Callable[..., Iterable[bytes]], path: str) -> int:
    status: list[str] = []
    response = handler(_environ(path), lambda s, h, exc_info=None: status.append(s))
    body = b"".join(response)
    getattr(response, "close", lambda: None)()
    if not status or not status[0].startswith("200"):
        raise SystemExit(f"{path} answered {status}: {body[:200]!r}")
    return len(body)


# Thread CPU time spent in the exporter (encoding + write) and spans exported.
_EXPORT_COST = [0, 0]


def _timed_export(export: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def timed(spans: Any) -> Any:
        started = time.thread_time_ns()
        try:
            return export(spans)
        finally:
            _EXPORT_COST[0] += time.thread_time_ns() - started
            _EXPORT_COST[1] += len(spans)

    return timed


class Traced(NamedTuple):
    """A traced child's provider, spanscope's capturing processor (None for
    upstream) and an upstream ``BatchSpanProcessor`` on its own exporter, not
    registered, for :class:`SpanscopeSwitch` to swap in."""

    provider: Any
    processor: Any
    upstream: Any


def _time_exports(processor: Any) -> None:
    """Time everything the batch processor's worker hands its exporter: for
    spanscope that includes making the attributes (the exporter wrapper), not
    only encoding and writing them."""
    exporter = processor._batch_processor._exporter
    exporter.export = _timed_export(exporter.export)


def _configure_tracing(
    configuration: str, traces_dir: str, schedule_delay_millis: int = 2000
) -> Traced | None:
    if configuration == "none":
        return None
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.sqlite3 import SQLite3Instrumentor
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from spanscope.instrument.file_exporter import OTLPJsonFileSpanExporter

    provider = TracerProvider()
    exporter = OTLPJsonFileSpanExporter(traces_dir)
    batch: dict[str, Any] = {
        "max_queue_size": 8192,
        "schedule_delay_millis": schedule_delay_millis,
    }
    processor = None
    if configuration.startswith("spanscope") or configuration == BASELINE:
        from spanscope.instrument import layers
        from spanscope.instrument.configurator import enrichment_pipeline

        layers.install(provider)
        first, export_processor = enrichment_pipeline()
        # (span processors, factory); earlier versions (--baseline): (processor, factory).
        span_processors = list(first) if isinstance(first, (list, tuple)) else [first]
        for extra in span_processors:
            provider.add_span_processor(extra)
        exporting = export_processor(exporter, **batch)
        provider.add_span_processor(exporting)
        _time_exports(exporting)
        # Whose on_start captures: the processor of its own, else the export processor.
        processor = span_processors[0] if span_processors else exporting
    else:
        exporting = BatchSpanProcessor(exporter, **batch)
        provider.add_span_processor(exporting)
        _time_exports(exporting)
    upstream = BatchSpanProcessor(
        OTLPJsonFileSpanExporter(str(Path(traces_dir) / "upstream-switched")), **batch
    )
    DjangoInstrumentor().instrument(tracer_provider=provider)
    SQLite3Instrumentor().instrument(tracer_provider=provider)
    return Traced(provider, processor, upstream)


# The timing wrapper sits between the SDK and the processor; compiled under
# contextlib's file name it counts as span-starting plumbing, as the SDK frames
# around it do, so the processor's stack walk (which skips plumbing and stops at
# the first frame outside libraries) takes the same path as without the timer.
_TIMED_ON_START = """
def timed(span, parent_context=None):
    started = thread_time_ns()
    original(span, parent_context)
    spent[0] += thread_time_ns() - started
    spent[1] += 1
"""


def _time_in_place(
    processor: Any, call: Callable[..., None], handler: Callable[..., Iterable[bytes]], path: str
) -> float:
    import contextlib

    spent = [0, 0]
    namespace = {"original": call, "spent": spent, "thread_time_ns": time.thread_time_ns}
    exec(compile(_TIMED_ON_START, contextlib.__file__, "exec"), namespace)
    original = processor.on_start
    processor.on_start = namespace["timed"]
    try:
        for _ in range(5):
            _request(handler, path)
    finally:
        processor.on_start = original
    return spent[0] / spent[1] / 1000 if spent[1] else float("nan")


def _time_on_start(
    processor: Any, handler: Callable[..., Iterable[bytes]], path: str
) -> dict[str, float]:
    """Mean µs of thread CPU time inside the processor's on_start per span, and of the timer alone."""
    return {
        "on_start_us": _time_in_place(processor, processor.on_start, handler, path),
        "timer_us": _time_in_place(
            processor, lambda span, parent_context=None: None, handler, path
        ),
    }


class SpanscopeSwitch:
    """Turns spanscope's pieces off and on again inside one traced process.

    Off = the SDK's processor tuple holds only an upstream ``BatchSpanProcessor``
    (its own exporter of the same class, not wrapped by spanscope) instead of
    spanscope's processors, and the methods spanscope replaces or wraps -- the
    ORM's, and the dbapi instrumentation's ``CursorTracer._populate_span`` -- are
    back to the originals (``__wrapped__``; a Django execute wrapper publishing
    query parameters, where one is in use, is out of the connection): what is
    left is upstream OpenTelemetry with the same exporter.  Alternating requests on and off in
    one process compares the two with everything else equal -- memory layout,
    hash seed, caches -- which separate processes cannot.  The processors and
    the Django hooks switch separately (:meth:`set`), to tell their costs apart.
    """

    def __init__(self, traced: Traced) -> None:
        from django.db.models.fields import related_descriptors
        from django.db.models.query import QuerySet
        from opentelemetry.instrumentation.dbapi import CursorTracer
        from spanscope.instrument import query_params

        self._multi = traced.provider._active_span_processor
        self._with = self._multi._span_processors
        self._without = (traced.upstream,)
        # The execute wrapper: the parameters' hook of earlier versions (--baseline),
        # and the fallback of this one; switched only where it is in use.
        self._publish = getattr(query_params, "publish_params", None)
        self._unpublished = False
        self._wrapped: list[tuple[Any, str, Any]] = []
        for owner, names in (
            (related_descriptors.ForwardManyToOneDescriptor, ("get_object",)),
            (related_descriptors.ReverseOneToOneDescriptor, ("__get__",)),
            # _clone: wrapped by earlier versions of spanscope (--baseline).
            (QuerySet, ("_fetch_all", "count", "exists", "_clone")),
            (CursorTracer, ("_populate_span",)),
        ):
            for name in names:
                wrapper = owner.__dict__.get(name)
                if getattr(wrapper, "__spanscope_patched__", False):
                    self._wrapped.append((owner, name, wrapper))
        # spanscope's _populate_span with upstream's own attribute store: the same
        # params handed to the span, through a plain wrapper around upstream's method
        # (what an unchecked upstream release gets), to tell spanscope's own work
        # from what its faster store saves.
        self._upstream_store: dict[Any, Any] = {}
        populate = CursorTracer.__dict__.get("_populate_span")
        leaving_params = getattr(
            sys.modules.get("spanscope.instrument.cursor_tracer"), "leaving_params", None
        )
        if getattr(populate, "__spanscope_patched__", False) and leaving_params is not None:
            self._upstream_store[populate] = leaving_params(populate.__wrapped__)

    def set(
        self, on: bool, connection: Any, hooks: bool | None = None, fast_store: bool = True
    ) -> None:
        """Processors on or off; the hooks as ``hooks`` says (default: as ``on``), with
        spanscope's faster attribute store or, ``fast_store=False``, upstream's."""
        hooks = on if hooks is None else hooks
        self._multi._span_processors = self._with if on else self._without
        for owner, name, wrapper in self._wrapped:
            if not hooks:
                wrapper = wrapper.__wrapped__
            elif not fast_store:
                wrapper = self._upstream_store.get(wrapper, wrapper)
            setattr(owner, name, wrapper)
        wrappers = connection.execute_wrappers
        if self._publish is None:
            return
        if not hooks and self._publish in wrappers:
            self._unpublished = True
            wrappers.remove(self._publish)
        elif hooks and self._unpublished and self._publish not in wrappers:
            wrappers.append(self._publish)


def _paired_cost(
    switch: SpanscopeSwitch, connection: Any, handler: Callable[..., Iterable[bytes]], pairs: int
) -> dict[str, float]:
    """Median request-thread CPU µs per N+1 request with spanscope on minus off, pair by pair."""
    differences = []
    for index in range(pairs):
        timing = {}
        # Alternate which goes first: a request warms the caches for the next one.
        for on in (True, False) if index % 2 == 0 else (False, True):
            switch.set(on, connection)
            started = time.thread_time_ns()
            _request(handler, VIEWS["books_n_plus_1"])
            timing[on] = time.thread_time_ns() - started
        differences.append(timing[True] - timing[False])
    switch.set(True, connection)
    return {"paired_n_plus_1_us": statistics.median(differences) / 1000}


def child(configuration: str, traces_dir: str) -> None:
    """Serve the parent's commands on stdin, one JSON answer per line on stdout."""
    traced = _configure_tracing(configuration, traces_dir)
    import django

    django.setup()
    from django.core.handlers.wsgi import WSGIHandler
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    handler = WSGIHandler()
    for line in sys.stdin:
        command, _, argument = line.strip().partition(" ")
        answer: dict[str, Any] = {}
        if command == "paired":
            assert traced is not None
            switch = SpanscopeSwitch(traced)
            answer = _paired_cost(switch, connection, handler, int(argument))
        elif command == "request":
            started = {clock: read() for clock, read in CLOCKS.items()}
            _request(handler, VIEWS[argument])
            answer = {clock: read() - started[clock] for clock, read in CLOCKS.items()}
        elif command == "stats":
            for view in ("books_n_plus_1", "books_fixed"):
                with CaptureQueriesContext(connection) as queries:
                    _request(handler, VIEWS[view])
                answer[f"db_queries_{view}"] = len(queries.captured_queries)
            if traced is not None:
                provider, processor, _upstream = traced
                if processor is not None:
                    answer.update(_time_on_start(processor, handler, VIEWS["books_n_plus_1"]))
                provider.shutdown()
                answer["export_us_per_span"] = _EXPORT_COST[0] / max(_EXPORT_COST[1], 1) / 1000
        print(json.dumps(answer), flush=True)


# --- parent side -------------------------------------------------------------------


def _child_env(database: Path, first_on_path: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "SPANSCOPE_"))}
    path = [first_on_path] if first_on_path else []
    env.update(
        DJANGO_SETTINGS_MODULE="django_books_demo.settings",
        SPANSCOPE_DEMO_DB="sqlite",
        SPANSCOPE_DEMO_SQLITE_PATH=str(database),
        PYTHONPATH=os.pathsep.join([*path, str(DEMO), env.get("PYTHONPATH", "")]).rstrip(
            os.pathsep
        ),
    )
    return env


_SEED = """
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from inventory.models import Author, Book, Publisher
authors = Author.objects.bulk_create(Author(name=f"Author{i}") for i in range(20))
publishers = Publisher.objects.bulk_create(Publisher(name=f"Publisher{i}") for i in range(10))
Book.objects.bulk_create(
    Book(title=f"Book{i}", author=authors[i % 20], publisher=publishers[i % 10])
    for i in range({books})
)
"""


def seed(database: Path, books: int) -> None:
    subprocess.run(
        [sys.executable, "-c", _SEED.replace("{books}", str(books))],
        env=_child_env(database),
        check=True,
        cwd=DEMO,
    )


class Child:
    """One configuration's process, driven over its stdin/stdout."""

    def __init__(
        self, configuration: str, database: Path, traces_dir: Path, baseline: str | None = None
    ) -> None:
        self.configuration = configuration
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--child", configuration],
            env={
                # A PEP 420 portion found first: its spanscope.instrument wins.
                **_child_env(database, baseline if configuration == BASELINE else None),
                **CONFIGURATION_ENV.get(configuration, {}),
                "BENCH_TRACES_DIR": str(traces_dir),
            },
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=DEMO,
        )

    def ask(self, command: str) -> dict[str, Any]:
        stdin: IO[str] | None = self.process.stdin
        stdout: IO[str] | None = self.process.stdout
        assert stdin is not None and stdout is not None
        stdin.write(command + "\n")
        stdin.flush()
        answer = stdout.readline()
        if not answer:
            raise SystemExit(f"the {self.configuration} child died (see its error above)")
        return json.loads(answer)  # type: ignore[no-any-return]

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait(timeout=60)


def measure(children: list[Child], requests: int, warmup: int, paired: int) -> dict[str, Any]:
    samples: dict[str, dict[str, dict[str, list[int]]]] = {
        c.configuration: {clock: {view: [] for view in VIEWS} for clock in CLOCKS} for c in children
    }
    for view in VIEWS:
        for index in range(warmup + requests):
            for item in children:  # round-robin: one request at a time, every configuration
                timing = item.ask(f"request {view}")
                if index >= warmup:
                    for clock in CLOCKS:
                        samples[item.configuration][clock][view].append(timing[clock])
    medians = {
        configuration: {
            clock: {view: statistics.median(values) / 1e6 for view, values in views.items()}
            for clock, views in clocks.items()
        }
        for configuration, clocks in samples.items()
    }
    # The pairs first: "stats" shuts the children's tracing down.
    pairs = {
        c.configuration: c.ask(f"paired {paired}")
        for c in children
        if paired and c.configuration in (SPANSCOPE, BASELINE)
    }
    stats = {c.configuration: c.ask("stats") for c in children}
    for configuration, answer in pairs.items():
        stats[configuration].update(answer)
    return {"medians_ms": medians, "stats": stats}


def _configurations(result: dict[str, Any]) -> list[str]:
    return [c for c in (*CONFIGURATIONS, BASELINE) if c in result["medians_ms"]]


def per_span_us(result: dict[str, Any], clock: str, upper: str, lower: str) -> dict[str, float]:
    """``upper``'s added cost per DB span over ``lower``, two ways (see the module docstring)."""
    medians = result["medians_ms"]
    stats = result["stats"]["none"]
    n_plus_1, fixed = stats["db_queries_books_n_plus_1"], stats["db_queries_books_fixed"]

    def view(configuration: str, name: str) -> float:
        return float(medians[configuration][clock][name])

    over_n_plus_1 = view(upper, "books_n_plus_1") - view(lower, "books_n_plus_1")
    over_fixed = view(upper, "books_fixed") - view(lower, "books_fixed")
    return {
        "n_plus_1": over_n_plus_1 * 1000 / n_plus_1,
        "n_plus_1_minus_fixed": (over_n_plus_1 - over_fixed) * 1000 / (n_plus_1 - fixed),
    }


def _table(result: dict[str, Any], clock: str) -> list[str]:
    configurations = _configurations(result)
    medians = {c: result["medians_ms"][c][clock] for c in configurations}
    queries = result["stats"]["none"]["db_queries_books_n_plus_1"]
    title = {
        "wall": "wall-clock latency",
        "cpu": "process CPU time (all threads: the exporter's encoding counts)",
        "thread": "request-thread CPU time",
    }[clock]
    lines = [
        f"median per request, {title}, ms",
        f"{'view':<16}"
        + "".join(f"{c:>19}" for c in configurations)
        + f"{'spanscope/upstream':>20}",
    ]
    for view in VIEWS:
        row = [medians[c][view] for c in configurations]
        ratio = medians["spanscope"][view] / medians["upstream"][view]
        lines.append(f"{view:<16}" + "".join(f"{m:>19.3f}" for m in row) + f"{ratio:>19.3f}x")

    def cost(upper: str, lower: str) -> str:
        both = per_span_us(result, clock, upper, lower)
        return f"{both['n_plus_1']:7.1f} µs  ({both['n_plus_1_minus_fixed']:7.1f} from N+1 - fixed)"

    fixed = medians["spanscope"]["books_fixed"] / medians["upstream"]["books_fixed"] - 1
    added = per_span_us(result, clock, "spanscope", "upstream")["n_plus_1_minus_fixed"]
    own = per_span_us(result, clock, "upstream", "none")["n_plus_1_minus_fixed"]
    lines += [
        f"  per DB span ({queries} per N+1 request; a configuration's N+1 request minus the",
        "  configuration below it, over the DB spans; in brackets the same on N+1 - fixed):",
        f"  upstream cost over none:                     {cost('upstream', 'none')}",
        f"  spanscope added cost over upstream:          {cost('spanscope', 'upstream')}",
        f"    = {added / own:.1%} of upstream's own cost per DB span (N+1 - fixed, this run)",
        f"  of which the parameter hash (over no_hash):  {cost('spanscope', 'spanscope_no_hash')}",
    ]
    if BASELINE in medians:
        lines.append(f"  baseline added cost over upstream:           {cost(BASELINE, 'upstream')}")
    lines += [
        f"  spanscope added cost on the fixed books view: {fixed * 100:7.1f} %",
        "",
    ]
    return lines


def report(result: dict[str, Any]) -> str:
    stats = result["stats"]
    queries = stats["none"]["db_queries_books_n_plus_1"]
    lines = [f"N+1 view: {queries} DB spans per request", ""]
    for clock in CLOCKS:
        lines += _table(result, clock)
    lines += ["spanscope on minus off in one process, request-thread CPU (median of pairs):"]
    for configuration in _configurations(result):
        if "paired_n_plus_1_us" in stats[configuration]:
            paired = stats[configuration]["paired_n_plus_1_us"]
            lines.append(
                f"  {configuration}:{'':<{36 - len(configuration)}}"
                f"{paired / queries:6.1f} µs per DB span ({paired / 1000:.3f} ms per N+1 request)"
            )
    lines += ["", "timed in place (thread CPU time):"]
    for configuration in _configurations(result):
        if "on_start_us" in stats[configuration]:
            lines.append(
                f"  {configuration} on_start:{'':<{26 - len(configuration)}}"
                f"{stats[configuration]['on_start_us']:6.1f} µs per span "
                f"(the timer alone: {stats[configuration]['timer_us']:.1f} µs)"
            )
    for configuration in _configurations(result):
        if "export_us_per_span" in stats[configuration]:
            lines.append(
                f"  exporter thread (attributes, encode, write), {configuration}:"
                f"{'':<{17 - len(configuration)}}"
                f"{stats[configuration]['export_us_per_span']:6.1f} µs per span"
            )
    upstream_export = stats.get("upstream", {}).get("export_us_per_span")
    for configuration in (SPANSCOPE, BASELINE):
        exported = stats.get(configuration, {}).get("export_us_per_span")
        if exported is not None and upstream_export:
            lines.append(
                f"  exporter thread, {configuration} added over upstream:{'':<{10 - len(configuration)}}"
                f"{exported - upstream_export:6.1f} µs per span "
                f"({exported / upstream_export:.2f}x upstream's)"
            )
    return "\n".join(lines)


def combine(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Median over rounds of each round's medians: one process's quirks (memory layout,
    garbage-collector timing) shift a whole round, and fresh processes per round
    average them out."""
    first = rounds[0]["medians_ms"]
    medians = {
        c: {
            clock: {
                view: statistics.median(r["medians_ms"][c][clock][view] for r in rounds)
                for view in views
            }
            for clock, views in clocks.items()
        }
        for c, clocks in first.items()
    }
    stats: dict[str, dict[str, Any]] = {}
    for configuration in first:
        keys = rounds[0]["stats"][configuration].keys()
        stats[configuration] = {
            key: statistics.median(r["stats"][configuration][key] for r in rounds) for key in keys
        }
    return {"medians_ms": medians, "stats": stats}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--child", choices=(*CONFIGURATIONS, BASELINE), help=argparse.SUPPRESS)
    parser.add_argument("--requests", type=int, default=60, help="timed requests per view")
    parser.add_argument("--warmup", type=int, default=5, help="untimed requests per view first")
    parser.add_argument("--rounds", type=int, default=3, help="rounds, each with fresh processes")
    parser.add_argument("--books", type=int, default=50, help="books in the database")
    parser.add_argument(
        "--pairs",
        type=int,
        default=60,
        help="N+1 requests with spanscope on and off in one process, per round (0: none)",
    )
    parser.add_argument("--quick", action="store_true", help="1 round of 8 requests per view")
    parser.add_argument("--json", action="store_true", help="also print the raw results")
    parser.add_argument(
        "--baseline",
        metavar="DIR",
        help="also run spanscope from DIR/spanscope/instrument (e.g. an older copy) as 'baseline'",
    )
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, os.environ["BENCH_TRACES_DIR"])
        return
    if args.quick:
        args.requests, args.warmup, args.rounds, args.pairs = 8, 2, 1, 8
    with tempfile.TemporaryDirectory(prefix="spanscope-bench-") as tmp:
        database = Path(tmp) / "books.sqlite3"
        seed(database, args.books)
        load_before = os.getloadavg()[0]
        rounds = []
        for number in range(args.rounds):
            configurations = CONFIGURATIONS + ((BASELINE,) if args.baseline else ())
            children = [
                Child(c, database, Path(tmp) / f"traces-{number}-{c}", args.baseline)
                for c in configurations
            ]
            try:
                rounds.append(measure(children, args.requests, args.warmup, args.pairs))
            finally:
                for item in children:
                    item.close()
        print(
            f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {args.books} books, "
            f"{args.rounds} rounds x {args.requests} requests per view and configuration, "
            f"interleaved; load average {load_before:.1f} -> {os.getloadavg()[0]:.1f}"
        )
        print(report(combine(rounds)))
        if args.json:
            print(json.dumps(rounds, indent=1))


if __name__ == "__main__":
    main()
