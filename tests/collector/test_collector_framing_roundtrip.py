"""Every framing the Collector ``file`` exporter writes loads into the same span table.

The books-demo dump (OTLP JSON lines) is re-encoded here the way the exporter encodes
each batch -- protobuf through the ``opentelemetry-proto`` message classes, or JSON; one
zstd frame per message when compressed; each message behind a 4-byte big-endian size --
and must read back exactly as the JSON-lines original.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import zstandard
from google.protobuf import json_format
from opentelemetry.proto.trace.v1.trace_pb2 import TracesData
from spanscope.analyzer.load import load, read

BOOKS = Path(__file__).resolve().parents[1] / "data" / "samples" / "django_books_nplus1.jsonl"


def _lines() -> list[bytes]:
    return [line for line in BOOKS.read_bytes().splitlines() if line.strip()]


def _protobuf(line: bytes) -> bytes:
    """One OTLP/JSON line as the protobuf message the Collector would write."""
    document: dict[str, Any] = json.loads(line)
    for resource in document["resourceSpans"]:
        for scope in resource["scopeSpans"]:
            for span in scope["spans"]:
                # OTLP/JSON spells ids in hex; the generic protobuf JSON mapping wants base64.
                for key in ("traceId", "spanId", "parentSpanId"):
                    if span.get(key):
                        span[key] = base64.b64encode(bytes.fromhex(span[key])).decode()
    message = json_format.ParseDict(document, TracesData())
    return message.SerializeToString()


def _zstd(payload: bytes) -> bytes:
    return zstandard.ZstdCompressor().compress(payload)


def _framed(messages: list[bytes]) -> bytes:
    return b"".join(len(message).to_bytes(4, "big") + message for message in messages)


# suffix (as collector-config/ names the output) -> how each JSON line becomes a message
FRAMINGS: dict[str, Callable[[bytes], bytes]] = {
    ".zstframes": _zstd,
    ".protoframes": _protobuf,
    ".zstprotoframes": lambda line: _zstd(_protobuf(line)),
}


@pytest.mark.parametrize("suffix", FRAMINGS)
def test_framed_output_reads_back_as_the_json_lines_it_came_from(
    tmp_path: Path, suffix: str
) -> None:
    expected = load(BOOKS)
    output = tmp_path / f"collector{suffix}"
    output.write_bytes(_framed([FRAMINGS[suffix](line) for line in _lines()]))

    result = read(output)

    assert result.diagnostics.problems == []
    assert result.table.num_rows == 405
    assert result.table.sort_by([("SpanId", "ascending")]).equals(
        expected.sort_by([("SpanId", "ascending")])
    )


@pytest.mark.parametrize("suffix", FRAMINGS)
def test_rotated_framed_files_with_overlap_load_each_span_once_from_the_folder(
    tmp_path: Path, suffix: str
) -> None:
    messages = [FRAMINGS[suffix](line) for line in _lines()]
    folder = tmp_path / "spanscope-traces"
    folder.mkdir()
    # The exporter keeps the extension after the rotation timestamp; the last message of
    # the rotated file is repeated in the current one (an overlap after a restart).
    half = len(messages) // 2
    (folder / f"collector-2026-01-31T10-00-00.000{suffix}").write_bytes(
        _framed(messages[: half + 1])
    )
    (folder / f"collector{suffix}").write_bytes(_framed(messages[half:]))

    result = read(folder)

    assert len(result.files) == 2
    assert result.table.num_rows == load(BOOKS).num_rows


def test_rotated_name_with_a_json_suffix_is_read_by_its_content(tmp_path: Path) -> None:
    # The Collector's own example rotation name: the suffix says nothing about the framing.
    output = tmp_path / "data-2022-09-14T05-02-14.173.json"
    output.write_bytes(_framed([_zstd(_protobuf(line)) for line in _lines()]))
    assert read(tmp_path).table.num_rows == 405
