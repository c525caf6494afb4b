"""Parquet span tables: what ``spanscope convert`` writes (the canonical schema, derived
columns included) and a ClickHouse ``otel_traces`` export (``SELECT ... FORMAT Parquet``).

Both name their columns alike; :mod:`.span_columns` reconciles types and spellings.  The
file is read in row batches of the columns the analyzer knows, so extra columns
(``Events.*``, ``Links.*``) cost nothing.
"""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa
import pyarrow.parquet as pq
from spanscope.analyzer.diagnostics import Diagnostics
from spanscope.analyzer.errors import UnreadableInputError
from spanscope.analyzer.readers import span_columns

PARQUET_MAGIC = b"PAR1"
_BATCH_ROWS = 1 << 20


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
        present = parquet.schema_arrow.names
        missing = span_columns.missing_required(present)
        if missing:
            raise UnreadableInputError(
                f"{path}: Parquet file lacks the span columns {', '.join(missing)}",
                "write it with `spanscope convert`, or export ClickHouse otel_traces with all its columns",
            )
        first_row = 1
        try:
            batches = parquet.iter_batches(
                columns=span_columns.wanted_columns(present), batch_size=_BATCH_ROWS
            )
            for batch in batches:
                table = pa.Table.from_batches([batch])
                yield span_columns.to_canonical(table, path, first_row, diagnostics)
                first_row += batch.num_rows
        except (pa.ArrowException, OSError) as err:
            raise UnreadableInputError(
                f"{path}: damaged Parquet file ({err})", "re-create it with `spanscope convert`"
            ) from None
