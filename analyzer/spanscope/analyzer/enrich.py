"""Derived, typed columns (:data:`DERIVED_SCHEMA`) computed from the attribute maps.

Every semantic-convention generation is accepted: the first attribute name in each
list below that a span carries wins.  All of it is vectorized: the map keys of all spans
are hashed once against the wanted names, then each column is a gather.

Layer rule: ``spanscope.layer`` if set; else a Server span is ``server``; else a span
with a DB system is ``cache`` (redis, memcached) or ``db``; else a Client span with an
HTTP method or URL is ``http``; else ``other``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as _compute
from spanscope.analyzer.schema import DERIVED_SCHEMA, SPAN_SCHEMA

# The stubs' overloads reject valid broadcasting calls such as `equal(array, "x")`.
pc: Any = _compute

#: column -> attribute names, preferred first (new semconv, then old).
ATTRIBUTE_SOURCES: Final[dict[str, tuple[str, ...]]] = {
    "http_route": ("http.route",),
    "http_method": ("http.request.method", "http.method"),
    "http_status_code": ("http.response.status_code", "http.status_code"),
    "http_target": ("url.path", "http.target"),
    "db_system": ("db.system.name", "db.system"),
    "db_statement": ("db.query.text", "db.statement"),
    "code_filepath": ("code.file.path", "code.filepath"),
    "code_lineno": ("code.line.number", "code.lineno"),
    "code_function": ("code.function.name", "code.function"),
    "orm_relation": ("spanscope.orm.relation",),
    "orm_relation_kind": ("spanscope.orm.relation_kind",),
    "orm_lookup": ("spanscope.orm.lookup",),
    "db_params_hash": ("spanscope.db.params_hash",),
}
_LAYER_ATTRIBUTE: Final = "spanscope.layer"
_URL_ATTRIBUTES: Final = ("url.full", "http.url")
CACHE_SYSTEMS: Final = ("redis", "memcached")

_WANTED: Final = tuple(
    dict.fromkeys(
        [name for names in ATTRIBUTE_SOURCES.values() for name in names]
        + [_LAYER_ATTRIBUTE, *_URL_ATTRIBUTES]
    )
)
_ENTRIES: Final = pa.list_(
    pa.struct([pa.field("key", pa.string()), pa.field("value", pa.string())])
)
_STR_MAP: Final = pa.map_(pa.string(), pa.string())

#: Attributes the analyses read from ``SpanAttributes`` itself rather than from a derived
#: column (the URL of an HTTP client span); a table read for analysis keeps only these.
ANALYSIS_ATTRIBUTES: Final = _URL_ATTRIBUTES
#: Columns no analysis reads: a table read for analysis only leaves them out, and a
#: reader that knows it need not build them (the attribute maps are most of a span).
_NOT_ANALYSED: Final = ("ServiceName", "ScopeName", "StatusMessage", "ResourceAttributes")
#: Columns of few distinct values (a few hundred statements, files, relations among
#: millions of spans) that a table read for analysis holds dictionary-encoded: the SQL
#: text alone is most of a span's bytes.  Only columns every analysis reads with
#: dictionary-capable kernels are listed (``SpanName`` and the HTTP columns are not).
DICTIONARY_COLUMNS: Final = (
    "SpanKind",
    "StatusCode",
    "layer",
    "http_target",
    "db_system",
    "db_statement",
    "code_filepath",
    "code_function",
    "orm_relation",
    "orm_relation_kind",
    "orm_lookup",
)
_DICTIONARY: Final = pa.dictionary(pa.int32(), pa.string())
#: What ``load.read(..., columns="analysis")`` returns: SPAN_SCHEMA without the columns
#: above, ``SpanAttributes`` holding :data:`ANALYSIS_ATTRIBUTES` only, and the
#: :data:`DICTIONARY_COLUMNS` dictionary-encoded.
ANALYSIS_SCHEMA: Final = pa.schema(
    [
        f.with_type(_DICTIONARY) if f.name in DICTIONARY_COLUMNS else f
        for f in SPAN_SCHEMA
        if f.name not in _NOT_ANALYSED
    ]
)


def enrich(table: pa.Table) -> pa.Table:
    """``table`` (BASE_SCHEMA columns, derived ones optional) -> a SPAN_SCHEMA table.

    Derived columns already present (a Parquet file written by ``spanscope convert``)
    are kept; missing ones are computed.
    """
    return _with_derived(table).select(SPAN_SCHEMA.names).cast(SPAN_SCHEMA)


def for_analysis(table: pa.Table) -> pa.Table:
    """``table`` (BASE_SCHEMA columns or fewer, derived ones optional) -> ANALYSIS_SCHEMA.

    Derived columns are computed as :func:`enrich` does (which needs ``SpanAttributes``
    when any is missing); ``SpanAttributes`` keeps only :data:`ANALYSIS_ATTRIBUTES`,
    an absent one reads as empty maps.
    """
    if table.schema.equals(ANALYSIS_SCHEMA):  # a reader that built it already
        return table
    table = _with_derived(table)
    if "SpanAttributes" in table.column_names:
        index = table.schema.get_field_index("SpanAttributes")
        chunks = [keep_keys(chunk, ANALYSIS_ATTRIBUTES) for chunk in table.column(index).chunks]
        kept = pa.chunked_array(chunks, type=_STR_MAP)  # type: ignore[call-overload]  # stubs lack map types
        table = table.set_column(index, "SpanAttributes", kept)
    else:
        table = table.append_column("SpanAttributes", empty_maps(table.num_rows))
    return table.select(ANALYSIS_SCHEMA.names).cast(ANALYSIS_SCHEMA)


def _with_derived(table: pa.Table) -> pa.Table:
    missing = [f.name for f in DERIVED_SCHEMA if f.name not in table.column_names]
    if missing:
        # Record batches slice both columns at the same row boundaries.
        batches = table.select(["SpanAttributes", "SpanKind"]).to_batches()
        chunks = [_derive(batch.column(0), batch.column(1)) for batch in batches]
        for name in missing:
            field = DERIVED_SCHEMA.field(name)
            pieces = [chunk[name] for chunk in chunks]
            table = table.append_column(field, pa.chunked_array(pieces, type=field.type))
    return table


def empty_maps(rows: int) -> pa.Array[Any]:
    """``rows`` empty ``map<string, string>`` values, without a Python list per row."""
    empty = pa.array([], pa.string())
    result: pa.Array[Any] = pa.MapArray.from_arrays(  # type: ignore[call-overload]  # int32 offsets are valid for map
        pa.array(np.zeros(rows + 1, dtype=np.int32)), empty, empty
    )
    return result


def keep_keys(maps: pa.Array[Any], keys: tuple[str, ...]) -> pa.Array[Any]:
    """``maps`` (map<string, string>) with only the entries whose key is in ``keys``."""
    entries = maps.cast(_ENTRIES)
    flat = pc.list_flatten(entries)
    wanted = pc.fill_null(pc.is_in(pc.struct_field(flat, "key"), value_set=pa.array(keys)), False)
    parents = pc.list_parent_indices(entries).to_numpy()
    kept = wanted.to_numpy(zero_copy_only=False)
    return _map_of(parents[kept], len(maps), flat.filter(wanted))


def _map_of(parents: npt.NDArray[Any], rows: int, entries: pa.Array[Any]) -> pa.Array[Any]:
    """A map array of ``rows`` rows from entries sorted by row (``parents[i]`` is the row
    of entry ``i``)."""
    offsets = np.zeros(rows + 1, dtype=np.int32)
    np.cumsum(np.bincount(parents, minlength=rows), out=offsets[1:])
    result: pa.Array[Any] = pa.MapArray.from_arrays(  # type: ignore[call-overload]  # int32 offsets are valid for map
        pa.array(offsets), pc.struct_field(entries, "key"), pc.struct_field(entries, "value")
    )
    return result


def derive_from_entries(
    codes: npt.NDArray[np.int64],
    parents: npt.NDArray[np.int64],
    values: Sequence[pa.Array[Any]],
    kinds: pa.Array[Any],
) -> dict[str, pa.Array[Any]]:
    """The derived columns of ``len(kinds)`` spans from flattened attribute entries.

    ``codes[i]`` is the index in :func:`wanted_names` of entry ``i``'s key (-1 for a key
    no derived column reads), ``parents[i]`` its span; entries are in span order.  An
    entry's text is the first non-null of ``values`` at ``i`` (one array per value
    kind, e.g. OTLP's ``stringValue`` and ``intValue``).  A reader that flattens
    attributes itself never builds the attribute maps; the texts are only picked for
    the spans' derived columns, never gathered or joined entry by entry.
    """
    return _derive_columns(_Lookup(codes, parents, values, len(kinds)), kinds)


def wanted_names() -> tuple[str, ...]:
    """Every attribute name a derived column or the analyses read, in code order."""
    return _WANTED


def _derive(attributes: pa.Array[Any], kinds: pa.Array[Any]) -> dict[str, pa.Array[Any]]:
    return _derive_columns(_Lookup.of_maps(attributes), kinds)


def _derive_columns(lookup: _Lookup, kinds: pa.Array[Any]) -> dict[str, pa.Array[Any]]:
    columns = {name: lookup.first(names) for name, names in ATTRIBUTE_SOURCES.items()}
    for name in ("http_status_code", "code_lineno"):
        columns[name] = _to_int32(columns[name])
    columns["layer"] = _layer(
        kinds,
        declared=lookup.first((_LAYER_ATTRIBUTE,)),
        db_system=columns["db_system"],
        http_method=columns["http_method"],
        url=lookup.first(_URL_ATTRIBUTES),
    )
    return columns


class _Lookup:
    """Values of selected keys of attribute entries, their keys hashed once (``codes``)."""

    def __init__(
        self,
        codes: npt.NDArray[np.int64],
        parents: npt.NDArray[np.int64],
        values: Sequence[pa.Array[Any]],
        length: int,
    ) -> None:
        self._values = tuple(values)
        self._length = length
        self._codes = codes.astype(np.int8)  # len(_WANTED) < 128: a narrow, fast compare
        self._parents = parents
        self._firsts: dict[int, tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]] = {}
        self._by_code: tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]] | None = None

    def _first_entries(self, code: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """(spans, the first entry of key ``code`` in each): entries are in span order,
        so a span's first entry is where the span changes -- no sort needed."""
        if code not in self._firsts:
            if self._by_code is None:
                # One stable sort (a radix sort of bytes) groups the entries of every
                # key at once, each group still in entry order: cheaper than a pass
                # over all entries per key, and every derived column asks for its keys.
                order = np.argsort(self._codes, kind="stable")
                bounds = np.searchsorted(self._codes[order], np.arange(len(_WANTED) + 1))
                self._by_code = (order, bounds)
            order, bounds = self._by_code
            entries = order[bounds[code] : bounds[code + 1]]
            spans = self._parents[entries]
            first = np.ones(len(entries), dtype=np.bool_)
            np.not_equal(spans[1:], spans[:-1], out=first[1:])
            self._firsts[code] = (spans[first], entries[first])
        return self._firsts[code]

    @classmethod
    def of_maps(cls, attributes: pa.Array[Any]) -> _Lookup:
        """One map<string, string> chunk."""
        entries = attributes.cast(_ENTRIES)
        flat = pc.list_flatten(entries)
        codes = pc.index_in(pc.struct_field(flat, "key"), value_set=pa.array(_WANTED))
        return cls(
            pc.fill_null(codes, -1).to_numpy().astype(np.int64),
            pc.list_parent_indices(entries).to_numpy().astype(np.int64),
            (pc.struct_field(flat, "value"),),
            len(attributes),
        )

    def first(self, names: tuple[str, ...]) -> pa.Array[Any]:
        """Per span, the value of the first of ``names`` it carries (first entry of a key), else null."""
        picked = np.full(self._length, -1, dtype=np.int64)
        for name in reversed(names):  # earlier names overwrite later ones
            spans, entries = self._first_entries(_WANTED.index(name))
            picked[spans] = entries
        missing = picked < 0
        if missing.all():  # common: many keys are on no span of a chunk
            nothing: pa.Array[Any] = pa.nulls(self._length, pa.string())
            return nothing
        indices = pa.array(picked, mask=missing)
        texts = [pc.take(values, indices) for values in self._values]
        present = [text for text in texts if text.null_count < len(text)]
        if len(present) <= 1:
            only: pa.Array[Any] = present[0] if present else texts[0]
            return only
        result: pa.Array[Any] = pc.coalesce(*present)
        return result


def _to_int32(text: pa.Array[Any]) -> pa.Array[Any]:
    """Decimal strings -> int32; anything else (absent, "abc", out of range) -> null."""
    if _plain_small_numbers(text):
        # What instrumentation writes: digits only, at most 9 -- a plain cast is exact.
        plain: pa.Array[Any] = pc.cast(text, pa.int32())
        return plain
    numeric = pc.fill_null(pc.match_substring_regex(text, r"^\s*-?[0-9]{1,9}\s*$"), False)
    result: pa.Array[Any] = pc.cast(
        pc.if_else(numeric, pc.utf8_trim_whitespace(text), pa.scalar(None, pa.string())), pa.int32()
    )
    return result


def _plain_small_numbers(text: pa.Array[Any]) -> bool:
    """Whether every non-null string of ``text`` is 1-9 ASCII digits (checked on the
    Arrow buffers: a cast alone would also take "0x1f" and ten-digit numbers)."""
    present = text.drop_null()
    if not len(present):
        return True
    if present.type != pa.string():
        return False
    buffers: list[Any] = present.buffers()  # validity, offsets, data
    offsets: npt.NDArray[np.int32] = np.frombuffer(
        buffers[1], dtype=np.int32, count=len(present) + 1, offset=present.offset * 4
    )
    lengths = np.diff(offsets)
    if not ((lengths >= 1) & (lengths <= 9)).all():
        return False
    data = memoryview(buffers[2])[offsets[0] : offsets[-1]]
    return not bytes(data).translate(None, b"0123456789")  # anything left is no digit


def _layer(
    kinds: pa.Array[Any],
    *,
    declared: pa.Array[Any],
    db_system: pa.Array[Any],
    http_method: pa.Array[Any],
    url: pa.Array[Any],
) -> pa.Array[Any]:
    nothing = pa.scalar(None, pa.string())
    declared = pc.if_else(pc.equal(declared, ""), nothing, declared)
    has_db = pc.fill_null(pc.not_equal(db_system, ""), False)
    is_cache = pc.fill_null(
        pc.is_in(pc.utf8_lower(db_system), value_set=pa.array(CACHE_SYSTEMS)), False
    )
    is_http_client = pc.and_(
        pc.equal(kinds, "Client"),
        pc.or_(pc.is_valid(http_method), pc.is_valid(url)),
    )
    inferred = pc.case_when(
        pc.make_struct(pc.equal(kinds, "Server"), is_cache, has_db, is_http_client),
        "server",
        "cache",
        "db",
        "http",
        "other",
    )
    layer: pa.Array[Any] = pc.coalesce(declared, inferred)
    return layer
