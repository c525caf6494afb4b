"""Matching a string column against a few values, and interval unions of spans already in
order: the shortcuts under the request table must answer as the general kernels do."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from spanscope.analyzer.engine import covered_per_group, value_codes

LAYERS = ("server", "db", "cache")


def test_plain_strings_get_their_index_and_anything_else_the_extra_code() -> None:
    column = pa.array(["db", "other", None, "server", "cache"])
    assert value_codes(column, LAYERS).tolist() == [1, 3, 3, 0, 2]


def test_dictionary_chunks_answer_as_their_decoded_strings() -> None:
    texts = [["db", "db", "http", "server"], ["cache", None, "db"]]
    encoded = pa.chunked_array([pa.array(chunk).dictionary_encode() for chunk in texts])
    plain = pa.chunked_array(texts)
    assert value_codes(encoded, LAYERS).tolist() == value_codes(plain, LAYERS).tolist()
    assert value_codes(encoded, LAYERS).tolist() == [1, 1, 3, 0, 2, 3, 1]


def test_a_dictionary_without_any_wanted_value_is_all_the_extra_code() -> None:
    column = pa.array(["http", "other", "http"]).dictionary_encode()
    assert value_codes(column, LAYERS).tolist() == [3, 3, 3]


def test_intervals_already_in_group_and_start_order_cover_what_shuffled_ones_do() -> None:
    rng = np.random.default_rng(7)
    group = np.repeat(np.arange(50, dtype=np.int64), 20)
    start = np.sort(rng.integers(0, 1_000, size=(50, 20)), axis=1).ravel().astype(np.int64)
    end = start + rng.integers(0, 200, size=start.size)
    in_order = covered_per_group(group, start, end, 50)
    shuffle = rng.permutation(group.size)
    shuffled = covered_per_group(group[shuffle], start[shuffle], end[shuffle], 50)
    assert in_order.tolist() == shuffled.tolist()
    assert int(in_order[0]) == len(
        set().union(*(range(s, e) for s, e in zip(start[:20], end[:20], strict=True)))
    )
