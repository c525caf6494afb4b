"""The DB spans of the requests, each with its normalized statement template.

Shared by the N+1, duplicate and slow-statement analyses.  Each *distinct*
(db_system, statement) pair is normalized once: the statement column is
dictionary-encoded (one hash pass in Arrow), the pairs are made unique by a second
hash pass over integer codes, and only those go through :func:`spanscope.analyzer.sqlnorm.normalize_info`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as _compute
from spanscope.analyzer.engine import Bools, Int64s, dense_key, first_of_each, to_numpy
from spanscope.analyzer.requests import LAYER_CODE, Prepared
from spanscope.analyzer.sqlnorm import normalize_info

pc: Any = _compute


@dataclass(frozen=True)
class DbSpans:
    """DB spans below a request that carry a statement; arrays are aligned with ``rows``."""

    rows: Int64s  # rows of the span tree
    template: Int64s  # index into ``templates``
    templates: list[str]
    statement: Int64s  # id of the exact (db_system, statement) text
    parameterized: Bools  # per ``statement`` id: the text has placeholders

    def __len__(self) -> int:
        return len(self.rows)

    def template_table(self) -> pa.Table:
        """``(template_id, template)`` for joining names back in SQL."""
        return pa.table(
            {
                "template_id": pa.array(np.arange(len(self.templates)), pa.int64()),
                "template": pa.array(self.templates, pa.string()),
            }
        )


def db_spans(prepared: Prepared) -> DbSpans:
    """The DB spans of ``prepared`` (owned by a request, with a statement), templated."""
    tree = prepared.tree
    statements = tree.view.column("db_statement")
    has_statement = to_numpy(pc.is_valid(statements), np.bool_)
    rows = np.flatnonzero((tree.layer == LAYER_CODE["db"]) & (tree.request >= 0) & has_statement)
    if not rows.size:
        empty = np.zeros(0, dtype=np.int64)
        return DbSpans(rows, empty, [], empty, np.zeros(0, dtype=np.bool_))
    # Encoding the whole column and picking codes is cheaper than copying out the
    # statement texts of the DB spans first.
    text_codes, text_values = _encode(statements)
    system_codes, system_values = _encode(tree.view.column("db_system"))
    text_codes, system_codes = text_codes[rows], system_codes[rows]
    statement = dense_key(text_codes, system_codes)
    first = first_of_each(statement, int(statement.max()) + 1)
    pairs = zip(text_codes[first].tolist(), system_codes[first].tolist(), strict=True)
    by_template: dict[str, int] = {}
    template_of_pair = np.empty(len(first), dtype=np.int64)
    parameterized = np.empty(len(first), dtype=np.bool_)
    for index, (text_code, system_code) in enumerate(pairs):
        info = normalize_info(text_values[text_code], system_values[system_code])
        template_of_pair[index] = by_template.setdefault(info.template, len(by_template))
        parameterized[index] = info.parameterized
    return DbSpans(rows, template_of_pair[statement], list(by_template), statement, parameterized)


def _encode(column: Any) -> tuple[Int64s, list[Any]]:
    """Dictionary codes (null -> the extra last code) and the dictionary, with None last."""
    if isinstance(column, pa.Array):
        column = pa.chunked_array([column])
    # Encoding chunk by chunk avoids copying the texts into one array first; the
    # unification is a no-op when the chunks already share one dictionary.
    encoded = pc.dictionary_encode(column).unify_dictionaries()
    if encoded.num_chunks == 0:
        return np.zeros(0, dtype=np.int64), [None]
    values: list[Any] = encoded.chunk(0).dictionary.to_pylist()
    indices = pa.chunked_array([chunk.indices for chunk in encoded.chunks], pa.int32())
    codes: npt.NDArray[Any] = to_numpy(pc.fill_null(indices, len(values)), np.int64)
    return codes, [*values, None]
