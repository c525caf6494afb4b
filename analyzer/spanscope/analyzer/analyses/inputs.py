"""What every analysis accepts: a span table, or files, folders and globs to read."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, TypeAlias

import numpy as np
import numpy.typing as npt
import pyarrow as pa
from spanscope.analyzer.diagnostics import Diagnostics
from spanscope.analyzer.requests import Prepared, prepare

if TYPE_CHECKING:
    from spanscope.analyzer.load import PartitionedRead

SpansOrPaths: TypeAlias = pa.Table | str | os.PathLike[str] | Sequence[str | os.PathLike[str]]


@dataclass(frozen=True)
class LoadedSpans:
    """A span table and what reading it cost: the files read and the skipped records."""

    table: pa.Table
    files: list[str] = field(default_factory=list)
    diagnostics: Diagnostics = field(default_factory=Diagnostics)
    # The row of each span's parent when reading already found it (None: not known).
    parent: npt.NDArray[np.int64] | None = None


def read_spans(
    source: SpansOrPaths,
    *,
    input_format: str | None = None,
    strict: bool = False,
    columns: Literal["all", "analysis"] = "all",
) -> LoadedSpans:
    """A table as is, or the files, folders and globs in ``source`` read with ``load.read``
    (``columns="analysis"``: only the columns the span-tree analyses read)."""
    if isinstance(source, pa.Table):
        return LoadedSpans(source)
    # Imported here so that analyses on an in-memory table never pay for the readers.
    from spanscope.analyzer.load import read

    result = read(path_list(source), input_format=input_format, strict=strict, columns=columns)
    return LoadedSpans(result.table, list(result.files), result.diagnostics, result.parent)


def prepare_spans(source: SpansOrPaths) -> Prepared:
    """The span tree and request table of ``source``, with the parent rows that reading
    already found reused (see :func:`spanscope.analyzer.requests.prepare`)."""
    loaded = read_spans(source)
    return prepare(loaded.table, loaded.parent)


def path_list(source: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> list[str]:
    """The paths of ``source`` (one path or several) as strings."""
    items = [source] if isinstance(source, (str, os.PathLike)) else list(source)
    return [os.fspath(item) for item in items]


def spans_or_spill(
    source: SpansOrPaths,
    *,
    input_format: str | None = None,
    strict: bool = False,
    memory_spans: int | None,
) -> LoadedSpans | PartitionedRead:
    """The analysis columns of ``source`` in memory, or -- dump files of more than
    ``memory_spans`` spans (None: no limit) -- spilled to disk by trace, to be taken a
    partition at a time (:class:`~spanscope.analyzer.load.PartitionedRead`; the caller
    closes it)."""
    if memory_spans is None or isinstance(source, pa.Table):
        return read_spans(source, input_format=input_format, strict=strict, columns="analysis")
    # Imported here so that analyses on an in-memory table never pay for the readers.
    from spanscope.analyzer.load import read_partitioned

    read = read_partitioned(
        path_list(source), input_format=input_format, strict=strict, memory_spans=memory_spans
    )
    if read.whole is None:
        return read
    whole = read.whole
    return LoadedSpans(whole.table, whole.files, whole.diagnostics, whole.parent)
