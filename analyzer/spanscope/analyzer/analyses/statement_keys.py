"""Group keys of the DB statement spans that the N+1 and duplicate analyses count.

Each is one dense id per distinct tuple (:func:`~spanscope.analyzer.engine.dense_key`),
aligned with :attr:`DbSpans.rows <spanscope.analyzer.analyses.statements.DbSpans.rows>`:

``parent_template``   (parent span, template): the parent-level N+1 groups
``request_template``  (request, template): the request-level N+1 groups
``duplicate``         (request, template, parameters) for spans whose parameters are
                      known (:func:`parameter_identity`), -1 for the others

and, optionally, the *site* of each span (:class:`StatementSites`): its code location
and ORM relation, so that findings count sites by integer key.

They do not depend on ``min_repeats``, so a prepared Parquet file stores them and the
analyses only count them (:func:`~spanscope.analyzer.analyses.nplusone.repeat_groups_of`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as _compute
from spanscope.analyzer.analyses.statements import DbSpans
from spanscope.analyzer.engine import Int64s, dense_key, first_of_each, table_of, to_numpy
from spanscope.analyzer.requests import Prepared

pc: Any = _compute


#: The columns naming where a statement ran (findings report the most common).
SITE_COLUMNS: Final = (
    "code_filepath",
    "code_lineno",
    "code_function",
    "orm_relation",
    "orm_relation_kind",
    "orm_lookup",
)


@dataclass(frozen=True)
class StatementSites:
    site: Int64s  # per statement span, the id of its SITE_COLUMNS tuple
    sites: pa.Table  # SITE_COLUMNS, row ``i`` the values of site ``i``


@dataclass(frozen=True)
class StatementKeys:
    parent_template: Int64s
    request_template: Int64s
    duplicate: Int64s
    sites: StatementSites | None = None


def statement_sites(prepared: Prepared, statements: DbSpans) -> StatementSites:
    """The site of every statement span (see :class:`StatementSites`)."""
    rows: Any = pa.array(statements.rows)  # the stubs type it as booleans
    located = prepared.tree.view.select(list(SITE_COLUMNS)).take(rows)
    codes = [_codes(located.column(name)) for name in SITE_COLUMNS]
    if not len(statements):
        return StatementSites(np.zeros(0, dtype=np.int64), located)
    site = dense_key(*codes)
    count = int(site.max()) + 1
    firsts: Any = pa.array(first_of_each(site, count))  # the stubs type it as booleans
    return StatementSites(site, located.take(firsts))


def site_counts(gid: Int64s, site: Int64s, sites: int) -> pa.Table:
    """``(gid, site, c)``: how many members of each group (``gid``, aligned with the
    members' ``site``) ran at each of ``sites`` sites, sorted by (gid, site)."""
    count = max(sites, 1)
    pair, c = np.unique(gid * count + site, return_counts=True)
    return table_of({"gid": pair // count, "site": pair % count, "c": c.astype(np.int64)})


def _codes(column: Any) -> Int64s:
    """One non-negative code per distinct value (null included)."""
    encoded = pc.dictionary_encode(column.combine_chunks())
    codes: Int64s = to_numpy(pc.fill_null(encoded.indices, len(encoded.dictionary)), np.int64)
    return codes


def statement_keys(prepared: Prepared, statements: DbSpans) -> StatementKeys:
    """The group keys of ``statements`` (see the module docstring)."""
    tree = prepared.tree
    parent = tree.parent[statements.rows]
    request = tree.request[statements.rows]
    template = statements.template
    if not len(statements):
        empty = np.zeros(0, dtype=np.int64)
        return StatementKeys(empty, empty, empty)
    identity = parameter_identity(prepared, statements)
    known = np.flatnonzero(identity >= 0)
    duplicate = np.full(len(statements), -1, dtype=np.int64)
    if known.size:
        duplicate[known] = dense_key(request[known], template[known], identity[known])
    return StatementKeys(
        parent_template=dense_key(parent, template),
        request_template=dense_key(request, template),
        duplicate=duplicate,
    )


def parameter_identity(prepared: Prepared, statements: DbSpans) -> Int64s:
    """Per DB span of ``statements``, an id equal for spans known to share parameters;
    -1: unknown."""
    hashes = pc.take(prepared.tree.view.column("db_params_hash"), pa.array(statements.rows))
    if isinstance(hashes, pa.ChunkedArray):
        hashes = hashes.combine_chunks()
    encoded = pc.dictionary_encode(hashes)
    hash_id = to_numpy(pc.fill_null(encoded.indices, -1), np.int64)
    inline = ~statements.parameterized[statements.statement]
    # Hash ids first, then inline statement texts after them: never the same id.
    by_text = np.where(inline, statements.statement + len(encoded.dictionary), -1)
    result: Int64s = np.where(hash_id >= 0, hash_id, by_text)
    return result
