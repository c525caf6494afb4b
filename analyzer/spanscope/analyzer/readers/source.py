"""Opening a dump: transparent gzip/zstd decompression chosen by magic bytes, not suffix.

A killed writer leaves a truncated compressed stream; :func:`read_chunks` then yields
what could be decompressed and reports the truncation instead of failing the file.
"""

from __future__ import annotations

import gzip
import io
import mmap
import os
import stat
import sys
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any, Final, TypeAlias, cast

import orjson
import zstandard
from spanscope.analyzer.diagnostics import Diagnostics
from spanscope.analyzer.errors import UnreadableInputError

#: A piece of a read file: bytes, a reused buffer, or a memory map of the file.
Piece: TypeAlias = bytes | bytearray | mmap.mmap

GZIP_MAGIC: Final = b"\x1f\x8b"
ZSTD_MAGIC: Final = b"\x28\xb5\x2f\xfd"
HEAD_BYTES: Final = 64 * 1024
# Decompressors lose the output of a read() call that hits a truncated stream, so
# compressed input is read in small pieces: a killed writer costs at most this much.
_COMPRESSED_PIECE: Final = 256 * 1024
#: Formats that are one JSON document (pretty-printed OTLP, Jaeger, Zipkin, console
#: output) are parsed whole; a larger file is refused rather than exhausting memory.
MAX_DOCUMENT_BYTES = 1024 * 1024 * 1024
DECOMPRESSION_ERRORS: Final = (EOFError, OSError, zlib.error, zstandard.ZstdError)


@contextmanager
def open_decompressed(path: str) -> Iterator[tuple[IO[bytes], bool]]:
    """``path`` opened for reading bytes, decompressed if it is gzip or zstd (then True)."""
    try:
        raw = open(path, "rb")  # noqa: SIM115 -- closed below, after the wrapper
    except OSError as err:
        raise UnreadableInputError(
            f"cannot open {path}: {err.strerror}", "check the path and its permissions"
        ) from None
    try:
        magic = raw.read(4)
        raw.seek(0)
        if magic.startswith(GZIP_MAGIC):
            with gzip.GzipFile(fileobj=raw, mode="rb") as stream:
                yield cast(IO[bytes], stream), True
        elif magic == ZSTD_MAGIC:
            with zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True) as stream:
                yield stream, True
        else:
            yield raw, False
    finally:
        raw.close()


def read_head(path: str, size: int = HEAD_BYTES) -> bytes:
    """The first ``size`` decompressed bytes (fewer if the file is shorter or damaged)."""
    with open_decompressed(path) as (stream, compressed):
        head = b""
        try:
            while len(head) < size:
                data = stream.read(min(size - len(head), _COMPRESSED_PIECE if compressed else size))
                if not data:
                    break
                head += data
        except DECOMPRESSION_ERRORS as err:
            if not head:
                raise UnreadableInputError(
                    f"{path}: compressed data is corrupt or truncated ({err})",
                    "check the file; a writer killed at once leaves nothing to read",
                ) from None
        return head


def plain_size(path: str) -> int | None:
    """The size in bytes of an uncompressed file, None for a compressed one (whose
    decompressed size is not known up front) or one that cannot be opened."""
    try:
        with open(path, "rb") as handle:
            magic = handle.read(len(ZSTD_MAGIC))
            if magic.startswith(GZIP_MAGIC) or magic == ZSTD_MAGIC:
                return None
            return os.fstat(handle.fileno()).st_size
    except OSError:
        return None


def read_chunks(path: str, chunk_size: int, diagnostics: Diagnostics) -> Iterator[bytes]:
    """Decompressed bytes in pieces of at most ``chunk_size``."""
    with open_decompressed(path) as (stream, compressed):
        piece = min(chunk_size, _COMPRESSED_PIECE) if compressed else chunk_size
        while True:
            try:
                data = stream.read(piece)
            except DECOMPRESSION_ERRORS as err:
                diagnostics.note(
                    path,
                    0,
                    "truncated-file",
                    f"compressed data ends early or is corrupt ({err}); the rest of the file is lost",
                    "the writer was probably killed mid-write; everything before the damage was read",
                )
                return
            if not data:
                return
            yield data


def read_recycled(
    path: str, chunk_size: int, buffers: int, diagnostics: Diagnostics
) -> Iterator[bytes | bytearray]:
    """:func:`read_chunks`, but an uncompressed file is read into a few reused buffers.

    A fresh 32 MB ``bytes`` per read costs more in page faults than the copy itself
    (~0.5 s of CPU per GB): the memory is mapped anew each time.  Here ``buffers``
    bytearrays are filled in turn, and one is only refilled when nothing but this
    function still holds it -- a piece that a caller keeps (or views) is left alone and
    a new buffer takes its place, so no caller ever sees its bytes change.  The last,
    short read is copied out.
    """
    with open_decompressed(path) as (stream, compressed):
        if compressed or not hasattr(sys, "getrefcount"):
            yield from read_chunks(path, chunk_size, diagnostics)
            return
        ring: list[bytearray] = []
        turn = 0
        while True:
            if len(ring) < buffers:
                ring.append(bytearray(chunk_size))
            slot = turn % len(ring)
            buffer = ring[slot]
            # References: the ring, `buffer` and getrefcount's own argument.
            if sys.getrefcount(buffer) > 3:
                buffer = ring[slot] = bytearray(chunk_size)
            turn += 1
            size = cast(io.BufferedReader, stream).readinto(buffer)
            if not size:
                return
            yield buffer if size == chunk_size else bytes(memoryview(buffer)[:size])
            del buffer


def read_mapped(
    path: str, chunk_size: int, buffers: int, diagnostics: Diagnostics
) -> Iterator[Piece]:
    """:func:`read_recycled`, but an uncompressed file is mapped, ``chunk_size`` at a time.

    Each piece is a read-only memory map of the next ``chunk_size`` bytes: the pages
    come straight from the page cache, where a read copies every byte once more (a
    third of a second of CPU per GB here).  A piece is unmapped once nobody holds it,
    so no more of the file is mapped than is being worked on.  Bytes appended after
    the file was opened are read as usual, after the mapped ones.

    Accepted risk: a file truncated *while* one of its pieces is being parsed makes
    the process fail on the missing pages (SIGBUS).  Trace writers append and rotate
    by renaming; none truncates a dump in place.

    Compressed input, a ``chunk_size`` that is not a multiple of the mapping
    granularity, and anything that cannot be mapped (a pipe, a special file) are read
    with :func:`read_recycled`.
    """
    if chunk_size % mmap.ALLOCATIONGRANULARITY:
        yield from read_recycled(path, chunk_size, buffers, diagnostics)
        return
    with open_decompressed(path) as (stream, compressed):
        size = None if compressed else _regular_size(stream)
        if size is None:
            yield from read_recycled(path, chunk_size, buffers, diagnostics)
            return
        fileno = stream.fileno()
        offset = 0
        while offset < size:
            try:
                window = mmap.mmap(
                    fileno,
                    min(chunk_size, size - offset),
                    flags=mmap.MAP_SHARED | _POPULATE,
                    prot=mmap.PROT_READ,
                    offset=offset,
                )
            except (OSError, ValueError):
                break  # a file system that cannot map files: the rest is read as usual
            offset += len(window)
            yield window
        stream.seek(offset)
        while data := stream.read(chunk_size):
            yield data


# The whole piece is mapped in one call (the kernel populates the page table at once)
# rather than page fault by page fault while it is parsed.
_POPULATE: Final = getattr(mmap, "MAP_POPULATE", 0)


def _regular_size(stream: IO[bytes]) -> int | None:
    try:
        status = os.fstat(stream.fileno())
    except (OSError, ValueError):
        return None
    return status.st_size if stat.S_ISREG(status.st_mode) else None


def read_all(path: str, diagnostics: Diagnostics) -> bytes:
    """The whole decompressed file, for formats that are one document.

    Such a document has to be parsed at once; past :data:`MAX_DOCUMENT_BYTES` the file is
    refused before it exhausts memory.
    """
    pieces: list[bytes] = []
    size = 0
    for piece in read_chunks(path, 16 * 1024 * 1024, diagnostics):
        size += len(piece)
        if size > MAX_DOCUMENT_BYTES:
            raise UnreadableInputError(
                f"{path}: a single JSON document larger than {MAX_DOCUMENT_BYTES:,} bytes",
                "export JSON lines (one record per line) for dumps this large, or split the file",
            )
        pieces.append(piece)
    return b"".join(pieces)


#: What :func:`read_json_document` returns for a file that is not JSON.
NOT_JSON: Final = object()


def read_json_document(path: str, diagnostics: Diagnostics, hint: str) -> Any:
    """The whole file parsed as one JSON document, or :data:`NOT_JSON` (already reported,
    at the line where parsing failed, with ``hint``)."""
    data = read_all(path, diagnostics)
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as err:
        line = data.count(b"\n", 0, max(err.pos, 0)) + 1
        diagnostics.skip(path, line, "invalid-json", f"invalid JSON ({err})", hint)
        return NOT_JSON
