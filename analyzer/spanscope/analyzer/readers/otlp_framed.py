"""Length-prefixed OTLP messages: the Collector ``file`` exporter with ``format: proto`` or
with ``compression`` set.

Each message is preceded by its size as a 4-byte big-endian unsigned integer.  A message
is an OTLP ``TracesData`` in protobuf (``format: proto``) or in JSON (``format: json``),
zstd-compressed as one frame per message when ``compression: zstd``.  What each message
holds is recognised from its own first bytes, so one reader covers the four layouts
(``.protoframes``, ``.zstframes``, ``.zstprotoframes``, and whatever suffix a rotated
file carries).

Protobuf messages are read a batch at a time as Arrow columns (:mod:`.otlp_proto_batch`),
JSON ones through the JSON-lines fast path; neither runs a Python loop per span.
Problems are reported at the message's 1-based number in the file.  A size prefix that
cannot be right (larger than the rest of the file, or than :data:`MAX_MESSAGE_BYTES`)
means the framing is lost: the rest of the file is reported and skipped, never allocated.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Final

import pyarrow as pa
import zstandard
from spanscope.analyzer.diagnostics import Diagnostics
from spanscope.analyzer.enrich import for_analysis
from spanscope.analyzer.readers import registry, source
from spanscope.analyzer.readers.otlp_jsonl import read_json_records

#: A larger size prefix is treated as damage; the Collector's batches are a few MB.
MAX_MESSAGE_BYTES = 256 * 1024 * 1024
_PREFIX: Final = 4
_DECOMPRESS_PIECE: Final = 4 * 1024 * 1024
# Decoded messages are turned into a table once this much JSON (or protobuf, about half
# as large for the same spans) has accumulated: bounded memory, few tables to concatenate.
_JSON_BATCH_BYTES: Final = 32 * 1024 * 1024
_PROTO_BATCH_BYTES: Final = 16 * 1024 * 1024
# A JSON message: found without copying the payload, as `payload.lstrip()` would.
_JSON_START: Final = re.compile(rb"\s*\{")
# field 1 (resource_spans), wire type 2 (length-delimited): how TracesData starts
_TRACES_DATA_TAG: Final = 0x0A

_FRAMING_HINT: Final = (
    "the file must be 4-byte big-endian sizes each followed by one OTLP message, "
    "as the Collector file exporter writes with format: proto or compression: zstd"
)
_TORN_HINT: Final = (
    "the file ends mid-message: the writer was probably killed while writing; the rest was read"
)


class OtlpFramedReader:
    name = "otlp-framed"

    def sniff(self, head: bytes) -> bool:
        if len(head) <= _PREFIX:
            return False
        size = int.from_bytes(head[:_PREFIX], "big")
        body = head[_PREFIX : _PREFIX + size]
        if not 0 < size <= MAX_MESSAGE_BYTES:
            return False
        if body.startswith(source.ZSTD_MAGIC):
            return True
        if body[:1] == b"{":
            return any(marker in body for marker in registry.OTLP_MARKERS)
        return body[0] == _TRACES_DATA_TAG and _plausible_protobuf(body, size)

    def read(self, path: str, diagnostics: Diagnostics) -> Iterator[pa.Table]:
        return _read_file(path, diagnostics, analysis=False)

    def read_analysis(self, path: str, diagnostics: Diagnostics) -> Iterator[pa.Table]:
        """Like :meth:`read`, but ANALYSIS_SCHEMA tables: protobuf messages are decoded
        without what no analysis reads, and their derived columns computed directly."""
        return _read_file(path, diagnostics, analysis=True)


def _read_file(path: str, diagnostics: Diagnostics, *, analysis: bool) -> Iterator[pa.Table]:
    batch = _Batch(analysis)
    for record, message in _messages(path, diagnostics):
        payload = _decompressed(message, path, record, diagnostics)
        if payload is None:
            continue
        if _JSON_START.match(payload):
            yield from batch.flush_proto(path, diagnostics)
            batch.add_json(record, payload)
            if batch.json_bytes >= _JSON_BATCH_BYTES:
                yield from batch.flush_json(path, diagnostics)
        else:
            yield from batch.flush_json(path, diagnostics)
            batch.add_proto(record, payload)
            if batch.proto_bytes >= _PROTO_BATCH_BYTES:
                yield from batch.flush_proto(path, diagnostics)
    yield from batch.flush_json(path, diagnostics)
    yield from batch.flush_proto(path, diagnostics)


@dataclass
class _Batch:
    """Decoded messages waiting to become a table, kept in file order."""

    analysis: bool
    json_records: list[bytes] = field(default_factory=list)
    json_first: int = 0
    json_bytes: int = 0
    proto_records: list[int] = field(default_factory=list)
    proto_payloads: list[bytes] = field(default_factory=list)
    proto_bytes: int = 0

    def add_json(self, record: int, payload: bytes) -> None:
        if not self.json_records:
            self.json_first = record
        elif record != self.json_first + len(self.json_records):
            # Record numbers must stay consecutive for the line -> record mapping;
            # a skipped message in between is an empty line here.
            self.json_records.extend([b""] * (record - self.json_first - len(self.json_records)))
        # A raw newline can only be whitespace in JSON (inside strings it is escaped),
        # so replacing it keeps the document and makes it one line of JSON lines.
        self.json_records.append(payload.replace(b"\n", b" ").replace(b"\r", b" "))
        self.json_bytes += len(payload)

    def add_proto(self, record: int, payload: bytes) -> None:
        self.proto_records.append(record)
        self.proto_payloads.append(payload)
        self.proto_bytes += len(payload)

    def flush_json(self, path: str, diagnostics: Diagnostics) -> Iterator[pa.Table]:
        if not self.json_records:
            return
        data = b"\n".join(self.json_records) + b"\n"
        self.json_records, self.json_bytes = [], 0
        table = read_json_records(data, self.json_first, path, diagnostics)
        if table.num_rows:
            yield for_analysis(table) if self.analysis else table

    def flush_proto(self, path: str, diagnostics: Diagnostics) -> Iterator[pa.Table]:
        if not self.proto_payloads:
            return
        # Imported here: protobuf and its decoder cost every command ~60 ms to import.
        from spanscope.analyzer.readers.otlp_proto_batch import read_messages

        records, payloads = self.proto_records, self.proto_payloads
        self.proto_records, self.proto_payloads, self.proto_bytes = [], [], 0
        table = read_messages(records, payloads, path, diagnostics, analysis=self.analysis)
        if table.num_rows:
            yield table


def _messages(path: str, diagnostics: Diagnostics) -> Iterator[tuple[int, bytes]]:
    """(1-based message number, message bytes) in file order, sizes checked first."""
    with source.open_decompressed(path) as (stream, compressed):
        remaining = None if compressed else os.fstat(stream.fileno()).st_size
        record = 0
        while True:
            record += 1
            prefix = _read_exact(stream, _PREFIX)
            if not prefix:
                return
            if remaining is not None:
                remaining -= len(prefix)
            size = int.from_bytes(prefix, "big")
            if len(prefix) < _PREFIX:
                _skip_rest(
                    diagnostics, path, record, "truncated-record", "a size prefix", _TORN_HINT
                )
                return
            if size > MAX_MESSAGE_BYTES:
                what = f"a message size of {size:,} bytes"
                if remaining is not None:
                    what += f" with only {remaining:,} bytes left in the file"
                _skip_rest(diagnostics, path, record, "oversized-record", what, _FRAMING_HINT)
                return
            if remaining is not None and size > remaining:
                # Known before reading: the writer stopped inside this message.
                _skip_rest(diagnostics, path, record, "truncated-record", "a message", _TORN_HINT)
                return
            payload = _read_exact(stream, size)
            if remaining is not None:
                remaining -= len(payload)
            if len(payload) < size:
                _skip_rest(diagnostics, path, record, "truncated-record", "a message", _TORN_HINT)
                return
            yield record, payload


def _read_exact(stream: IO[bytes], size: int) -> bytes:
    """``size`` bytes, fewer only at the end of the stream (decompressors read in pieces)."""
    pieces: list[bytes] = []
    wanted = size
    try:
        while wanted > 0:
            piece = stream.read(wanted)
            if not piece:
                break
            pieces.append(piece)
            wanted -= len(piece)
    except source.DECOMPRESSION_ERRORS:
        pass  # a damaged outer compression stream: what was read is reported as torn
    return b"".join(pieces)


def _skip_rest(
    diagnostics: Diagnostics, path: str, record: int, kind: str, what: str, hint: str
) -> None:
    diagnostics.skip(
        path, record, kind, f"message {record} has {what}; the rest of the file is skipped", hint
    )


def _decompressed(payload: bytes, path: str, record: int, diagnostics: Diagnostics) -> bytes | None:
    """The message itself: a zstd frame is decompressed (at most MAX_MESSAGE_BYTES)."""
    if not payload.startswith(source.ZSTD_MAGIC):
        return payload
    pieces: list[bytes] = []
    size = 0
    try:
        with zstandard.ZstdDecompressor().stream_reader(io.BytesIO(payload)) as reader:
            # In pieces: a small frame may claim (or inflate to) any size.
            while size <= MAX_MESSAGE_BYTES:
                piece = reader.read(_DECOMPRESS_PIECE)
                if not piece:
                    break
                pieces.append(piece)
                size += len(piece)
    except zstandard.ZstdError as err:
        diagnostics.skip(
            path,
            record,
            "invalid-compression",
            f"message {record} is not a valid zstd frame ({err})",
            _FRAMING_HINT,
        )
        return None
    if size > MAX_MESSAGE_BYTES:
        diagnostics.skip(
            path,
            record,
            "oversized-record",
            f"message {record} decompresses to more than {MAX_MESSAGE_BYTES:,} bytes",
            _FRAMING_HINT,
        )
        return None
    return b"".join(pieces)


def _plausible_protobuf(body: bytes, size: int) -> bool:
    """The first field of a TracesData: its length varint must fit in the message."""
    length, shift, position = 0, 0, 1
    while position < min(len(body), 11):
        byte = body[position]
        length |= (byte & 0x7F) << shift
        position += 1
        if not byte & 0x80:
            return position + length <= size
        shift += 7
    return False
