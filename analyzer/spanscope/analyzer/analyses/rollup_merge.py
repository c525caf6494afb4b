"""The rollups of several trace partitions of one input merged into the rollups of the
whole (:mod:`.partitioned`).

Every rollup row belongs to one request, and a request to one trace, so rows never
need combining across partitions: they are concatenated, with their ids moved into one
id space --

* request ids, group ids, slice ids, slice keys and statement indices are shifted
  past the previous partitions' (a partition's ids are dense from 0);
* template ids and site ids are mapped to one id per distinct template text and per
  distinct site, numbered in order of first appearance over the partitions.

The one summary that is not a sum of rows -- each template's p95 statement time -- is
computed once at the end from every statement span's (template, request, duration),
24 bytes per DB span, so it is exact.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pyarrow as pa
from spanscope.analyzer.analyses.nplusone_http import HttpGroups
from spanscope.analyzer.analyses.rollups import Rollups
from spanscope.analyzer.analyses.slow_queries import statement_times
from spanscope.analyzer.analyses.statement_keys import SITE_COLUMNS
from spanscope.analyzer.engine import Int64s, to_numpy

_EMPTY: Int64s = np.zeros(0, dtype=np.int64)
#: What :func:`~.rollups.build_rollups` is given for a partition's statement times:
#: they are summarized once, over every partition (see the module docstring).
NO_TIMES = statement_times(_EMPTY, _EMPTY, _EMPTY)


def _moved(
    table: pa.Table, shifts: Mapping[str, int], maps: Mapping[str, Int64s] | None = None
) -> pa.Table:
    """``table`` with ``shifts[name]`` added to column ``name`` and ids looked up in
    ``maps[name]``."""
    moves: list[tuple[str, Callable[[Int64s], Int64s]]] = [
        *((name, lambda values, by=by: values + by) for name, by in shifts.items()),
        *((name, lambda values, ids=ids: ids[values]) for name, ids in (maps or {}).items()),
    ]
    for name, move in moves:
        index = table.schema.get_field_index(name)
        field = table.schema.field(index)
        moved = move(to_numpy(table.column(index), np.int64))
        table = table.set_column(index, field, pa.array(moved, field.type))
    return table


class RollupMerger:
    """Rollups of trace partitions, added one by one, merged by :meth:`merged`."""

    def __init__(self) -> None:
        self._template_ids: dict[str, int] = {}
        self._site_ids: dict[tuple[Any, ...], int] = {}
        self._sites: list[pa.Table] = []
        self._parts: dict[str, list[pa.Table]] = {}
        self._durations: list[tuple[Int64s, Int64s, Int64s]] = []
        self._http: list[HttpGroups] = []
        # Ids used so far, i.e. the shift of the next partition's.
        self._requests = 0
        self._statements = 0
        self._groups = 0
        self._slices = 0
        self._keys = 0
        self._duplicates = 0
        self._http_groups = 0

    def add(
        self,
        rollups: Rollups,
        durations: tuple[Int64s, Int64s, Int64s],
        http: HttpGroups | None = None,
    ) -> None:
        """One partition's ``rollups`` (built with :data:`NO_TIMES`), the (template,
        request, duration) of each of its statement spans, and its HTTP N+1 groups."""
        template = self._template_map(rollups.templates)
        site = self._site_map(rollups.sites)
        requests, statements = self._requests, self._statements
        n_plus_one, duplicates = rollups.n_plus_one, rollups.duplicates
        moved = {
            "requests": rollups.requests,
            "groups": _moved(
                n_plus_one.groups, {"request_id": requests}, {"template_id": template}
            ),
            "groupsites": _moved(n_plus_one.group_sites, {"gid": self._groups}, {"site": site}),
            "slices": _moved(
                n_plus_one.slices,
                {"key": self._keys, "request_id": requests, "first": statements},
                {"template_id": template},
            ),
            "slicenames": _moved(n_plus_one.slice_names, {"slice": self._slices}),
            "slicesites": _moved(n_plus_one.slice_sites, {"slice": self._slices}, {"site": site}),
            "duplicates": _moved(
                duplicates.groups,
                {"gid": self._duplicates, "request_id": requests},
                {"template_id": template},
            ),
            "duplicatesites": _moved(duplicates.sites, {"gid": self._duplicates}, {"site": site}),
        }
        for name, table in moved.items():
            self._parts.setdefault(name, []).append(table)
        template_of, request_of, duration = durations
        self._durations.append((template[template_of], request_of + requests, duration))
        if http is not None:
            self._http.append(
                HttpGroups(
                    _moved(http.groups, {"gid": self._http_groups, "request_id": requests}),
                    _moved(http.spread, {"gid": self._http_groups}),
                )
            )
            self._http_groups += http.groups.num_rows
        self._requests += rollups.requests.num_rows
        self._statements += len(duration)
        self._groups += n_plus_one.groups.num_rows
        self._slices += n_plus_one.slices.num_rows
        keys = to_numpy(n_plus_one.slices.column("key"), np.int64)
        self._keys += int(keys.max()) + 1 if keys.size else 0
        self._duplicates += duplicates.groups.num_rows

    def _template_map(self, templates: pa.Table) -> Int64s:
        ids = self._template_ids
        texts = [str(text) for text in templates.column("template").to_pylist()]
        return np.array([ids.setdefault(text, len(ids)) for text in texts], dtype=np.int64)

    def _site_map(self, sites: pa.Table) -> Int64s:
        ids = self._site_ids
        rows = zip(*(sites.column(name).to_pylist() for name in SITE_COLUMNS), strict=True)
        before = len(ids)
        mapped = np.array([ids.setdefault(row, len(ids)) for row in rows], dtype=np.int64)
        new: Any = pa.array(np.flatnonzero(mapped >= before))
        self._sites.append(sites.select(list(SITE_COLUMNS)).take(new))
        return mapped

    def merged(self) -> tuple[Rollups, HttpGroups | None]:
        """The rollups of every partition added, and their HTTP N+1 groups (None: none)."""
        if not self._parts:
            raise ValueError("no partition was added")
        tables = {name: pa.concat_tables(parts) for name, parts in self._parts.items()}
        template = np.concatenate([part[0] for part in self._durations])
        request = np.concatenate([part[1] for part in self._durations])
        duration = np.concatenate([part[2] for part in self._durations])
        self._durations.clear()
        texts = list(self._template_ids)
        times = statement_times(template, request, duration)
        templates = pa.table(
            {
                "template_id": pa.array(np.arange(len(texts)), pa.int64()),
                "template": pa.array(texts, pa.string()),
            }
        )
        extra = {"templates": templates, "sites": pa.concat_tables(self._sites)}
        rollups = Rollups.from_tables(
            {**tables, **extra, "stats": times.stats, "spent": times.spent}
        )
        http = None
        if self._http:
            http = HttpGroups(
                pa.concat_tables([found.groups for found in self._http]),
                pa.concat_tables([found.spread for found in self._http]),
            )
        return rollups, http
