"""Trace files rotate by size, optionally gzipped, with a cap on the files kept."""

from __future__ import annotations

import gzip
import json
import logging
import os
import stat
from pathlib import Path

import pytest
from opentelemetry.sdk.trace.export import SpanExportResult
from spans_for_tests import request_with_queries
from spanscope.instrument.file_exporter import OTLPJsonFileSpanExporter
from spanscope.instrument.rotation import RotationPolicy, in_use, lock_shared, prune, trace_files

SPANS = request_with_queries(3)
TINY = 100  # bytes: every batch fills a file


def exporter_with(tmp_path: Path, **policy: object) -> OTLPJsonFileSpanExporter:
    settings = {"max_bytes": TINY, "max_files": 100, "compress": "none", **policy}
    return OTLPJsonFileSpanExporter(tmp_path, rotation=RotationPolicy(**settings))  # type: ignore[arg-type]


def span_count(path: Path) -> int:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as stream:  # type: ignore[operator]
        return sum(
            len(ss["spans"])
            for line in stream
            for rs in json.loads(line)["resourceSpans"]
            for ss in rs["scopeSpans"]
        )


def test_full_file_is_closed_and_the_next_export_opens_a_new_one(tmp_path: Path) -> None:
    exporter = exporter_with(tmp_path)

    for _ in range(3):
        assert exporter.export(SPANS) is SpanExportResult.SUCCESS

    files = trace_files(tmp_path)
    assert len(files) == 3
    assert [span_count(f) for f in files] == [len(SPANS)] * 3
    assert files == sorted(files, key=lambda f: f.stat().st_mtime_ns)


def test_files_below_the_size_stay_one_file(tmp_path: Path) -> None:
    exporter = exporter_with(tmp_path, max_bytes=10 * 1024 * 1024)

    for _ in range(3):
        exporter.export(SPANS)

    assert [span_count(f) for f in trace_files(tmp_path)] == [3 * len(SPANS)]


def test_oldest_files_beyond_the_cap_are_deleted(tmp_path: Path) -> None:
    exporter = exporter_with(tmp_path, max_files=2)

    first = []
    for _ in range(5):
        exporter.export(SPANS)
        first.append(trace_files(tmp_path)[-1])

    assert trace_files(tmp_path) == first[-2:]


def test_rotated_files_are_gzipped_owner_only_and_still_sort_by_time(tmp_path: Path) -> None:
    exporter = exporter_with(tmp_path, compress="gzip")

    for _ in range(3):
        exporter.export(SPANS)
        exporter.wait_for_housekeeping()

    files = trace_files(tmp_path)
    assert [f.name.endswith(".jsonl.gz") for f in files] == [True] * 3
    assert [span_count(f) for f in files] == [len(SPANS)] * 3
    assert {stat.S_IMODE(f.stat().st_mode) for f in files} == {0o600}
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_a_file_another_process_writes_is_never_pruned(tmp_path: Path) -> None:
    old = tmp_path / "spans-20000101T000000.000Z-1.jsonl"
    old.write_text("{}\n")
    newer = [tmp_path / f"spans-20200101T000000.00{i}Z-2.jsonl" for i in range(3)]
    for path in newer:
        path.write_text("{}\n")
    writer = os.open(old, os.O_WRONLY)  # stands for another live exporter
    lock_shared(writer)
    try:
        assert in_use(old)
        deleted = prune(tmp_path, keep=2)
    finally:
        os.close(writer)

    assert old.exists()
    assert deleted == newer[:2]


def test_policy_comes_from_the_environment_and_bad_values_fall_back(
    caplog: pytest.LogCaptureFixture,
) -> None:
    env = {"SPANSCOPE_MAX_FILE_MB": "0.5", "SPANSCOPE_MAX_FILES": "3", "SPANSCOPE_COMPRESS": "GZIP"}
    assert RotationPolicy.from_env(env) == RotationPolicy(512 * 1024, 3, "gzip")

    with caplog.at_level(logging.WARNING):
        policy = RotationPolicy.from_env(
            {"SPANSCOPE_MAX_FILE_MB": "lots", "SPANSCOPE_COMPRESS": "rar"}
        )

    assert policy == RotationPolicy(100 * 1024 * 1024, 50, "none")
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert "SPANSCOPE_MAX_FILE_MB" in messages and "SPANSCOPE_COMPRESS" in messages
