"""Parquet in the canonical span schema (what ``spanscope convert`` writes).

The file may carry the derived columns too; they are kept, and the loader derives any
that are missing.
"""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa
import pyarrow.parquet as pq
from spanscope.analyzer.diagnostics import Diagnostics
from spanscope.analyzer.errors import UnreadableInputError
from spanscope.analyzer.schema import BASE_SCHEMA, DERIVED_SCHEMA

PARQUET_MAGIC = b"PAR1"


class ParquetReader:
    name = "parquet"

    def sniff(self, head: bytes) -> bool:
        return head.startswith(PARQUET_MAGIC)

    def read(self, path: str, diagnostics: Diagnostics) -> Iterator[pa.Table]:
        try:
            parquet = pq.ParquetFile(path)
        except (pa.ArrowException, OSError) as err:
            raise UnreadableInputError(
                f"{path}: not a readable Parquet file ({err})",
                "re-create it with `spanscope convert`",
            ) from None
        present = set(parquet.schema_arrow.names)
        missing = [name for name in BASE_SCHEMA.names if name not in present]
        if missing:
            raise UnreadableInputError(
                f"{path}: Parquet file lacks the span columns {', '.join(missing)}",
                "write it with `spanscope convert`, or export ClickHouse otel_traces with all its columns",
            )
        wanted = BASE_SCHEMA.names + [name for name in DERIVED_SCHEMA.names if name in present]
        target = pa.schema([*BASE_SCHEMA, *(f for f in DERIVED_SCHEMA if f.name in present)])
        try:
            for batch in parquet.iter_batches(columns=wanted, batch_size=1 << 20):
                yield pa.Table.from_batches([batch]).cast(target)
        except (pa.ArrowException, OSError) as err:
            raise UnreadableInputError(
                f"{path}: damaged Parquet file ({err})", "re-create it with `spanscope convert`"
            ) from None
