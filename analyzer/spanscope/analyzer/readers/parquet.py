"""Parquet span tables: what ``spanscope convert`` writes (the canonical schema, derived
columns included) and a ClickHouse ``otel_traces`` export (``SELECT ... FORMAT Parquet``).

Both name their columns alike; :mod:`.span_columns` reconciles types and spellings.  The
file is read in row batches of the columns the analyzer knows, so extra columns
(``Events.*``, ``Links.*``) cost nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from spanscope.analyzer.diagnostics import Diagnostics
from spanscope.analyzer.enrich import ANALYSIS_SCHEMA, DICTIONARY_COLUMNS, for_analysis
from spanscope.analyzer.errors import UnreadableInputError
from spanscope.analyzer.readers import span_columns
from spanscope.analyzer.schema import DERIVED_SCHEMA

PARQUET_MAGIC = b"PAR1"
_BATCH_ROWS = 1 << 20


class ParquetReader:
    name = "parquet"

    def sniff(self, head: bytes) -> bool:
        return head.startswith(PARQUET_MAGIC)

    def read(self, path: str, diagnostics: Diagnostics) -> Iterator[pa.Table]:
        parquet = _open(path)
        first_row = 1
        with _damage_reported(path):
            batches = parquet.iter_batches(
                columns=span_columns.wanted_columns(parquet.schema_arrow.names),
                batch_size=_BATCH_ROWS,
            )
            for batch in batches:
                table = pa.Table.from_batches([batch])
                yield span_columns.to_canonical(table, path, first_row, diagnostics)
                first_row += batch.num_rows

    def read_analysis(self, path: str, diagnostics: Diagnostics) -> Iterator[pa.Table]:
        """The columns the analyses read, in batches, row group by row group.

        The attribute maps are most of a file's bytes and nearly all of its decoding
        time.  ``ResourceAttributes`` is never read; ``SpanAttributes`` only for a row
        group whose derived columns are missing or unusable (a ClickHouse export), that
        holds HTTP client spans, or that holds Server spans without a URL path column
        (the analyses look those URLs up in the map).  Columns
        the analyses hold dictionary-encoded are decoded straight into dictionaries.
        """
        parquet = _open(path, read_dictionary=DICTIONARY_COLUMNS)
        present = parquet.schema_arrow.names
        light = [
            name
            for name in span_columns.wanted_columns(present)
            if name not in ("SpanAttributes", "ResourceAttributes")
        ]
        derived_usable = _derived_usable(parquet.schema_arrow)
        first_row = 1
        with _damage_reported(path):
            for group in range(parquet.num_row_groups):
                columns = light
                if "SpanAttributes" in present and (
                    not derived_usable or _needs_urls(parquet, group)
                ):
                    columns = [*light, "SpanAttributes"]
                batches = parquet.iter_batches(
                    batch_size=_ANALYSIS_BATCH_ROWS, row_groups=[group], columns=columns
                )
                offset = 0  # of the batch in its row group
                for batch in batches:
                    table = span_columns.to_canonical(
                        pa.Table.from_batches([batch]),
                        path,
                        first_row,
                        diagnostics,
                        maps=False,
                        derived_types=ANALYSIS_SCHEMA,
                    )
                    if _lacks_derived(table) and "SpanAttributes" in set(present) - set(
                        table.column_names
                    ):
                        # A derived column failed its cast on this batch: derive it again
                        # from the attributes, read for these rows only.
                        attributes = parquet.read_row_group(group, columns=["SpanAttributes"])
                        rows = attributes.column(0).slice(offset, batch.num_rows)
                        table = table.append_column("SpanAttributes", rows)
                    yield for_analysis(table)
                    first_row += batch.num_rows
                    offset += batch.num_rows


# Smaller than the full read's batches: a table for analysis is kept whole in the end,
# and smaller batches keep what is decoded but not yet compacted small.
_ANALYSIS_BATCH_ROWS = 1 << 18


def _derived_usable(schema: pa.Schema) -> bool:
    """Whether the file's derived columns are all there in types the analyses can use."""
    for field in DERIVED_SCHEMA:
        if field.name not in schema.names:
            return False
        try:
            pa.array([], schema.field(field.name).type).cast(field.type)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return False
    return True


def _needs_urls(parquet: pq.ParquetFile, group: int) -> bool:
    """Whether a row group holds spans whose URL only the attribute map has: HTTP client
    spans, and Server spans without ``http_target`` (instrumentation that records only
    ``http.url``/``url.full``; ``--group-by url`` reads the path from it).  Decided from
    the group's small ``layer`` and ``http_target`` columns."""
    group_columns = parquet.read_row_group(group, columns=["layer", "http_target"])
    layers = group_columns.column("layer").cast(pa.string())
    if pc.any(pc.equal(layers, pa.scalar("http"))).as_py():
        return True
    servers_without_path = pc.and_(
        pc.equal(layers, pa.scalar("server")), pc.is_null(group_columns.column("http_target"))
    )
    return bool(pc.any(servers_without_path).as_py())


def _lacks_derived(table: pa.Table) -> bool:
    return any(name not in table.column_names for name in DERIVED_SCHEMA.names)


def _open(path: str, read_dictionary: tuple[str, ...] = ()) -> pq.ParquetFile:
    try:
        present = pq.read_schema(path).names
        parquet = pq.ParquetFile(
            path, read_dictionary=[name for name in read_dictionary if name in present]
        )
    except (pa.ArrowException, OSError) as err:
        raise UnreadableInputError(
            f"{path}: not a readable Parquet file ({err})",
            "re-create it with `spanscope convert`",
        ) from None
    missing = span_columns.missing_required(parquet.schema_arrow.names)
    if missing:
        raise UnreadableInputError(
            f"{path}: Parquet file lacks the span columns {', '.join(missing)}",
            "write it with `spanscope convert`, or export ClickHouse otel_traces with all its columns",
        )
    return parquet


@contextmanager
def _damage_reported(path: str) -> Iterator[None]:
    try:
        yield
    except (pa.ArrowException, OSError) as err:
        raise UnreadableInputError(
            f"{path}: damaged Parquet file ({err})", "re-create it with `spanscope convert`"
        ) from None
