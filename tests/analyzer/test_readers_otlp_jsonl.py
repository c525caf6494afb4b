"""OTLP JSON lines: every spelling the specification and real writers use, bad lines skipped."""

from __future__ import annotations

import base64
import gzip
import os
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pytest
import zstandard
from otlp_records import TRACE, attr, line, span, span_id, traces_data, write
from spanscope.analyzer.diagnostics import Diagnostics
from spanscope.analyzer.errors import MalformedRecordError
from spanscope.analyzer.load import load, read
from spanscope.analyzer.readers import otlp_jsonl


def _rows(path: Path) -> list[dict[str, Any]]:
    return sorted(load(path).to_pylist(), key=lambda row: row["SpanId"])


def test_malformed_line_is_skipped_with_its_line_number_and_neighbours_kept(tmp_path: Path) -> None:
    path = write(
        tmp_path / "dump.jsonl",
        line(span(span_id(1))),
        line(span(span_id(2))),
        b'{"resourceSpans": [ this is not json\n',
        line(span(span_id(4))),
    )
    result = read(path)
    assert sorted(result.table["SpanId"].to_pylist()) == [span_id(1), span_id(2), span_id(4)]
    assert result.diagnostics.skipped_records == 1
    [problem] = result.diagnostics.problems
    assert (problem.path, problem.line, problem.kind) == (str(path), 3, "invalid-json")
    assert problem.render().startswith(f"{path}:3: skipped: invalid JSON")
    assert "(hint: " in problem.render()


def test_strict_mode_raises_on_the_first_bad_line(tmp_path: Path) -> None:
    path = write(tmp_path / "dump.jsonl", line(span(span_id(1))), b"[1, 2]\n")
    with pytest.raises(MalformedRecordError, match=r"dump\.jsonl:2: "):
        read(path, strict=True)


def test_torn_last_line_of_a_killed_writer_is_one_skipped_record(tmp_path: Path) -> None:
    whole = line(span(span_id(1)))
    path = write(tmp_path / "dump.jsonl", whole, line(span(span_id(2)))[:-30])
    result = read(path)
    assert result.table["SpanId"].to_pylist() == [span_id(1)]
    assert result.diagnostics.skipped_records == 1
    assert [(p.line, p.kind) for p in result.diagnostics.problems] == [(2, "truncated-record")]


def test_line_that_is_json_but_not_an_object_is_reported(tmp_path: Path) -> None:
    path = write(
        tmp_path / "dump.jsonl", line(span(span_id(1))), b'"hello"\n', line(span(span_id(3)))
    )
    result = read(path)
    assert result.table.num_rows == 2
    assert [(p.line, p.kind) for p in result.diagnostics.problems] == [(2, "not-an-object")]


def test_invalid_span_is_reported_and_the_rest_of_its_line_kept(tmp_path: Path) -> None:
    bad = span("nothex!!nothex!!")
    path = write(tmp_path / "dump.jsonl", line(span(span_id(1)), bad, span(span_id(3))))
    result = read(path)
    assert sorted(result.table["SpanId"].to_pylist()) == [span_id(1), span_id(3)]
    assert [(p.line, p.kind) for p in result.diagnostics.problems] == [(1, "bad-id")]


def test_span_ending_before_it_starts_is_reported(tmp_path: Path) -> None:
    record = span(span_id(1))
    record["endTimeUnixNano"] = str(int(record["startTimeUnixNano"]) - 1)
    result = read(write(tmp_path / "dump.jsonl", line(record)))
    assert result.table.num_rows == 0
    assert [p.kind for p in result.diagnostics.problems] == ["bad-time"]


def test_blank_lines_are_ignored(tmp_path: Path) -> None:
    path = write(
        tmp_path / "dump.jsonl", b"\n", line(span(span_id(1))), b"\n\n", line(span(span_id(2)))
    )
    result = read(path)
    assert result.table.num_rows == 2
    assert result.diagnostics.problems == []


@pytest.mark.parametrize("compress", [gzip.compress, zstandard.compress], ids=["gzip", "zstd"])
def test_compressed_dump_gives_the_same_table_as_plain(tmp_path: Path, compress: Any) -> None:
    data = b"".join(
        line(span(span_id(n), parent=span_id(1) if n > 1 else "")) for n in range(1, 50)
    )
    plain = load(write(tmp_path / "dump.jsonl", data))
    # The suffix does not matter: compression is recognised by its magic bytes.
    packed = load(write(tmp_path / "dump.bin", compress(data)))
    assert packed.equals(plain)
    assert plain.num_rows == 49


def test_truncated_gzip_keeps_the_complete_lines_before_the_damage(tmp_path: Path) -> None:
    # Random statements keep the data incompressible enough to span many gzip blocks.
    data = b"".join(
        line(span(span_id(n), attributes=[attr("db.statement", os.urandom(2000).hex())]))
        for n in range(1, 800)
    )
    packed = gzip.compress(data)
    result = read(write(tmp_path / "dump.jsonl.gz", packed[: len(packed) * 3 // 4]))
    assert 0 < result.table.num_rows < 799
    assert "truncated-file" in result.diagnostics.counts()


def test_enum_names_and_numbers_give_the_same_spans(tmp_path: Path) -> None:
    by_number = span(span_id(1), kind=2, status={"code": 2, "message": "boom"})
    by_name = span(
        span_id(1), kind="SPAN_KIND_SERVER", status={"code": "STATUS_CODE_ERROR", "message": "boom"}
    )
    numbers = _rows(write(tmp_path / "a.jsonl", line(by_number)))
    names = _rows(write(tmp_path / "b.jsonl", line(by_name)))
    assert numbers == names
    assert (numbers[0]["SpanKind"], numbers[0]["StatusCode"], numbers[0]["StatusMessage"]) == (
        "Server",
        "Error",
        "boom",
    )


def test_unknown_enum_number_reads_as_unspecified(tmp_path: Path) -> None:
    [row] = _rows(write(tmp_path / "a.jsonl", line(span(span_id(1), kind=42))))
    assert row["SpanKind"] == "Unspecified"


@pytest.mark.parametrize("root_parent", ["", "0000000000000000", None])
def test_empty_all_zero_or_missing_parent_means_root(
    tmp_path: Path, root_parent: str | None
) -> None:
    record = span(span_id(1))
    if root_parent is None:
        del record["parentSpanId"]
    else:
        record["parentSpanId"] = root_parent
    [row] = _rows(write(tmp_path / "a.jsonl", line(record)))
    assert row["ParentSpanId"] == ""


def test_int64_as_numbers_equals_int64_as_strings(tmp_path: Path) -> None:
    as_strings = span(span_id(1), attributes=[attr("http.status_code", {"intValue": "200"})])
    as_numbers = dict(as_strings)
    as_numbers["startTimeUnixNano"] = int(as_strings["startTimeUnixNano"])
    as_numbers["endTimeUnixNano"] = int(as_strings["endTimeUnixNano"])
    as_numbers["attributes"] = [attr("http.status_code", {"intValue": 200})]
    assert _rows(write(tmp_path / "a.jsonl", line(as_strings))) == _rows(
        write(tmp_path / "b.jsonl", line(as_numbers))
    )


def test_hex_ids_in_upper_case_are_lower_cased(tmp_path: Path) -> None:
    [row] = _rows(
        write(tmp_path / "a.jsonl", line(span("ABCDEF0123456789", trace_id=TRACE.upper())))
    )
    assert (row["TraceId"], row["SpanId"]) == (TRACE, "abcdef0123456789")


def test_base64_ids_of_the_protobuf_json_mapping_become_hex(tmp_path: Path) -> None:
    def b64(hex_id: str) -> str:
        return base64.b64encode(bytes.fromhex(hex_id)).decode()

    record = span(b64(span_id(7)), trace_id=b64(TRACE), parent=b64(span_id(3)))
    [row] = _rows(write(tmp_path / "a.jsonl", line(record)))
    assert (row["TraceId"], row["SpanId"], row["ParentSpanId"]) == (TRACE, span_id(7), span_id(3))


def test_snake_case_keys_equal_lower_camel_keys(tmp_path: Path) -> None:
    camel = traces_data(
        span(span_id(2), parent=span_id(1), attributes=[attr("db.system", "sqlite")])
    )
    snake = {
        "resource_spans": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"string_value": "books"}}]
                },
                "scope_spans": [
                    {
                        "scope": {"name": "tests"},
                        "spans": [
                            {
                                "trace_id": TRACE,
                                "span_id": span_id(2),
                                "parent_span_id": span_id(1),
                                "name": "SELECT",
                                "kind": "SPAN_KIND_CLIENT",
                                "start_time_unix_nano": str(
                                    camel["resourceSpans"][0]["scopeSpans"][0]["spans"][0][
                                        "startTimeUnixNano"
                                    ]
                                ),
                                "end_time_unix_nano": str(
                                    camel["resourceSpans"][0]["scopeSpans"][0]["spans"][0][
                                        "endTimeUnixNano"
                                    ]
                                ),
                                "attributes": [
                                    {"key": "db.system", "value": {"string_value": "sqlite"}}
                                ],
                            }
                        ],
                    }
                ],
            }
        ]
    }
    a = _rows(write(tmp_path / "a.jsonl", orjson.dumps(camel) + b"\n"))
    b = _rows(write(tmp_path / "b.jsonl", orjson.dumps(snake) + b"\n"))
    assert a == b
    assert a[0]["ParentSpanId"] == span_id(1)
    assert a[0]["db_system"] == "sqlite"


def test_legacy_instrumentation_library_spans_are_read(tmp_path: Path) -> None:
    legacy = {
        "resourceSpans": [
            {
                "resource": {"attributes": [attr("service.name", "old")]},
                "instrumentationLibrarySpans": [
                    {"instrumentationLibrary": {"name": "legacy.lib"}, "spans": [span(span_id(1))]}
                ],
            }
        ]
    }
    [row] = _rows(write(tmp_path / "a.jsonl", orjson.dumps(legacy) + b"\n"))
    assert (row["ScopeName"], row["ServiceName"]) == ("legacy.lib", "old")


def test_any_values_are_stringified_like_the_clickhouse_exporter(tmp_path: Path) -> None:
    values = {
        "s": {"stringValue": "text"},
        "i": {"intValue": "42"},
        "d": {"doubleValue": 1.5},
        "whole": {"doubleValue": 100.0},
        "nan": {"doubleValue": "NaN"},
        "b": {"boolValue": True},
        "bytes": {"bytesValue": "AAEC"},
        "arr": {
            "arrayValue": {
                "values": [{"stringValue": "a"}, {"intValue": "1"}, {"boolValue": False}]
            }
        },
        "kv": {"kvlistValue": {"values": [{"key": "k", "value": {"doubleValue": 2.5}}]}},
        "empty": {},
    }
    record = span(span_id(1), attributes=[attr(key, value) for key, value in values.items()])
    [row] = _rows(write(tmp_path / "a.jsonl", line(record)))
    assert dict(row["SpanAttributes"]) == {
        "s": "text",
        "i": "42",
        "d": "1.5",
        "whole": "100",
        "nan": "nan",
        "b": "true",
        "bytes": "AAEC",
        "arr": '["a",1,false]',
        "kv": '{"k":2.5}',
        "empty": "",
    }


def test_duplicate_spans_across_two_files_are_merged_once(tmp_path: Path) -> None:
    first = write(tmp_path / "data-1.jsonl", line(span(span_id(1)), span(span_id(2))))
    second = write(tmp_path / "data-2.jsonl", line(span(span_id(2)), span(span_id(3))))
    result = read([first, second])
    assert sorted(result.table["SpanId"].to_pylist()) == [span_id(1), span_id(2), span_id(3)]
    assert result.files == [str(first), str(second)]
    assert result.diagnostics.skipped_records == 0


def test_same_span_id_in_two_traces_is_two_spans(tmp_path: Path) -> None:
    other_trace = "f" * 32
    path = write(
        tmp_path / "a.jsonl", line(span(span_id(1)), span(span_id(1), trace_id=other_trace))
    )
    assert load(path).num_rows == 2


def _reference_rows(path: Path) -> list[dict[str, Any]]:
    """The same file through the per-record reference reader only."""
    data = path.read_bytes()
    lines = otlp_jsonl._Lines.split(data, 1, complete=data.endswith(b"\n"))
    table = otlp_jsonl._slow_lines(lines, list(range(lines.count)), str(path), Diagnostics())
    return sorted(table.to_pylist(), key=lambda row: row["SpanId"])


def test_fast_path_and_reference_reader_agree_on_canonical_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    attributes = [
        attr("db.statement", 'SELECT "x_value" FROM t WHERE id = %s'),
        attr("n", {"intValue": "-7"}),
        attr("ratio", {"doubleValue": 0.1}),
        attr("big", {"doubleValue": 1e20}),
        attr("flag", {"boolValue": False}),
        attr("raw", {"bytesValue": "AAEC"}),
    ]
    lines = [
        line(
            *(
                span(
                    span_id(n + 100 * k + 1),
                    parent=span_id(1) if n else "",
                    kind=n % 6,
                    attributes=attributes,
                )
                for n in range(20)
            ),
            service=f"svc{k}",
        )
        for k in range(5)
    ]
    path = write(tmp_path / "a.jsonl", *lines)
    slow_calls: list[list[int]] = []
    reference = otlp_jsonl._slow_lines

    def recording(lines: Any, indices: list[int], *args: Any) -> pa.Table:
        slow_calls.append(indices)
        return reference(lines, indices, *args)

    monkeypatch.setattr(otlp_jsonl, "_slow_lines", recording)
    fast = sorted(load(path).select(range(13)).to_pylist(), key=lambda row: row["SpanId"])
    assert slow_calls == []  # every line went through the vectorized path
    assert fast == _reference_rows(path)
    assert len(fast) == 100
