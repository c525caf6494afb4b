"""``load(paths)``: any supported dumps -> one canonical span table.

Paths are expanded (files, folders, globs), each file's format sniffed from its first
decompressed bytes (or forced with ``input_format``), read by its registered reader,
enriched with the derived columns, and the spans deduplicated on (TraceId, SpanId):
rotated files of one run may overlap, and a span is counted once.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa
from spanscope.analyzer import paths as input_paths
from spanscope.analyzer import readers
from spanscope.analyzer.diagnostics import Diagnostics
from spanscope.analyzer.enrich import enrich
from spanscope.analyzer.errors import UnreadableInputError
from spanscope.analyzer.readers import source
from spanscope.analyzer.readers.span_tree import check_span_tree
from spanscope.analyzer.schema import SPAN_SCHEMA

PathsArg = str | os.PathLike[str] | Sequence[str | os.PathLike[str]]


@dataclass(frozen=True)
class LoadResult:
    table: pa.Table  # SPAN_SCHEMA, deduplicated on (TraceId, SpanId)
    files: list[str]  # files actually read, in order
    diagnostics: Diagnostics  # skipped records with file:line


def read(paths: PathsArg, *, input_format: str | None = None, strict: bool = False) -> LoadResult:
    """Read every span in ``paths``; bad records are skipped and reported (raised if ``strict``).

    After reading, duplicates are dropped and the parent links checked
    (:mod:`.readers.span_tree`): loops are broken, orphans and children outside their
    parent noted.
    """
    forced = readers.get_reader(input_format) if input_format is not None else None
    diagnostics = Diagnostics(strict=strict)
    files: list[str] = []
    tables: list[pa.Table] = []
    origins: list[npt.NDArray[np.int32]] = []  # per table: the index in `files` of its rows
    for item in input_paths.expand(paths):
        try:
            head = source.read_head(item.path)
        except UnreadableInputError as err:
            if item.explicit or strict:
                raise
            diagnostics.note(item.path, 0, "unreadable-file", err.message, err.hint)
            continue
        if not head.strip():
            files.append(item.path)  # an empty dump (a process that served nothing)
            continue
        reader = forced or _sniff(item, head, diagnostics)
        if reader is None:
            continue
        read_tables = _read_file(reader, item, diagnostics)
        if read_tables is None:
            continue
        files.append(item.path)
        for table in read_tables:
            tables.append(enrich(table))
            origins.append(np.full(table.num_rows, len(files) - 1, dtype=np.int32))
    if not tables:
        return LoadResult(table=SPAN_SCHEMA.empty_table(), files=files, diagnostics=diagnostics)
    table = pa.concat_tables(tables)
    origin = np.concatenate(origins)
    first = first_rows(table)
    if first is not None:
        table, origin = table.take(first), origin[first]
    table = check_span_tree(table, diagnostics, files, origin)
    return LoadResult(table=table, files=files, diagnostics=diagnostics)


def _read_file(
    reader: readers.Reader, item: input_paths.InputFile, diagnostics: Diagnostics
) -> list[pa.Table] | None:
    """Every table of one file; None (noted) when a file found in a folder is unreadable."""
    try:
        return list(reader.read(item.path, diagnostics))
    except UnreadableInputError as err:
        if item.explicit or diagnostics.strict:
            raise
        diagnostics.note(item.path, 0, "unreadable-file", err.message, err.hint)
        return None


def load(
    paths: PathsArg,
    *,
    input_format: str | None = None,
    strict: bool = False,
) -> pa.Table:
    """The span table of ``paths`` (see :func:`read` for the diagnostics)."""
    return read(paths, input_format=input_format, strict=strict).table


def _sniff(
    item: input_paths.InputFile, head: bytes, diagnostics: Diagnostics
) -> readers.Reader | None:
    reader = readers.sniff(head)
    if reader is None:
        message = f"{item.path}: not a span dump this version can read"
        hint = f"force a format with --input-format ({', '.join(readers.reader_names())})"
        if item.explicit:
            raise UnreadableInputError(message, hint)
        if not diagnostics.strict:
            diagnostics.note(
                item.path,
                0,
                "unknown-format",
                "not a span dump this version can read; ignored",
                hint,
            )
    return reader


def deduplicate(table: pa.Table) -> pa.Table:
    """Keep the first row of each (TraceId, SpanId)."""
    first = first_rows(table)
    return table if first is None else table.take(first)


def first_rows(table: pa.Table) -> npt.NDArray[np.int64] | None:
    """Sorted indices of the first row of each (TraceId, SpanId); None if all are unique."""
    if table.num_rows == 0:
        return None
    keys = table.select(["TraceId", "SpanId"]).append_column(
        "_row", pa.array(np.arange(table.num_rows))
    )
    first = keys.group_by(["TraceId", "SpanId"], use_threads=False).aggregate([("_row", "min")])
    if first.num_rows == table.num_rows:
        return None
    return np.sort(first.column("_row_min").to_numpy())
