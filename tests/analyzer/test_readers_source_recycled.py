"""Reading a dump into recycled buffers: the same bytes as plain reads, and a piece the
caller still holds is never overwritten by a later read."""

from __future__ import annotations

import gzip
from pathlib import Path

from spanscope.analyzer.diagnostics import Diagnostics
from spanscope.analyzer.readers import source

CONTENT = bytes(range(256)) * 41  # 10,496 bytes: not a multiple of the piece size


def test_recycled_pieces_hold_the_whole_file_in_order(tmp_path: Path) -> None:
    path = tmp_path / "dump.jsonl"
    path.write_bytes(CONTENT)
    pieces = [bytes(p) for p in source.read_recycled(str(path), 1000, 2, Diagnostics())]
    assert b"".join(pieces) == CONTENT
    assert [len(piece) for piece in pieces] == [1000] * 10 + [496]


def test_a_piece_still_held_is_not_refilled_by_later_reads(tmp_path: Path) -> None:
    path = tmp_path / "dump.jsonl"
    path.write_bytes(CONTENT)
    held = list(source.read_recycled(str(path), 1000, 2, Diagnostics()))
    # Every piece is still referenced here, so each read needed a buffer of its own.
    assert len({id(piece) for piece in held}) == len(held)
    assert b"".join(held) == CONTENT


def test_a_released_buffer_is_refilled(tmp_path: Path) -> None:
    path = tmp_path / "dump.jsonl"
    path.write_bytes(CONTENT)
    buffers = set()
    for piece in source.read_recycled(str(path), 1000, 2, Diagnostics()):
        if len(piece) == 1000:
            buffers.add(id(piece))
        del piece
    assert len(buffers) == 2


def test_compressed_input_is_read_as_plain_pieces(tmp_path: Path) -> None:
    path = tmp_path / "dump.jsonl.gz"
    path.write_bytes(gzip.compress(CONTENT))
    pieces = list(source.read_recycled(str(path), 1000, 2, Diagnostics()))
    assert all(isinstance(piece, bytes) for piece in pieces)
    assert b"".join(pieces) == CONTENT
