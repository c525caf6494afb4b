"""Derived, typed columns (:data:`DERIVED_SCHEMA`) computed from the attribute maps.

Every semantic-convention generation is accepted: the first attribute name in each
list below that a span carries wins.  All of it is vectorized: the map keys of all spans
are hashed once against the wanted names, then each column is a gather.

Layer rule: ``spanscope.layer`` if set; else a Server span is ``server``; else a span
with a DB system is ``cache`` (redis, memcached) or ``db``; else a Client span with an
HTTP method or URL is ``http``; else ``other``.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
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


def enrich(table: pa.Table) -> pa.Table:
    """``table`` (BASE_SCHEMA columns, derived ones optional) -> a SPAN_SCHEMA table.

    Derived columns already present (a Parquet file written by ``spanscope convert``)
    are kept; missing ones are computed.
    """
    missing = [f.name for f in DERIVED_SCHEMA if f.name not in table.column_names]
    if missing:
        # Record batches slice both columns at the same row boundaries.
        batches = table.select(["SpanAttributes", "SpanKind"]).to_batches()
        chunks = [_derive(batch.column(0), batch.column(1)) for batch in batches]
        for name in missing:
            field = DERIVED_SCHEMA.field(name)
            pieces = [chunk[name] for chunk in chunks]
            table = table.append_column(field, pa.chunked_array(pieces, type=field.type))
    return table.select(SPAN_SCHEMA.names).cast(SPAN_SCHEMA)


def _derive(attributes: pa.Array[Any], kinds: pa.Array[Any]) -> dict[str, pa.Array[Any]]:
    lookup = _Lookup(attributes)
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
    """Values of selected keys of one map<string, string> chunk, found with one hash pass."""

    def __init__(self, attributes: pa.Array[Any]) -> None:
        entries = attributes.cast(_ENTRIES)
        flat = pc.list_flatten(entries)
        self._length = len(attributes)
        self._values = pc.struct_field(flat, "value")
        self._parents = pc.list_parent_indices(entries).to_numpy()
        codes = pc.index_in(pc.struct_field(flat, "key"), value_set=pa.array(_WANTED))
        self._codes = pc.fill_null(codes, -1).to_numpy()

    def first(self, names: tuple[str, ...]) -> pa.Array[Any]:
        """Per span, the value of the first of ``names`` it carries (first entry of a key), else null."""
        picked = np.full(self._length, -1, dtype=np.int64)
        for name in reversed(names):  # earlier names overwrite later ones
            entries = np.flatnonzero(self._codes == _WANTED.index(name))
            if len(entries):
                # np.unique keeps the first entry of each span: the first occurrence wins.
                spans, first = np.unique(self._parents[entries], return_index=True)
                picked[spans] = entries[first]
        result: pa.Array[Any] = pc.take(self._values, pa.array(picked, mask=picked < 0))
        return result


def _to_int32(text: pa.Array[Any]) -> pa.Array[Any]:
    """Decimal strings -> int32; anything else (absent, "abc", out of range) -> null."""
    numeric = pc.fill_null(pc.match_substring_regex(text, r"^\s*-?[0-9]{1,9}\s*$"), False)
    result: pa.Array[Any] = pc.cast(
        pc.if_else(numeric, pc.utf8_trim_whitespace(text), pa.scalar(None, pa.string())), pa.int32()
    )
    return result


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
