"""Spans spilled to disk by trace, so that an input larger than memory is analysed a
slice of traces at a time.

Every analysis of ``analyze`` looks at one trace at a time (a request, its spans, its
N+1 groups all lie within one trace), so traces can be analysed in any grouping and
the per-request results merged (:mod:`.analyses.partitioned`).  Each read table is
written to an Arrow IPC file of its own in a private temporary folder, its rows
sorted by a hash of their trace id into one of :data:`BUCKETS` buckets;
:meth:`TraceSpill.partitions` then reads runs of adjacent buckets back, as many as fit
in ``max_rows`` spans, a slice of each file.  A trace never spans two buckets, and a
trace's rows keep the order they were read in (so "the first copy of a span" still
means the first one read).

The files are written through the page cache and read back memory-mapped: what the
process holds is the partition being analysed, not the input.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import zlib
from collections.abc import Iterator
from types import TracebackType
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as _compute
import pyarrow.ipc as ipc
from spanscope.analyzer.engine import one_chunk, to_numpy
from spanscope.analyzer.errors import SpillError

pc: Any = _compute

#: Hash buckets of trace ids.  With partitions of 200 k spans, 128 buckets keep the
#: memory flat up to ~25 M spans; past that a partition is one bucket and grows.
BUCKETS: Final = 128
#: Spans written to one spill file (the read tables are ~50 k spans each).
FILE_ROWS: Final = 200_000
#: The column carrying each row's file (an index into the files read).
ORIGIN: Final = "_spanscope_origin"


def bucket_of(
    trace_ids: pa.ChunkedArray[Any] | pa.Array[Any], buckets: int
) -> npt.NDArray[np.int64]:
    """Per row, the bucket of its trace id: CRC-32 of the id, one Python call per
    *distinct* id (a trace's ~10 spans share one), the rest vectorized.  The same id
    lands in the same bucket in every table; a null id goes to bucket 0."""
    column = trace_ids.combine_chunks() if isinstance(trace_ids, pa.ChunkedArray) else trace_ids
    encoded = pc.dictionary_encode(column)
    values = encoded.dictionary.to_pylist()
    hashed = np.fromiter(
        (zlib.crc32(value.encode()) % buckets for value in values),
        dtype=np.int64,
        count=len(values),
    )
    indices = to_numpy(pc.fill_null(encoded.indices, -1), np.int64)
    result: npt.NDArray[np.int64] = np.where(indices >= 0, hashed[np.maximum(indices, 0)], 0)
    return result


class TraceSpill:
    """Tables of one schema, spilled to disk with their rows grouped by trace bucket."""

    def __init__(self, schema: pa.Schema, buckets: int = BUCKETS) -> None:
        self.schema = schema.append(pa.field(ORIGIN, pa.int32(), nullable=False))
        self._buckets = buckets
        try:
            self._folder = tempfile.mkdtemp(prefix="spanscope-spill-")
        except OSError as err:
            raise _spill_error(tempfile.gettempdir(), err) from None
        # Per spill file: its path and the first record batch of each bucket in it.
        self._files: list[tuple[str, npt.NDArray[np.int64]]] = []
        self.rows = np.zeros(buckets, dtype=np.int64)
        # Tables waiting to be written together (see FILE_ROWS).
        self._waiting: list[pa.Table] = []
        self._waiting_rows = 0

    @property
    def bucket_count(self) -> int:
        return self._buckets

    def __enter__(self) -> TraceSpill:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.remove()

    def add(self, table: pa.Table, origin: int) -> None:
        """Spill ``table`` (read from file number ``origin``).

        Tables are written :data:`FILE_ROWS` rows at a time, each lot to a file of its
        own with one record batch per bucket: each dictionary column's dictionary is
        written once per file (a file per bucket would repeat every table's
        dictionaries in each of them), and a partition reads back only its buckets'
        batches -- from a few files, so that it has few dictionaries to unify.
        """
        if not table.num_rows:
            return
        column = pa.array(np.full(table.num_rows, origin, np.int32))
        self._waiting.append(table.append_column(self.schema.field(ORIGIN), column))
        self._waiting_rows += table.num_rows
        if self._waiting_rows >= FILE_ROWS:
            self._write()

    def _write(self) -> None:
        if not self._waiting:
            return
        table = pa.concat_tables(self._waiting).cast(self.schema)
        self._waiting, self._waiting_rows = [], 0
        if table.column("TraceId").num_chunks > 1:
            table = table.unify_dictionaries().combine_chunks()
        bucket = bucket_of(table.column("TraceId"), self._buckets)
        order: Any = pa.array(np.argsort(bucket, kind="stable"))  # rows keep their order
        counts = np.bincount(bucket, minlength=self._buckets)
        ordered = table.take(order).combine_chunks()
        del table
        path = self._next_path()
        first_batch = np.zeros(self._buckets + 1, dtype=np.int64)
        begin = 0
        try:
            with ipc.new_file(path, self.schema) as writer:
                for number, size in enumerate(counts.tolist()):
                    if size:
                        writer.write_table(ordered.slice(begin, size))
                        begin += size
                    first_batch[number + 1] = writer.stats.num_record_batches
        except OSError as err:
            raise _spill_error(self._folder, err) from None
        self._files.append((path, first_batch))
        self.rows += counts

    def _next_path(self) -> str:
        return os.path.join(self._folder, f"{len(self._files):06d}.arrow")

    def partitions(self, max_rows: int) -> Iterator[tuple[int, int]]:
        """Runs of adjacent buckets, ``(first, end)``, each up to ``max_rows`` spans (a
        bucket larger than that alone), to be read with :meth:`read` (no more
        :meth:`add` once this is called)."""
        self._write()
        first = 0
        size = 0
        for bucket in range(self._buckets):
            rows = int(self.rows[bucket])
            if size and size + rows > max_rows:
                yield first, bucket
                first, size = bucket, 0
            size += rows
        if size:
            yield first, self._buckets

    def read(self, first: int, end: int) -> tuple[pa.Table, npt.NDArray[np.int32]]:
        """The rows of buckets ``first`` to ``end - 1`` of every spilled table, and the
        file number of each row.  Safe to call from several threads."""
        pieces = []
        for path, first_batch in self._files:
            begin, stop = int(first_batch[first]), int(first_batch[end])
            if stop > begin:
                # Read, not mapped: mapped pages would count as the process's memory
                # for as long as any partition of the file is in use.
                with ipc.open_file(path) as reader:
                    batches = [reader.get_batch(i) for i in range(begin, stop)]
                # A file's batches share its dictionaries: joined here, only one
                # dictionary per file is left to unify below.
                pieces.append(pa.Table.from_batches(batches, schema=self.schema).combine_chunks())
        table = one_chunk(pieces)  # else every per-chunk step downstream runs per file
        origin = to_numpy(table.column(ORIGIN), np.int32)
        return table.drop_columns([ORIGIN]), origin

    def remove(self) -> None:
        """Delete the spilled files."""
        shutil.rmtree(self._folder, ignore_errors=True)


def _spill_error(folder: str, err: OSError) -> SpillError:
    return SpillError(
        f"{folder}: cannot write spans to the temporary folder ({err.strerror or err})",
        "free space there, point TMPDIR at a larger folder, or raise --memory-spans",
    )
