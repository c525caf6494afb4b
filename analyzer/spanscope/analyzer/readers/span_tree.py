"""Checks that need every span at once: parent links that loop, parents that are missing,
children that outlive their parent.

Each span is joined to its parent within the trace with one hash lookup (no Python loop
per span).  Then:

* a **cycle** (a span that is its own parent, or its own ancestor) would make every
  ancestor walk loop; it is broken by turning one span of the cycle -- the earliest, the
  most plausible root -- into a root, and reported (fatal with ``strict``: the dump is
  corrupt);
* an **orphan** (its parent is not in the dump) is kept as the root of what it holds, and
  noted.  Server and Consumer spans are not counted: their parent is normally in the
  calling process, which this dump need not contain;
* a child that starts before or ends after its parent is kept and noted (clock skew
  between processes, or work left running after the response).

Each kind is reported once with its count, an example span and the file it came from.
The parent rows found here are handed on with the table (:class:`CheckedTree`), so the
analyses never resolve them a second time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as _compute
from spanscope.analyzer.diagnostics import Diagnostics
from spanscope.analyzer.engine import parent_rows, table_of, value_codes
from spanscope.analyzer.errors import UnreadableInputError

# The stubs' overloads reject valid broadcasting calls such as `equal(array, "x")`.
pc: Any = _compute

_REMOTE_PARENT_KINDS: Final = ("Server", "Consumer")
_CYCLE_HINT: Final = (
    "parent ids that loop are corrupt data; the earliest span of each loop was made a root"
)


@dataclass(frozen=True)
class CheckedTree:
    """A span table with its parent links checked, and the row of each span's parent."""

    table: pa.Table
    # Per row, the row of its parent in ``table`` (-1: a root or an orphan), exactly
    # what :func:`spanscope.analyzer.engine.parent_rows` returns on ``table``.
    parent: npt.NDArray[np.int64]


@dataclass
class _Found:
    count: int
    where: str
    example: tuple[str, str]  # (TraceId, SpanId)


#: Per kind: what the spans do, what spanscope did, and the hint.
_NOTES: Final = {
    "self-parent": ("name themselves as their parent", "made roots", _CYCLE_HINT),
    "parent-cycle": (
        "are their own ancestor through a loop of parent ids",
        "made roots",
        _CYCLE_HINT,
    ),
    "orphan-span": (
        "whose parent is not in the input",
        "kept, each heads its own subtree",
        "include every file of the run (rotated files too), or ignore this if spans "
        "were sampled or lost",
    ),
    "child-outside-parent": (
        "start before or end after their parent",
        "kept",
        "usually clock skew between processes or work that outlives the request; "
        "their time is clipped to the request in breakdowns",
    ),
}


def _example(trace: str, span: str) -> str:
    return f"span {span} of trace {trace}"


class TreeNotes:
    """Span-tree problems counted over one or more checks -- the trace partitions of
    one input -- and noted once per kind, with the total and the first example."""

    def __init__(self) -> None:
        self._found: dict[str, _Found] = {}

    def add(self, kind: str, count: int, where: str, example: tuple[str, str]) -> None:
        """``count`` spans of ``kind``; ``example`` (TraceId, SpanId) is the smallest of
        them, read from ``where``.  The smallest example over all checks is kept, so the
        note does not depend on how the input was partitioned."""
        found = self._found.get(kind)
        if found is None:
            self._found[kind] = _Found(count, where, example)
            return
        found.count += count
        if example < found.example:
            found.where, found.example = where, example

    def extend(self, other: TreeNotes) -> None:
        """Count ``other``'s problems here too."""
        for kind, found in other._found.items():
            self.add(kind, found.count, found.where, found.example)

    def note(self, diagnostics: Diagnostics) -> None:
        # In a fixed order, whatever order the checks found them in.
        for kind, (what, done, hint) in _NOTES.items():
            found = self._found.get(kind)
            if found is None:
                continue
            trace, span = found.example
            message = f"{found.count:,} span(s) {what}, e.g. {_example(trace, span)}; {done}"
            diagnostics.note(found.where, 0, kind, message, hint)
        self._found.clear()


def check_span_tree(
    table: pa.Table,
    diagnostics: Diagnostics,
    sources: Sequence[str] = (),
    source_of_row: npt.NDArray[np.int32] | None = None,
    parent: npt.NDArray[np.int64] | None = None,
    *,
    has_parent: npt.NDArray[np.bool_] | None = None,
    notes: TreeNotes | None = None,
) -> CheckedTree:
    """``table`` (unique (TraceId, SpanId)) with parent cycles broken, and its parent
    rows; problems reported.

    ``sources[source_of_row[i]]`` names the file row ``i`` came from; ``parent``, when
    given, holds the parent rows already found (they are not looked up again), and
    ``has_parent`` which spans name a parent (read from ``ParentSpanId`` otherwise).
    With ``notes``, problems are counted there for the caller to note once (a cycle
    still raises at once with ``diagnostics.strict``).
    """
    if table.num_rows == 0:
        return CheckedTree(table, np.zeros(0, dtype=np.int64))
    tree = _Tree(table, parent, has_parent)
    counted = TreeNotes() if notes is None else notes

    def where(row: int) -> str:
        if source_of_row is None or not len(sources):
            return "<table>"
        return sources[int(source_of_row[row])]

    def found(kind: str, rows: npt.NDArray[np.int64]) -> None:
        if len(rows):
            row = tree.smallest(rows)
            counted.add(kind, len(rows), where(row), (tree.trace_id(row), tree.span_id(row)))

    cycles = tree.break_cycles()
    for kind, rows in (("self-parent", cycles[0]), ("parent-cycle", cycles[1])):
        if len(rows) and diagnostics.strict:
            what, done, hint = _NOTES[kind]
            row = tree.smallest(rows)
            example = _example(tree.trace_id(row), tree.span_id(row))
            message = f"{len(rows):,} span(s) {what}, e.g. {example}; {done}"
            raise UnreadableInputError(f"{where(row)}: {message}", hint)
        found(kind, rows)
    found("orphan-span", tree.orphans())
    found("child-outside-parent", tree.outside_parent())
    if notes is None:
        counted.note(diagnostics)
    if not (len(cycles[0]) or len(cycles[1])):
        return CheckedTree(table, tree.parent)
    index = table.schema.get_field_index("ParentSpanId")
    fixed = table.set_column(index, table.schema.field(index), tree.parent_id_column())
    return CheckedTree(fixed, tree.parent)


class _Tree:
    def __init__(
        self,
        table: pa.Table,
        parent: npt.NDArray[np.int64] | None,
        has_parent: npt.NDArray[np.bool_] | None,
    ) -> None:
        self.table = table
        self.trace_ids = table.column("TraceId")
        self.span_ids = table.column("SpanId")
        parent_ids = table.column("ParentSpanId")
        if has_parent is None:
            has_parent = pc.not_equal(parent_ids, "").to_numpy(zero_copy_only=False)
        self.has_parent = has_parent
        if parent is None:
            # The analyses' own parent join (integer keys from the hex ids, verified):
            # its result is handed on to them, so parents are resolved once.
            parent = parent_rows(self.trace_ids, self.span_ids, parent_ids)
        self.parent = parent.astype(np.int64)  # a copy: cycles are broken in it
        self.parent[~self.has_parent] = -1
        self.start = pc.cast(table.column("Timestamp"), pa.int64()).to_numpy()
        self.end = self.start + table.column("Duration").to_numpy()
        self.made_root = np.zeros(table.num_rows, dtype=np.bool_)

    def break_cycles(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """(self-parent rows, rows on longer loops) -- each made a root, one per loop."""
        rows = np.arange(len(self.parent))
        self_parent = np.flatnonzero(self.parent == rows)
        self.parent[self_parent] = -1
        self.made_root[self_parent] = True
        looped = []
        for loop in _loops(self.parent):
            # The earliest span (then the smallest id) becomes the root.
            root = min(loop, key=lambda row: (int(self.start[row]), self.span_id(row)))
            self.parent[root] = -1
            self.made_root[root] = True
            looped.append(root)
        return self_parent.astype(np.int64), np.array(sorted(looped), dtype=np.int64)

    def smallest(self, rows: npt.NDArray[np.int64]) -> int:
        """The row among ``rows`` with the smallest (TraceId, SpanId): an example that
        does not depend on the order the spans were read in."""
        picked: Any = pa.array(rows)  # the stubs type it as booleans
        ids = table_of({"t": self.trace_ids.take(picked), "s": self.span_ids.take(picked)})
        order = pc.sort_indices(ids, sort_keys=[("t", "ascending"), ("s", "ascending")])
        return int(rows[order[0].as_py()])

    def span_id(self, row: int) -> str:
        return str(self.span_ids[row])

    def trace_id(self, row: int) -> str:
        return str(self.trace_ids[row])

    def orphans(self) -> npt.NDArray[np.int64]:
        remote_ok = value_codes(self.table.column("SpanKind"), _REMOTE_PARENT_KINDS) < len(
            _REMOTE_PARENT_KINDS
        )
        missing = self.has_parent & (self.parent < 0) & ~self.made_root
        return np.flatnonzero(missing & ~remote_ok).astype(np.int64)

    def outside_parent(self) -> npt.NDArray[np.int64]:
        child = np.flatnonzero(self.parent >= 0)
        parent = self.parent[child]
        bad = (self.start[child] < self.start[parent]) | (self.end[child] > self.end[parent])
        result: npt.NDArray[np.int64] = child[bad].astype(np.int64)
        return result

    def parent_id_column(self) -> pa.Array[Any]:
        result: pa.Array[Any] = pc.if_else(
            pa.array(self.made_root), "", self.table.column("ParentSpanId")
        )
        return result


def _loops(parent: npt.NDArray[np.int64]) -> list[list[int]]:
    """Every loop of parent links (self-links already removed), each as its rows.

    Pointer doubling finds the few rows whose ancestor chain never ends without a Python
    step per span: after k rounds ``jump`` is the 2**k-th ancestor, and a chain that
    ends does so within len(parent) steps.  Only those rows are walked one by one.
    """
    jump = parent.copy()
    active = np.flatnonzero(jump >= 0)
    rounds = max(1, len(parent).bit_length())
    for _ in range(rounds + 1):
        if not len(active):
            return []
        jump[active] = jump[jump[active]]
        active = active[jump[active] >= 0]
    loops: list[list[int]] = []
    state: dict[int, int] = {}  # row -> walk number; rows finished are marked -1
    for walk, row in enumerate(int(r) for r in active):
        path: list[int] = []
        while row >= 0 and row not in state:
            state[row] = walk
            path.append(row)
            row = int(parent[row])
        if row >= 0 and state[row] == walk:
            loops.append(path[path.index(row) :])
        for visited in path:
            state[visited] = -1
    return loops
