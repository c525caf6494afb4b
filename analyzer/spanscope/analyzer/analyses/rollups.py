"""Rollups: everything ``analyze`` reports, in tables of one row per request, group or
template instead of one row per span.

``spanscope convert`` computes them from the span table with the functions the
general path runs (:func:`build_rollups`) and stores them in the prepared file
(:mod:`spanscope.analyzer.prepared_format`); ``analyze`` then reads ~0.5 M short rows
instead of decoding 1.6 M spans (:mod:`.rollup_report`).  None of them depends on an
option: ``--group-by`` picks one of three stored endpoint keys, ``--min-repeats``
selects among stored groups (:mod:`.nplusone_rollup`), ``--apdex-ms`` and the
acknowledgments apply to the request table and the findings as usual.

A file with HTTP client spans is analysed from its span-level prepared columns
instead: the HTTP N+1 analysis has no rollup.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pyarrow as pa
from spanscope.analyzer.analyses.duplicates import DuplicateGroups, duplicate_groups
from spanscope.analyzer.analyses.grouping import DEFAULT_GROUP_BY, GROUP_BY_CHOICES, regroup
from spanscope.analyzer.analyses.nplusone_rollup import NPlusOneRollup, n_plus_one_rollup
from spanscope.analyzer.analyses.slow_queries import StatementTimes, statement_times
from spanscope.analyzer.analyses.statement_keys import StatementKeys, StatementSites
from spanscope.analyzer.analyses.statements import DbSpans
from spanscope.analyzer.engine import Int64s, to_numpy
from spanscope.analyzer.requests import CHILD_LAYERS, Prepared

#: The request table's ``endpoint`` keyed each way ``--group-by`` allows, stored as
#: ``endpoint_<grouping>`` columns beside it.
ENDPOINT_PREFIX: Final = "endpoint_"
#: The span-view columns :func:`~.grouping.regroup` keys endpoints by.
GROUPING_COLUMNS: Final = ("SpanName", "http_method", "http_target", "SpanAttributes")
#: The request-table columns the analyses read (besides ``endpoint`` and
#: ``request_id``, the row number); ``queries`` is ``db_calls`` again.
REQUEST_COLUMNS: Final = (
    "TraceId",
    "duration_ms",
    "error",
    "db_ms",
    "app_ms",
    *(f"{layer}_{what}" for layer in CHILD_LAYERS for what in ("self_ms", "calls")),
)


@dataclass(frozen=True)
class Rollups:
    requests: pa.Table  # REQUEST_COLUMNS plus an endpoint_<grouping> per grouping
    templates: pa.Table  # template_id, template
    sites: pa.Table  # SITE_COLUMNS, row i site i
    times: StatementTimes
    n_plus_one: NPlusOneRollup
    duplicates: DuplicateGroups

    def tables(self) -> dict[str, pa.Table]:
        """Every table by its stored name (no underscores: see prepared_format)."""
        return {
            "requests": self.requests,
            "templates": self.templates,
            "sites": self.sites,
            "stats": self.times.stats,
            "spent": self.times.spent,
            "groups": self.n_plus_one.groups,
            "groupsites": self.n_plus_one.group_sites,
            "slices": self.n_plus_one.slices,
            "slicenames": self.n_plus_one.slice_names,
            "slicesites": self.n_plus_one.slice_sites,
            "duplicates": self.duplicates.groups,
            "duplicatesites": self.duplicates.sites,
        }

    @classmethod
    def from_tables(cls, tables: dict[str, pa.Table]) -> Rollups:
        """The inverse of :meth:`tables`."""
        return cls(
            requests=tables["requests"],
            templates=tables["templates"],
            sites=tables["sites"],
            times=StatementTimes(tables["stats"], tables["spent"]),
            n_plus_one=NPlusOneRollup(
                tables["groups"],
                tables["groupsites"],
                tables["slices"],
                tables["slicenames"],
                tables["slicesites"],
            ),
            duplicates=DuplicateGroups(tables["duplicates"], tables["duplicatesites"]),
        )

    def requests_by(self, group_by: str) -> pa.Table:
        """The request table as the analyses read it, endpoints keyed by ``group_by``:
        ``request_id``, ``endpoint``, ``queries`` and :data:`REQUEST_COLUMNS`."""
        stored = self.requests
        count = stored.num_rows
        columns = {
            "request_id": pa.array(np.arange(count, dtype=np.int64)),
            "endpoint": stored.column(ENDPOINT_PREFIX + group_by),
            "queries": stored.column("db_calls"),
            **{name: stored.column(name) for name in REQUEST_COLUMNS},
        }
        return pa.table(columns)


def stored_request_columns(group_by: str) -> tuple[str, ...]:
    """The stored request columns :meth:`Rollups.requests_by` reads for ``group_by``."""
    return (*REQUEST_COLUMNS, ENDPOINT_PREFIX + group_by)


def _servers_only(prepared: Prepared) -> Prepared:
    """``prepared`` with a span view of its Server spans alone, which is all
    :func:`~.grouping.regroup` reads: filtered chunk by chunk, where picking rows out of
    the full attribute maps would first copy the whole column into one."""
    tree = prepared.tree
    mask: Any = pa.array(tree.is_server)  # the stubs type filters as booleans only
    view = tree.view.select(list(GROUPING_COLUMNS)).filter(mask)
    servers = np.flatnonzero(tree.is_server)
    only = dataclasses.replace(
        tree, view=view, is_server=np.ones(len(servers), np.bool_), request=tree.request[servers]
    )
    return dataclasses.replace(prepared, tree=only)


def build_rollups(
    prepared: Prepared,
    statements: DbSpans,
    keys: StatementKeys,
    sites: StatementSites,
    *,
    times: StatementTimes | None = None,
    groupings: tuple[str, ...] = GROUP_BY_CHOICES,
) -> Rollups:
    """The rollups of a prepared span table (its ``statements``, their group ``keys`` and
    ``sites``); ``times``, when given, stands for the statement times of these spans
    (:func:`statement_spans` of them, summarized with others).  The requests' endpoints
    are keyed each of the ``groupings`` ways (a stored file keeps them all)."""
    tree = prepared.tree
    requests = prepared.requests.select(list(REQUEST_COLUMNS))
    # The request table is keyed by route already; the others need the Server spans.
    servers = _servers_only(prepared) if set(groupings) - {DEFAULT_GROUP_BY} else prepared
    for name in groupings:
        endpoint = regroup(servers, name).requests.column("endpoint")
        requests = requests.append_column(ENDPOINT_PREFIX + name, endpoint)
    if times is None:
        request, duration = statement_spans(prepared, statements)
        times = statement_times(statements.template, request, duration, keys.request_template)
    return Rollups(
        requests=requests,
        templates=statements.template_table(),
        sites=sites.sites,
        times=times,
        n_plus_one=n_plus_one_rollup(tree, statements, keys, sites),
        duplicates=duplicate_groups(tree, statements, keys, sites),
    )


def statement_spans(prepared: Prepared, statements: DbSpans) -> tuple[Int64s, Int64s]:
    """The request and the duration (ns) of each statement span."""
    tree = prepared.tree
    duration: Int64s = to_numpy(tree.view.column("Duration"), np.int64)[statements.rows]
    return tree.request[statements.rows], duration
