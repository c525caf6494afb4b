"""The SQL N+1 groups of every ``min_repeats`` at once, in tables of a few rows per group.

``spanscope convert`` computes them (:func:`n_plus_one_rollup`); ``analyze`` on the
file only selects among them (:func:`groups_at`) and gets the very groups the span
table gives (:func:`~spanscope.analyzer.analyses.nplusone.n_plus_one_from`):

* a *parent-level* group is every (parent span, template) key with at least
  ``min_repeats`` members: each key of two members or more is stored once, with its
  size and wasted time, in order of first appearance (the group ids' order);
* a *request-level* group is what is left over: the members of a (request,
  template) key whose parent-level key has fewer than ``min_repeats`` members, when
  at least ``min_repeats`` of them are left.  Which members are left depends on
  ``min_repeats``, so each such key is stored in *slices*: its members with equal
  parent-level group size ``below``, sorted by it, each slice with its count,
  summed duration, first member and the union of the intervals of its members *and
  the slices before it*.  Leftovers for ``min_repeats`` are the slices with
  ``below < min_repeats`` -- a prefix -- so size, union and mean add up exactly.
  Keys whose members share one parent never leave a request-level group (their
  leftovers are one parent-level key smaller than ``min_repeats``): only keys
  spread over two parents or more are sliced.

The parents' names (voted on for request-level findings) and the code sites are
counted per group and per slice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as _compute
from spanscope.analyzer.analyses.nplusone import LEVELS, repeat_groups_of
from spanscope.analyzer.analyses.statement_keys import StatementKeys, StatementSites, site_counts
from spanscope.analyzer.analyses.statements import DbSpans
from spanscope.analyzer.engine import (
    Int64s,
    covered_per_group,
    first_of_each,
    group_summary,
    table_of,
    to_numpy,
)
from spanscope.analyzer.requests import SpanTree

pc: Any = _compute

#: Parent-level keys smaller than this never make a group (min_repeats >= 2).
_SMALLEST_GROUP: Final = 2


@dataclass(frozen=True)
class NPlusOneRollup:
    """What :func:`groups_at` selects from (see the module docstring)."""

    groups: pa.Table  # request_id, template_id, parent_name, n, wasted_ns
    group_sites: pa.Table  # gid (row of ``groups``), site, c
    slices: pa.Table  # key, request_id, template_id, below, n, duration_ns, covered_ns, first
    slice_names: pa.Table  # slice, parent_name, c
    slice_sites: pa.Table  # slice, site, c


@dataclass(frozen=True)
class SelectedGroups:
    """The N+1 groups of one ``min_repeats``, as
    :func:`~spanscope.analyzer.analyses.nplusone.n_plus_one_findings` reads them."""

    groups: pa.Table  # gid, level, request_id, template_id, parent_name, n, wasted_ns
    spread: pa.Table  # gid, parent_name, c
    sites: pa.Table  # gid, site, c


def n_plus_one_rollup(
    tree: SpanTree, statements: DbSpans, keys: StatementKeys, sites: StatementSites
) -> NPlusOneRollup:
    """The rollup of ``statements`` (their group ``keys`` and ``sites``)."""
    names = tree.view.column("SpanName")
    members, gid = repeat_groups_of(keys.parent_template, _SMALLEST_GROUP)
    rows = statements.rows[members]
    summary = group_summary(gid, tree.start[rows], tree.end[rows])
    first = members[summary.first]
    groups = table_of(
        {
            "request_id": tree.request[statements.rows[first]],
            "template_id": statements.template[first],
            "parent_name": _names(names, tree.parent[statements.rows[first]]),
            "n": summary.size,
            "wasted_ns": summary.wasted_ns,
        }
    )
    group_sites = site_counts(gid, sites.site[members], sites.sites.num_rows)
    return NPlusOneRollup(groups, group_sites, *_slices(tree, statements, keys, sites))


def _slices(
    tree: SpanTree, statements: DbSpans, keys: StatementKeys, sites: StatementSites
) -> tuple[pa.Table, pa.Table, pa.Table]:
    parent_key, request_key = keys.parent_template, keys.request_template
    if not len(parent_key):
        return _no_slices(sites)
    sizes = np.bincount(parent_key)
    below = sizes[parent_key]  # each member's parent-level group size
    # A parent span belongs to one request: each parent-level key has one request key,
    # so counting parent-level keys per request key counts its distinct parents.
    parents = np.bincount(request_key[first_of_each(parent_key, len(sizes))])
    sliced = np.flatnonzero(parents[request_key] >= _SMALLEST_GROUP)
    if not sliced.size:
        return _no_slices(sites)
    # Sorted by (key, below); lexsort is stable, so members keep their order within.
    sliced = sliced[np.lexsort((below[sliced], request_key[sliced]))]
    key, size = request_key[sliced], below[sliced]
    new = np.r_[True, (key[1:] != key[:-1]) | (size[1:] != size[:-1])]
    heads = np.flatnonzero(new)
    slice_of = np.cumsum(new) - 1
    count = len(heads)
    rows = statements.rows[sliced]
    start, end = tree.start[rows], tree.end[rows]
    # The prefix unions: each member is repeated into its own slice and every later
    # slice of its key, then each slice's union is taken at once.
    key_of_slice = key[heads]
    key_new = np.r_[True, key_of_slice[1:] != key_of_slice[:-1]]
    key_heads = np.flatnonzero(key_new)
    key_last = np.r_[key_heads[1:], count] - 1
    last = key_last[np.cumsum(key_new) - 1]
    repeats = last[slice_of] - slice_of + 1
    member = np.repeat(np.arange(len(sliced)), repeats)
    step = np.arange(len(member)) - np.repeat(np.cumsum(repeats) - repeats, repeats)
    prefix = slice_of[member] + step
    covered = covered_per_group(prefix, start[member], end[member], count)
    slices = table_of(
        {
            "key": key_of_slice,
            "request_id": tree.request[rows[heads]],
            "template_id": statements.template[sliced[heads]],
            "below": size[heads],
            "n": np.diff(np.r_[heads, len(sliced)]).astype(np.int64),
            "duration_ns": np.add.reduceat(end - start, heads),
            "covered_ns": covered,
            "first": np.minimum.reduceat(sliced, heads),
        }
    )
    names = pc.dictionary_encode(_names(tree.view.column("SpanName"), tree.parent[rows]))
    name_id = to_numpy(pc.fill_null(names.indices, len(names.dictionary)), np.int64)
    dictionary = pa.concat_arrays([names.dictionary, pa.nulls(1, pa.string())])
    width = len(dictionary)
    name_pair, c = np.unique(slice_of * width + name_id, return_counts=True)
    slice_names = table_of(
        {
            "slice": name_pair // width,
            "parent_name": dictionary.take(pa.array(name_pair % width)),
            "c": c.astype(np.int64),
        }
    )
    located = site_counts(slice_of, sites.site[sliced], sites.sites.num_rows)
    return slices, slice_names, located.rename_columns(["slice", "site", "c"])


def _no_slices(sites: StatementSites) -> tuple[pa.Table, pa.Table, pa.Table]:
    empty = np.zeros(0, dtype=np.int64)
    slices = table_of(
        {
            name: empty
            for name in (
                "key",
                "request_id",
                "template_id",
                "below",
                "n",
                "duration_ns",
                "covered_ns",
                "first",
            )
        }
    )
    names = table_of({"slice": empty, "parent_name": pa.array([], pa.string()), "c": empty})
    located = site_counts(empty, empty, sites.sites.num_rows)
    return slices, names, located.rename_columns(["slice", "site", "c"])


def _names(names: Any, rows: Int64s) -> Any:
    """The span names of ``rows`` as plain strings."""
    result = pc.cast(names.take(pa.array(rows)), pa.string())
    return result.combine_chunks() if isinstance(result, pa.ChunkedArray) else result


def _ints(table: pa.Table, name: str) -> Int64s:
    result: Int64s = to_numpy(table.column(name), np.int64)
    return result


def groups_at(rollup: NPlusOneRollup, min_repeats: int) -> SelectedGroups:
    """The N+1 groups at ``min_repeats``: parent-level groups first, then request-level
    ones, each in order of first appearance -- the group ids the span table gives."""
    stored = rollup.groups
    parent = np.flatnonzero(_ints(stored, "n") >= min_repeats)
    parent_gid = np.full(stored.num_rows, -1, dtype=np.int64)
    parent_gid[parent] = np.arange(len(parent))
    picked: Any = pa.array(parent)
    parent_groups = stored.take(picked)
    request = _request_groups(rollup.slices, min_repeats, offset=len(parent))
    gid_of_slice, request_groups = request
    levels = np.r_[np.zeros(len(parent), np.int64), np.ones(request_groups.num_rows, np.int64)]
    groups = table_of(
        {
            "gid": np.arange(len(levels), dtype=np.int64),
            "level": pa.array(np.array(LEVELS)[levels], pa.string()),
            "request_id": pa.concat_arrays(
                [_array(parent_groups, "request_id"), _array(request_groups, "request_id")]
            ),
            "template_id": pa.concat_arrays(
                [_array(parent_groups, "template_id"), _array(request_groups, "template_id")]
            ),
            "parent_name": pa.concat_arrays(
                [
                    _array(parent_groups, "parent_name").cast(pa.string()),
                    pa.nulls(request_groups.num_rows, pa.string()),
                ]
            ),
            "n": pa.concat_arrays([_array(parent_groups, "n"), _array(request_groups, "n")]),
            "wasted_ns": pa.concat_arrays(
                [_array(parent_groups, "wasted_ns"), _array(request_groups, "wasted_ns")]
            ),
        }
    )
    spread = _regrouped(rollup.slice_names, "slice", gid_of_slice, "parent_name")
    sites = pa.concat_tables(
        [
            _regrouped(rollup.group_sites, "gid", parent_gid, "site"),
            _regrouped(rollup.slice_sites, "slice", gid_of_slice, "site"),
        ]
    )
    return SelectedGroups(groups, spread, sites)


def _request_groups(slices: pa.Table, min_repeats: int, *, offset: int) -> tuple[Int64s, pa.Table]:
    """(the group id of each slice, -1 for none; the request-level groups in id order)."""
    gid_of_slice = np.full(slices.num_rows, -1, dtype=np.int64)
    taken = np.flatnonzero(_ints(slices, "below") < min_repeats)  # sorted by (key, below)
    empty = np.zeros(0, dtype=np.int64)
    none = table_of(
        {"request_id": empty, "template_id": empty, "n": empty, "wasted_ns": empty.astype(float)}
    )
    if not taken.size:
        return gid_of_slice, none
    key = _ints(slices, "key")[taken]
    heads = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    last = np.r_[heads[1:], len(taken)] - 1
    size = np.add.reduceat(_ints(slices, "n")[taken], heads)
    kept = np.flatnonzero(size >= min_repeats)
    if not kept.size:
        return gid_of_slice, none
    first = np.minimum.reduceat(_ints(slices, "first")[taken], heads)
    kept = kept[np.argsort(first[kept], kind="stable")]  # the order of first appearance
    duration = np.add.reduceat(_ints(slices, "duration_ns")[taken], heads)
    covered = _ints(slices, "covered_ns")[taken][last]
    # As group_summary computes it: the members' mean duration, a float.
    mean = duration[kept].astype(np.float64) / np.maximum(size[kept], 1)
    gid_of_key = np.full(len(heads), -1, dtype=np.int64)
    gid_of_key[kept] = offset + np.arange(len(kept))
    gid_of_slice[taken] = gid_of_key[np.cumsum(np.r_[True, key[1:] != key[:-1]]) - 1]
    groups = table_of(
        {
            "request_id": _ints(slices, "request_id")[taken][heads[kept]],
            "template_id": _ints(slices, "template_id")[taken][heads[kept]],
            "n": size[kept],
            "wasted_ns": np.maximum(covered[kept] - mean, 0.0),
        }
    )
    return gid_of_slice, groups


def _array(table: pa.Table, name: str) -> Any:
    return table.column(name).combine_chunks()


def _regrouped(counts: pa.Table, by: str, gid_of: Int64s, value: str) -> pa.Table:
    """``(gid, value, c)`` of the ``counts`` rows whose ``by`` id has a group."""
    gid = gid_of[_ints(counts, by)] if counts.num_rows else np.zeros(0, dtype=np.int64)
    keep: Any = pa.array(np.flatnonzero(gid >= 0))
    kept = counts.take(keep)
    return table_of(
        {
            "gid": gid[gid >= 0],
            value: kept.column(value).combine_chunks(),
            "c": kept.column("c").combine_chunks().cast(pa.int64()),
        }
    )
