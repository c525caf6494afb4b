"""The last chunks of a JSON-lines file are handed to the workers in smaller pieces, so
that no worker sits idle for a whole chunk while another finishes the file."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from otlp_records import attr, line, span, span_id, write
from spanscope.analyzer.diagnostics import Diagnostics
from spanscope.analyzer.load import read
from spanscope.analyzer.readers import otlp_jsonl, source

CHUNK = 4000


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(otlp_jsonl, "_READ_BYTES", CHUNK)
    monkeypatch.setattr(otlp_jsonl, "CHUNK_BYTES", CHUNK)


def _dump(tmp_path: Path, count: int) -> Path:
    lines = [
        line(span(span_id(n), attributes=[attr("db.system", "sqlite")]))
        for n in range(1, count + 1)
    ]
    return write(tmp_path / "a.jsonl", *lines)


def test_the_last_chunks_are_split_into_quarters_of_whole_lines(
    tmp_path: Path, small_chunks: None
) -> None:
    path = _dump(tmp_path, 120)
    data = path.read_bytes()
    blocks = list(otlp_jsonl._line_blocks(str(path), Diagnostics()))
    sizes = [block.end - block.start for block in blocks]
    longest = max(len(text) for text in data.splitlines(keepends=True))
    tail_bytes = otlp_jsonl.PARSE_WORKERS * CHUNK
    # Early chunks are as large as the reads allow; every block in the tail is a piece.
    assert max(sizes) > CHUNK // 2
    assert all(size <= CHUNK // 4 + longest for size in sizes[-4:])
    assert sum(sizes[len(sizes) - 4 :]) < tail_bytes
    # Pieces are whole lines, in file order, and together they are the file.
    assert all(bytes(block.data[block.end - 1 : block.end]) == b"\n" for block in blocks)
    assert b"".join(bytes(block.data[block.start : block.end]) for block in blocks) == data


def test_a_split_tail_keeps_every_span_in_order_and_each_bad_line_numbered(
    tmp_path: Path, small_chunks: None
) -> None:
    lines = [
        line(span(span_id(n), attributes=[attr("db.system", "sqlite")])) for n in range(1, 121)
    ]
    lines[115] = b'{"resourceSpans": [ not json\n'  # inside the split tail
    path = write(tmp_path / "a.jsonl", *lines)
    for columns in ("all", "analysis"):
        result = read(path, columns=columns)  # type: ignore[arg-type]
        assert result.table["SpanId"].to_pylist() == [span_id(n) for n in range(1, 121) if n != 116]
        assert [(p.kind, p.line) for p in result.diagnostics.problems] == [("invalid-json", 116)]


def test_only_an_uncompressed_file_has_a_size_known_up_front(tmp_path: Path) -> None:
    plain = _dump(tmp_path, 3)
    packed = tmp_path / "a.jsonl.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    assert source.plain_size(str(plain)) == plain.stat().st_size
    assert source.plain_size(str(packed)) is None
    assert source.plain_size(str(tmp_path / "missing.jsonl")) is None
