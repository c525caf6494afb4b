"""Reading an uncompressed dump through memory maps: the same bytes as plain reads, a
window of the file at a time."""

from __future__ import annotations

import gzip
import mmap
from pathlib import Path

import pytest
from otlp_records import attr, line, span, span_id, write
from spanscope.analyzer.diagnostics import Diagnostics
from spanscope.analyzer.load import read
from spanscope.analyzer.readers import otlp_jsonl, source

WINDOW = mmap.ALLOCATIONGRANULARITY
CONTENT = bytes(range(256)) * (WINDOW // 64 + 3)  # four windows and a bit


def test_an_uncompressed_file_comes_as_maps_of_one_window_each(tmp_path: Path) -> None:
    path = tmp_path / "dump.jsonl"
    path.write_bytes(CONTENT)
    pieces = list(source.read_mapped(str(path), WINDOW, 2, Diagnostics()))
    assert all(isinstance(piece, mmap.mmap) for piece in pieces)
    assert [len(piece) for piece in pieces] == [WINDOW] * 4 + [len(CONTENT) - 4 * WINDOW]
    assert b"".join(bytes(piece) for piece in pieces) == CONTENT


def test_bytes_appended_while_the_file_is_read_are_read_after_the_mapped_ones(
    tmp_path: Path,
) -> None:
    path = tmp_path / "dump.jsonl"
    path.write_bytes(CONTENT)
    pieces: list[bytes] = []
    for piece in source.read_mapped(str(path), WINDOW, 2, Diagnostics()):
        if not pieces:
            with path.open("ab") as writer:  # the writer goes on exporting meanwhile
                writer.write(b"appended\n")
        pieces.append(bytes(piece))
    assert b"".join(pieces) == CONTENT + b"appended\n"


@pytest.mark.parametrize("window", [1000, WINDOW], ids=["unaligned", "aligned"])
def test_compressed_or_unaligned_reads_are_plain_pieces(tmp_path: Path, window: int) -> None:
    plain = tmp_path / "dump.jsonl"
    plain.write_bytes(CONTENT)
    packed = tmp_path / "dump.jsonl.gz"
    packed.write_bytes(gzip.compress(CONTENT))
    cases = [packed] if window == WINDOW else [plain, packed]
    for path in cases:
        pieces = list(source.read_mapped(str(path), window, 2, Diagnostics()))
        assert not any(isinstance(piece, mmap.mmap) for piece in pieces)
        assert b"".join(bytes(piece) for piece in pieces) == CONTENT


def test_an_empty_file_has_no_pieces(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_bytes(b"")
    assert list(source.read_mapped(str(path), WINDOW, 2, Diagnostics())) == []


def test_lines_across_mapped_windows_read_like_one_plain_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = [
        line(span(span_id(n), attributes=[attr("db.statement", "SELECT " + "x" * (n * 37 % 900))]))
        for n in range(1, 200)
    ]
    lines[150] = b'{"resourceSpans": [ not json\n'
    path = write(tmp_path / "a.jsonl", *lines)
    whole = read(path, columns="analysis")
    monkeypatch.setattr(otlp_jsonl, "_READ_BYTES", WINDOW)  # lines straddle the windows
    monkeypatch.setattr(otlp_jsonl, "CHUNK_BYTES", 2 * WINDOW)
    windowed = read(path, columns="analysis")
    assert path.stat().st_size > 8 * WINDOW
    assert windowed.table.to_pylist() == whole.table.to_pylist()
    assert [(p.kind, p.line) for p in windowed.diagnostics.problems] == [("invalid-json", 151)]


def test_a_file_that_cannot_be_mapped_is_read_as_usual(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "dump.jsonl"
    path.write_bytes(CONTENT)
    mapped = 0
    real_mmap = mmap.mmap

    def refuse_after_two(*args: object, **kwargs: object) -> mmap.mmap:
        nonlocal mapped
        if mapped == 2:  # e.g. a file system without mmap support
            raise OSError(19, "No such device")
        mapped += 1
        return real_mmap(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(mmap, "mmap", refuse_after_two)
    pieces = list(source.read_mapped(str(path), WINDOW, 2, Diagnostics()))
    assert [isinstance(piece, real_mmap) for piece in pieces[:3]] == [True, True, False]
    assert b"".join(bytes(piece) for piece in pieces) == CONTENT
