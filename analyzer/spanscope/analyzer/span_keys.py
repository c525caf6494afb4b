"""Span ids as integer keys, worked out per table while the rest of the input is read.

Deduplication and the parent join need every span at once, but almost all of their
work does not: each table (a chunk of a dump) has its ids decoded to 64-bit keys
(:func:`spanscope.analyzer.engine.hex_keys`) and its parents looked up among its own
spans as soon as it is read, on another thread, while later chunks are still being
parsed -- a trace's spans are nearly always written together.  Once everything is
read, :func:`merge` only has to:

* prove the (TraceId, SpanId) pairs distinct: the keys are a function of the pair, so
  when no key repeats no pair does (one sort of 64-bit integers);
* resolve the few parents that were not in their child's table, by one probe of all
  the keys against just those.

Anything this cannot settle exactly -- ids that are not canonical hex, a key that
repeats (a duplicate span, or a collision), a match that the full ids do not confirm
-- returns None, and the caller takes the general path on the whole input.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as _compute
from spanscope.analyzer.engine import Bools, Int64s, hex_keys, verified_lookup

# The stubs' overloads reject valid broadcasting calls such as `equal(array, "x")`.
pc: Any = _compute

#: ``TableKeys.parent`` of a span whose parent is not among its table's spans.
ELSEWHERE: Final = -1
#: ``TableKeys.parent`` of a span without a parent id.
NO_PARENT: Final = -2


@dataclass(frozen=True)
class TableKeys:
    """One table's span keys and the parents found within it."""

    key: npt.NDArray[np.uint64]  # per span: its span id mixed with its trace id
    # Per span: the row of its parent in this table, ELSEWHERE or NO_PARENT.
    parent: npt.NDArray[np.int32]
    elsewhere_key: npt.NDArray[np.uint64]  # the parent keys of the ELSEWHERE rows, in order


@dataclass(frozen=True)
class MergedKeys:
    """Parents of the concatenated tables: (TraceId, SpanId) proven unique."""

    parent: Int64s  # per span, its parent's row, -1 for a root or an orphan
    has_parent: Bools  # per span, whether it names a parent


def table_keys(table: pa.Table) -> TableKeys | None:
    """The keys of ``table``'s spans and the parents found among them; None when an id
    is not canonical hex or two keys of the table collide."""
    keys = hex_keys(table.column("TraceId"), table.column("SpanId"), table.column("ParentSpanId"))
    if keys is None:
        return None
    found = verified_lookup(keys)
    if found is None:
        return None
    parent = found.astype(np.int32)
    parent[~keys.has_parent] = NO_PARENT
    elsewhere = parent[keys.child_rows] == ELSEWHERE
    return TableKeys(keys.span_key, parent, keys.parent_key[elsewhere])


def merge(tables: Sequence[TableKeys], spans: pa.Table) -> MergedKeys | None:
    """The parents of ``spans`` (``tables`` concatenated, in order), or None when the
    keys do not prove every (TraceId, SpanId) distinct or a match is not confirmed."""
    if not tables:
        return None
    key = np.concatenate([keys.key for keys in tables])
    ordered = np.sort(key)
    if bool((ordered[1:] == ordered[:-1]).any()):
        return None  # a duplicate span (or a collision): the exact path decides
    del ordered
    parent = np.empty(len(key), dtype=np.int64)
    offset = 0
    for keys in tables:
        rows = parent[offset : offset + len(keys.key)]
        np.add(keys.parent, np.int64(offset), out=rows, where=keys.parent >= 0)
        rows[keys.parent < 0] = -1
        offset += len(keys.key)
    local = np.concatenate([keys.parent for keys in tables])
    has_parent = local != NO_PARENT
    elsewhere = np.flatnonzero(local == ELSEWHERE)
    del local
    if len(elsewhere):
        wanted = np.concatenate([keys.elsewhere_key for keys in tables])
        if not _resolve(parent, elsewhere, wanted, key, spans):
            return None
    return MergedKeys(parent, has_parent)


def _resolve(
    parent: Int64s,
    children: Int64s,
    wanted: npt.NDArray[np.uint64],
    key: npt.NDArray[np.uint64],
    spans: pa.Table,
) -> bool:
    """Fill ``parent[children]`` with the rows whose key is ``wanted`` (keys are
    distinct: at most one each), each match confirmed on the id strings; False when one
    is not."""
    # Probing every key against the few wanted ones costs one pass, not a hash table of
    # every span.
    index = pc.index_in(pa.array(key), value_set=pa.array(wanted))
    rows = np.flatnonzero(index.is_valid().to_numpy(zero_copy_only=False))
    if not len(rows):
        return True
    row_of_wanted = np.full(len(wanted), -1, dtype=np.int64)
    row_of_wanted[index.take(pa.array(rows)).to_numpy()] = rows
    # index_in names the first of equal wanted keys only: spread each match to them all.
    unique, first, inverse = np.unique(wanted, return_index=True, return_inverse=True)
    del unique
    candidate = row_of_wanted[first][inverse]
    matched = candidate >= 0
    child, found = children[matched], candidate[matched]
    for own, theirs in (("TraceId", "TraceId"), ("SpanId", "ParentSpanId")):
        mine = take_rows(spans.column(own), found)
        expected = take_rows(spans.column(theirs), child)
        if not pc.all(pc.equal(mine, expected)).as_py():
            return False
    parent[child] = found
    return True


def take_rows(column: pa.ChunkedArray[Any], rows: Int64s) -> pa.Array[Any]:
    """``column[rows]``, taken from the chunks that hold them only (Arrow's take on a
    chunked array would first join every chunk: a copy of the whole column)."""
    bounds = np.cumsum([0] + [len(chunk) for chunk in column.chunks])
    chunk_of = np.searchsorted(bounds, rows, side="right") - 1
    order = np.argsort(chunk_of, kind="stable")
    by_chunk, chunks = rows[order], chunk_of[order]
    cuts = np.flatnonzero(np.diff(chunks)) + 1
    pieces: list[pa.Array[Any]] = [
        column.chunks[int(chunks[lo])].take(by_chunk[lo:hi] - bounds[chunks[lo]])
        for lo, hi in zip(np.r_[0, cuts], np.r_[cuts, len(rows)], strict=True)
        if hi > lo
    ]
    gathered: pa.Array[Any] = pa.concat_arrays(pieces) if pieces else pa.array([], column.type)
    inverse = np.empty_like(order)
    inverse[order] = np.arange(len(order))
    result: pa.Array[Any] = gathered.take(inverse)
    return result
