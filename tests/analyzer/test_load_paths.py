"""Which files ``load`` reads: files, folders (recursive, hidden skipped), globs; sniffed formats."""

from __future__ import annotations

from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pytest
from otlp_records import line, span, span_id, traces_data, write
from spanscope.analyzer.errors import InputNotFoundError, UnreadableInputError, UsageError
from spanscope.analyzer.load import load, read


def _dump(path: Path, *numbers: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return write(path, line(*(span(span_id(n)) for n in numbers)))


def test_folder_is_read_recursively_in_sorted_order_skipping_hidden_entries(tmp_path: Path) -> None:
    b = _dump(tmp_path / "b.jsonl", 2)
    a = _dump(tmp_path / "a.jsonl", 1)
    nested = _dump(tmp_path / "run2" / "c.jsonl", 3)
    _dump(tmp_path / ".hidden.jsonl", 4)
    _dump(tmp_path / ".cache" / "d.jsonl", 5)
    result = read(tmp_path)
    assert result.files == [str(a), str(b), str(nested)]
    assert sorted(result.table["SpanId"].to_pylist()) == [span_id(1), span_id(2), span_id(3)]


def test_glob_selects_matching_files(tmp_path: Path) -> None:
    _dump(tmp_path / "data-1.jsonl", 1)
    _dump(tmp_path / "data-2.jsonl", 2)
    _dump(tmp_path / "other.jsonl", 3)
    assert read(str(tmp_path / "data-*.jsonl")).table.num_rows == 2


def test_a_file_named_twice_is_read_once(tmp_path: Path) -> None:
    path = _dump(tmp_path / "a.jsonl", 1)
    assert read([path, str(path), tmp_path]).files == [str(path)]


@pytest.mark.parametrize("missing", ["nope.jsonl", "nope-*.jsonl"])
def test_nothing_matching_raises_input_not_found_with_a_hint(tmp_path: Path, missing: str) -> None:
    with pytest.raises(InputNotFoundError, match=r"nope.*\(hint: "):
        load(tmp_path / missing)


def test_empty_folder_raises_input_not_found(tmp_path: Path) -> None:
    with pytest.raises(InputNotFoundError, match="holds no trace files"):
        load(tmp_path)


def test_empty_file_is_read_as_no_spans(tmp_path: Path) -> None:
    path = write(tmp_path / "empty.jsonl", b"")
    result = read(path)
    assert (result.table.num_rows, result.files, result.diagnostics.problems) == (
        0,
        [str(path)],
        [],
    )


def test_format_is_sniffed_from_content_not_suffix(tmp_path: Path) -> None:
    pretty = tmp_path / "pretty.jsonl"  # a pretty-printed document despite the suffix
    pretty.write_bytes(orjson.dumps(traces_data(span(span_id(1))), option=orjson.OPT_INDENT_2))
    lines = _dump(tmp_path / "lines.json", 2, 3)
    assert load(pretty).num_rows == 1
    assert load(lines).num_rows == 2


def test_json_array_of_documents_is_read(tmp_path: Path) -> None:
    path = tmp_path / "array.json"
    path.write_bytes(orjson.dumps([traces_data(span(span_id(1))), traces_data(span(span_id(2)))]))
    assert load(path).num_rows == 2


def test_explicit_file_of_unknown_format_raises_with_the_format_names(tmp_path: Path) -> None:
    path = write(tmp_path / "notes.txt", b"just some notes\n")
    with pytest.raises(UnreadableInputError, match=r"otlp-jsonl"):
        load(path)


def test_unknown_file_inside_a_folder_is_noted_and_ignored(tmp_path: Path) -> None:
    _dump(tmp_path / "a.jsonl", 1)
    write(tmp_path / "README", b"trace files of the staging run\n")
    result = read(tmp_path)
    assert result.table.num_rows == 1
    assert result.diagnostics.skipped_records == 0
    assert [problem.kind for problem in result.diagnostics.problems] == ["unknown-format"]


def test_forced_format_overrides_sniffing(tmp_path: Path) -> None:
    path = _dump(tmp_path / "a.jsonl", 1)
    result = read(path, input_format="otlp-json")  # the whole file as one document works too
    assert result.table.num_rows == 1
    with pytest.raises(UsageError, match="unknown input format"):
        read(path, input_format="jaeger-ui-xml")


def test_canonical_parquet_round_trips(tmp_path: Path) -> None:
    source = _dump(tmp_path / "a.jsonl", 1, 2, 3)
    table = load(source)
    pq.write_table(table, tmp_path / "spans.parquet")
    assert load(tmp_path / "spans.parquet").equals(table)


def test_parquet_with_only_base_columns_is_enriched(tmp_path: Path) -> None:
    table = load(_dump(tmp_path / "a.jsonl", 1))
    pq.write_table(table.select(range(13)), tmp_path / "base.parquet")
    assert load(tmp_path / "base.parquet").equals(table)


def test_parquet_missing_span_columns_is_unreadable(tmp_path: Path) -> None:
    table = load(_dump(tmp_path / "a.jsonl", 1))
    pq.write_table(table.drop_columns(["TraceId"]), tmp_path / "bad.parquet")
    with pytest.raises(UnreadableInputError, match="TraceId"):
        load(tmp_path / "bad.parquet")
