"""How fast is ``spanscope analyze`` compared with merely parsing the same dump?

Generates (or reuses) a synthetic OTLP JSON-lines dump with ``gen_dump.py``, then
measures, each stage in a fresh subprocess so that peak RSS is the stage's own:

parse floor
    ``pyarrow.json.read_json`` of the dump, with the schema fixed up front (inferred
    from the first line), building the nested Arrow table and nothing else.
import floor
    a fresh interpreter importing NumPy, ``pyarrow``, ``pyarrow.parquet`` and
    ``pyarrow.compute`` and nothing else: the fixed cost of any pyarrow-based command,
    the baseline of the Parquet stages' throughput.
read
    ``spanscope.analyzer.load.read``: sniff, parse, flatten, enrich, deduplicate -- the
    full span table (SPAN_SCHEMA, attribute maps included), what ``load()`` returns.
read analysis
    ``load.read(..., columns="analysis")``: what ``analyze`` reads -- the analysed
    columns only, derived straight from the parsed attributes, no maps built.
analyses
    the analyses alone: ``analyze()`` and the JSON rendering on the analysis table
    already in memory (its read is not timed).
analyze
    ``spanscope analyze DUMP --format json -o /dev/null``, the whole command, run
    through the console script's entry point (``spanscope.analyzer.cli.main``).  A
    dump of more than ``--memory-spans`` spans (400,000 by default) is spilled to disk
    by trace and analysed a partition at a time.
analyze in memory
    the same command with ``--memory-spans`` above the dump's span count: everything
    read and analysed at once -- the baseline the partitioned analysis is measured
    against (time and peak RSS).
report, report in memory
    ``spanscope report DUMP -o FILE``, the HTML report, spilled as ``analyze`` is (its
    waterfall traces read again) and, as its baseline, with every span in memory.
write parquet
    ``spanscope convert``'s output: the canonical span table plus its prepared columns
    (span tree, request table, statement keys) as zstd Parquet; the preparation and
    the write are timed, not the read.
analyze parquet
    ``spanscope analyze`` on that prepared Parquet file, the whole command (spans per
    second analysed; the interpreter's start is not timed, importing spanscope is).
analyses parquet
    ``analyze()`` and the JSON rendering on that file, in a process that has already
    imported spanscope, DuckDB and (when installed) pandas: what the analysis itself
    costs, on its first call in the process (and, printed below the table, on a
    second, warm call).  pandas comes only with the ``notebook`` extra; where it is
    installed pyarrow imports it on its first conversion of a NumPy array (~0.3 s),
    an import like DuckDB's, not analysis work.

Each stage also reports its process CPU time (all threads): on a shared machine the
wall clock says as much about the other processes as about spanscope.
``--stages`` runs only the stages named; ``--with-half`` repeats the stages on a dump
of half the size, to show how peak RSS grows with the input; ``--repeat N`` runs the
stages N times round-robin and reports medians, and each stage's ratio to the parse
floor as the median of the per-round ratios (a floor and a stage measured minutes
apart on a machine whose speed drifts say little about each other).

    python benchmarks/bench_analyze.py --size-mb 1024 --with-half
    python benchmarks/bench_analyze.py --stages "write parquet,analyze parquet"
    python benchmarks/bench_analyze.py --stages "parse floor,analyze" --repeat 5
    python benchmarks/bench_analyze.py --stages "parse floor,analyze,analyze in memory" --with-half
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
STAGES = (
    "parse floor",
    "import floor",
    "read",
    "read analysis",
    "analyses",
    "analyze",
    "analyze in memory",
    "report",
    "report in memory",
    "write parquet",
    "analyze parquet",
    "analyses parquet",
)


def _peak_rss_mb() -> float:
    # ru_maxrss is in KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _parse_floor(dump: Path, _: Path) -> int:
    import pyarrow.json as pj

    with dump.open("rb") as handle:
        first = handle.readline()
    with tempfile.NamedTemporaryFile(suffix=".jsonl") as head:
        head.write(first)
        head.flush()
        schema = pj.read_json(head.name).schema
    options = pj.ParseOptions(explicit_schema=schema)
    table = pj.read_json(dump, parse_options=options)
    return int(table.num_rows)  # lines; spans are nested inside


def _import_floor(_: Path, __: Path) -> int:
    import numpy
    import pyarrow
    import pyarrow.compute
    import pyarrow.parquet

    del numpy, pyarrow
    return 0


def _read(dump: Path, _: Path) -> int:
    from spanscope.analyzer.load import read

    return int(read([str(dump)]).table.num_rows)


def _read_analysis(dump: Path, _: Path) -> int:
    from spanscope.analyzer.load import read

    return int(read([str(dump)], columns="analysis").table.num_rows)


#: More spans than any benchmark dump holds: nothing is spilled.
_NEVER_SPILL = str(10**12)


def _analyze(path: Path, *options: str) -> int:
    return _command("analyze", str(path), "--format", "json", "-o", os.devnull, *options)


def _command(*arguments: str) -> int:
    # The console script's own entry point, so the command runs exactly as users run it.
    from spanscope.analyzer.cli import main

    try:
        main(list(arguments))
    except SystemExit as stop:
        if stop.code:
            raise
    return 0  # spans are counted from the Parquet metadata, outside any timing


def _report(dump: Path, *options: str) -> int:
    with tempfile.TemporaryDirectory() as folder:
        return _command("report", str(dump), "-o", str(Path(folder) / "report.html"), *options)


def _analyses(dump: Path, _: Path) -> int:
    from spanscope.analyzer.analyses import analyze
    from spanscope.analyzer.load import read
    from spanscope.analyzer.render import get_renderer

    table = read([str(dump)], columns="analysis").table
    started = time.perf_counter()
    with open(os.devnull, "w", encoding="utf-8") as out:
        get_renderer("json").render(analyze(table), out, color=False)
    print(json.dumps({"own_seconds": time.perf_counter() - started}))
    return int(table.num_rows)


def _analyze_json(dump: Path, _: Path) -> int:
    return _analyze(dump)


def _analyze_in_memory(dump: Path, _: Path) -> int:
    return _analyze(dump, "--memory-spans", _NEVER_SPILL)


def _report_spilled(dump: Path, _: Path) -> int:
    return _report(dump)


def _report_in_memory(dump: Path, _: Path) -> int:
    return _report(dump, "--memory-spans", _NEVER_SPILL)


def _write_parquet(dump: Path, parquet: Path) -> int:
    from spanscope.analyzer.convert import write_prepared
    from spanscope.analyzer.load import read

    loaded = read([str(dump)])
    started, cpu = time.perf_counter(), time.process_time()
    write_prepared(loaded.table, parquet, loaded.parent)
    # Only preparing and writing are timed: the read is the "read" stage.
    print(
        json.dumps(
            {
                "own_seconds": time.perf_counter() - started,
                "own_cpu_seconds": time.process_time() - cpu,
            }
        )
    )
    return int(loaded.table.num_rows)


def _analyze_parquet(_: Path, parquet: Path) -> int:
    return _analyze(parquet)


def _analyses_parquet(_: Path, parquet: Path) -> int:
    import duckdb  # imported by the analysis on first use: an import, not analysis work
    from spanscope.analyzer.analyses import analyze
    from spanscope.analyzer.render import get_renderer

    try:  # imported by pyarrow on first use where installed: the same
        import pandas
    except ImportError:
        pandas = None
    del duckdb, pandas
    timings = []
    for _call in range(2):  # the first call in the process, then a warm one
        started, cpu = time.perf_counter(), time.process_time()
        with open(os.devnull, "w", encoding="utf-8") as out:
            get_renderer("json").render(analyze(str(parquet)), out, color=False)
        timings.append((time.perf_counter() - started, time.process_time() - cpu))
    (first, first_cpu), (warm, _) = timings
    print(json.dumps({"own_seconds": first, "own_cpu_seconds": first_cpu, "warm_seconds": warm}))
    return 0


_RUNNERS: dict[str, Callable[[Path, Path], int]] = {
    "parse floor": _parse_floor,
    "import floor": _import_floor,
    "read": _read,
    "read analysis": _read_analysis,
    "analyses": _analyses,
    "analyze": _analyze_json,
    "analyze in memory": _analyze_in_memory,
    "report": _report_spilled,
    "report in memory": _report_in_memory,
    "write parquet": _write_parquet,
    "analyze parquet": _analyze_parquet,
    "analyses parquet": _analyses_parquet,
}


def _child(stage: str, dump: Path, parquet: Path) -> None:
    started, cpu = time.perf_counter(), time.process_time()
    rows = _RUNNERS[stage](dump, parquet)
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu
    print(
        json.dumps(
            {
                "seconds": seconds,
                "cpu_seconds": cpu_seconds,
                "peak_rss_mb": _peak_rss_mb(),
                "rows": rows,
            }
        )
    )


def run_stage(stage: str, dump: Path, parquet: Path) -> dict[str, Any]:
    """Run one stage in a fresh interpreter; its last JSON lines are the measurements."""
    done = subprocess.run(
        [sys.executable, __file__, "--stage", stage, str(dump), str(parquet)],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, Any] = {}
    for line in done.stdout.splitlines():
        if line.startswith("{"):
            result.update(json.loads(line))
    # Stages that must read first report the time of their own part.
    for own, total in (("own_seconds", "seconds"), ("own_cpu_seconds", "cpu_seconds")):
        if own in result:
            result[total] = result[own]
    return result


def count_spans(parquet: Path) -> int:
    import pyarrow.parquet as pq

    return int(pq.ParquetFile(parquet).metadata.num_rows)


def ensure_dump(path: Path, size_mb: float) -> Path:
    """``path`` if it already holds a dump of about ``size_mb``, else a new one there."""
    wanted = int(size_mb * 1024 * 1024)
    if path.exists() and abs(path.stat().st_size - wanted) < wanted * 0.02 + 2_000_000:
        return path
    spec = importlib.util.spec_from_file_location("gen_dump", HERE / "gen_dump.py")
    assert spec is not None and spec.loader is not None
    gen_dump: Any = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen_dump)
    print(f"generating {path} ({size_mb:g} MB)...", file=sys.stderr)
    gen_dump.generate(path, wanted)
    return path


def measure(
    dump: Path, workdir: Path, stages: tuple[str, ...], repeat: int = 1
) -> dict[str, dict[str, Any]]:
    """Every stage ``repeat`` times, round-robin: medians of the time and CPU, the
    highest peak RSS, and per round the time over that round's parse floor."""
    parquet = workdir / (dump.stem + ".parquet")
    rounds: dict[str, list[dict[str, Any]]] = {stage: [] for stage in stages}
    for turn in range(repeat):
        for stage in stages:
            print(f"  {dump.name}: {stage} ({turn + 1}/{repeat})...", file=sys.stderr)
            rounds[stage].append(run_stage(stage, dump, parquet))
    results: dict[str, dict[str, Any]] = {}
    floors = [row["seconds"] for row in rounds.get("parse floor", [])]
    for stage, rows in rounds.items():
        seconds = [row["seconds"] for row in rows]
        warm = [row["warm_seconds"] for row in rows if "warm_seconds" in row]
        results[stage] = {
            **({"warm_seconds": statistics.median(warm)} if warm else {}),
            "seconds": statistics.median(seconds),
            "cpu_seconds": statistics.median(row["cpu_seconds"] for row in rows),
            "peak_rss_mb": max(row["peak_rss_mb"] for row in rows),
            "runs": seconds,
        }
        if floors:
            results[stage]["ratios"] = [
                time / floor for time, floor in zip(seconds, floors, strict=True)
            ]
    results["_load"] = {"average": os.getloadavg()[0]}
    if parquet.exists():
        results["_spans"] = {"rows": count_spans(parquet), "bytes": parquet.stat().st_size}
    return results


def print_table(dump: Path, results: dict[str, dict[str, Any]]) -> None:
    floor = results["parse floor"]["seconds"] if "parse floor" in results else None
    spans = results.get("_spans", {}).get("rows")
    size_mb = dump.stat().st_size / 2**20
    load = results.get("_load", {}).get("average")
    print(
        f"\n{dump.name}: {size_mb:,.0f} MB JSON"
        + (f", {spans:,} spans" if spans else "")
        + (f"; load average {load:.1f} on {os.cpu_count()} cores" if load is not None else "")
    )
    print(
        f"{'stage':<18} {'seconds':>8} {'cpu s':>7} {'x floor':>8} {'peak RSS MB':>12} "
        f"{'M spans/s':>10}"
    )
    for stage in STAGES:
        if stage not in results:
            continue
        row = results[stage]
        rate = f"{spans / row['seconds'] / 1e6:10.2f}" if spans else f"{'':>10}"
        ratios = row.get("ratios")
        if ratios:
            ratio = f"{statistics.median(ratios):8.2f}"
        else:
            ratio = f"{row['seconds'] / floor:8.2f}" if floor else f"{'':>8}"
        print(
            f"{stage:<18} {row['seconds']:8.2f} {row.get('cpu_seconds', 0.0):7.2f} {ratio} "
            f"{row['peak_rss_mb']:12,.0f} {rate}"
        )
    repeated = [stage for stage in STAGES if len(results.get(stage, {}).get("runs", ())) > 1]
    for stage in repeated:
        runs = ", ".join(f"{time:.2f}" for time in results[stage]["runs"])
        ratios = results[stage].get("ratios")
        spread = ""
        if ratios and stage != "parse floor":
            spread = f"; x floor per round {min(ratios):.2f}-{max(ratios):.2f}"
        print(f"  {stage}: {runs} s{spread}")
    warm = results.get("analyses parquet", {}).get("warm_seconds")
    if spans and warm:
        print(f"analyses parquet, a second call: {warm:.2f} s, {spans / warm / 1e6:.2f} M spans/s")
    imports = results.get("import floor", {}).get("seconds")
    if spans and imports is not None:
        # (The "analyses parquet" stage times no imports already.)
        command = results.get("analyze parquet", {}).get("seconds")
        if command is not None and command > imports:
            print(
                f"analyze parquet: {spans / (command - imports) / 1e6:.2f} M spans/s beyond "
                f"the import floor ({command - imports:.2f} s of {command:.2f} s)"
            )
    if "_spans" in results:
        parquet_mb = results["_spans"]["bytes"] / 2**20
        print(f"parquet: {parquet_mb:,.1f} MB ({size_mb / parquet_mb:,.0f}x smaller than the JSON)")


def _stage_list(text: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    unknown = [name for name in names if name not in STAGES]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown stage(s) {', '.join(unknown)}; choose from {', '.join(STAGES)}"
        )
    return names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=float, default=1024.0)
    parser.add_argument(
        "--workdir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "spanscope-bench",
        help="where dumps are generated and reused",
    )
    parser.add_argument("--with-half", action="store_true", help="also measure half the size")
    parser.add_argument(
        "--stages",
        type=_stage_list,
        default=STAGES,
        help=f"comma-separated stages to run (default: all): {', '.join(STAGES)}",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="run the stages this many times round-robin and report medians",
    )
    parser.add_argument("--stage", help=argparse.SUPPRESS)
    parser.add_argument("paths", nargs="*", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stage:
        _child(args.stage, *args.paths)
        return
    args.workdir.mkdir(parents=True, exist_ok=True)
    sizes = [args.size_mb] + ([args.size_mb / 2] if args.with_half else [])
    measured = []
    for size in sizes:
        dump = ensure_dump(args.workdir / f"dump-{size:g}mb.jsonl", size)
        measured.append((dump, measure(dump, args.workdir, args.stages, max(args.repeat, 1))))
    for dump, results in measured:
        print_table(dump, results)
    if len(measured) == 2:
        (big, full), (small, half) = measured
        growth = big.stat().st_size / small.stat().st_size
        print(f"\ninput x{growth:.2f}: peak RSS growth per stage")
        for stage in STAGES:
            if stage in full and stage in half:
                ratio = full[stage]["peak_rss_mb"] / half[stage]["peak_rss_mb"]
                print(f"  {stage:<18} x{ratio:.2f}")


if __name__ == "__main__":
    main()
