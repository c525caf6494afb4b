"""``convert``: any supported dumps -> Parquet in the canonical span schema.

The span table is written exactly as :func:`spanscope.analyzer.load.read` returns it --
deduplicated, parent loops broken, derived columns included -- so analysing the Parquet
gives the same results as analysing the source, without parsing JSON again.  Files are
zstd-compressed (~40x smaller than OTLP JSON).

A single output file is also *prepared* (:mod:`.prepared_format`): the span tree,
request table and statement templates ``analyze`` would compute are stored with it, so
analysing it reads a few integer columns instead of recomputing them.  Partitions are
not: a trace may cross partitions, and each file must stand alone.

With ``partition_by`` the output is a folder of Hive-style partitions
(``out.parquet/ServiceName=books/part-0.parquet``, ``.../date=2026-01-31/...``) that
DuckDB, pyarrow.dataset, Spark and spanscope itself read.  Every file keeps all the
columns, partition column included, so each one is also a complete span table alone.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as _compute
import pyarrow.parquet as pq
from spanscope.analyzer.diagnostics import Diagnostics
from spanscope.analyzer.errors import SpanscopeError, UsageError
from spanscope.analyzer.load import PathsArg, read
from spanscope.analyzer.prepared_format import PREPARED_PREFIX, ROLLUP_PREFIX, marker_of
from spanscope.analyzer.prepared_write import with_prepared_columns

# The stubs' overloads reject valid broadcasting calls such as `equal(array, "x")`.
pc: Any = _compute

COMPRESSION: Final = "zstd"
_ROW_GROUP_ROWS: Final = 1 << 20
# Hive's spelling of a partition whose value is empty or null.
_EMPTY_PARTITION: Final = "__HIVE_DEFAULT_PARTITION__"


def _service_key(table: pa.Table) -> pa.Array[Any]:
    result: pa.Array[Any] = table.column("ServiceName").combine_chunks()
    return result


def _date_key(table: pa.Table) -> pa.Array[Any]:
    # The UTC day the span started on.
    day = pc.strftime(table.column("Timestamp"), format="%Y-%m-%d", locale="C")
    result: pa.Array[Any] = day.combine_chunks()
    return result


#: --partition-by name -> the folder key of each row.
PARTITIONERS: Final[dict[str, Callable[[pa.Table], pa.Array[Any]]]] = {
    "ServiceName": _service_key,
    "date": _date_key,
}


@dataclass(frozen=True)
class ConvertResult:
    spans: int
    written: list[str]  # Parquet files written
    inputs: list[str]  # files read
    diagnostics: Diagnostics


def convert(
    paths: PathsArg,
    output: str | os.PathLike[str],
    *,
    partition_by: str | None = None,
    input_format: str | None = None,
    strict: bool = False,
) -> ConvertResult:
    """Read ``paths`` and write their span table to ``output`` (a file, or with
    ``partition_by`` a new folder)."""
    partitioner = _partitioner(partition_by)
    loaded = read(paths, input_format=input_format, strict=strict)
    target = Path(output)
    if partitioner is None:
        write_prepared(loaded.table, target, loaded.parent)
        written = [str(target)]
    else:
        written = _write_partitions(loaded.table, target, str(partition_by), partitioner)
    return ConvertResult(loaded.table.num_rows, written, loaded.files, loaded.diagnostics)


def _encodings(schema: pa.Schema) -> dict[str, Any]:
    """Per-column Parquet encodings: integer columns ``analyze`` reads (``Duration`` and
    the prepared ones) delta-encoded -- 3-4x cheaper to decode than a dictionary that
    overflowed into plain pages, and smaller; the span-level prepared text columns,
    which hold a value on few rows, plain; everything else (the rollups' texts
    included: endpoints, parent names) dictionary-encoded as by default."""
    delta = [
        field.name
        for field in schema
        if (field.name == "Duration" or field.name.startswith(PREPARED_PREFIX))
        and pa.types.is_integer(field.type)
    ]
    plain = [
        f.name
        for f in schema
        if f.name.startswith(PREPARED_PREFIX)
        and not f.name.startswith(ROLLUP_PREFIX)
        and f.name not in delta
    ]
    dictionary = [name for name in schema.names if name not in delta and name not in plain]
    return {
        "use_dictionary": dictionary,
        "column_encoding": dict.fromkeys(delta, "DELTA_BINARY_PACKED"),
    }


def _partitioner(name: str | None) -> Callable[[pa.Table], pa.Array[Any]] | None:
    if name is None:
        return None
    try:
        return PARTITIONERS[name]
    except KeyError:
        raise UsageError(
            f"cannot partition by {name!r}", f"choose one of: {', '.join(PARTITIONERS)}"
        ) from None


def write_prepared(
    table: pa.Table, target: str | os.PathLike[str], parent: npt.NDArray[np.int64] | None = None
) -> None:
    """Write ``table`` (as :func:`~spanscope.analyzer.load.read` returns it; ``parent`` is
    its :attr:`~spanscope.analyzer.load.LoadResult.parent`) with its prepared columns."""
    prepared = with_prepared_columns(table, parent)
    marker = marker_of(prepared.schema)
    _write(prepared, Path(target), marker.leading_rows if marker else 0)


def _write(table: pa.Table, target: Path, leading_rows: int = 0) -> None:
    """Write ``table``; its first ``leading_rows`` rows (a prepared file's rollups) in a
    row group of their own, so that reading the rollups decodes nothing else."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        options = _encodings(table.schema)
        with pq.ParquetWriter(target, table.schema, compression=COMPRESSION, **options) as out:
            rest = table
            if 0 < leading_rows < table.num_rows:
                out.write_table(table.slice(0, leading_rows), row_group_size=leading_rows)
                rest = table.slice(leading_rows)
            out.write_table(rest, row_group_size=_ROW_GROUP_ROWS)
    except OSError as err:
        raise SpanscopeError(
            f"cannot write {target}: {err.strerror or err}", "choose a writable output path"
        ) from None


def _write_partitions(
    table: pa.Table,
    folder: Path,
    name: str,
    partitioner: Callable[[pa.Table], pa.Array[Any]],
) -> list[str]:
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise UsageError(
            f"{folder} already exists",
            "a partitioned output is a new folder: name one that does not exist yet",
        )
    keys = pc.fill_null(partitioner(table), "")
    written = []
    for value in pc.unique(keys).to_pylist():
        part = table.filter(pc.equal(keys, value))
        directory = folder / f"{name}={quote(value, safe='') if value else _EMPTY_PARTITION}"
        target = directory / "part-0.parquet"
        _write(part, target)
        written.append(str(target))
    return sorted(written)
