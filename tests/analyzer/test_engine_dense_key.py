"""dense_key numbers distinct key tuples 0, 1, ... in order of first appearance, whether
it packs them into a lookup table or hashes them."""

from __future__ import annotations

import numpy as np
import pytest
from spanscope.analyzer.analyses.nplusone import repeat_groups, repeat_groups_of
from spanscope.analyzer.engine import dense_key, renumber


def _first_appearance(*keys: np.ndarray) -> list[int]:
    seen: dict[tuple[int, ...], int] = {}
    return [seen.setdefault(tuple(row), len(seen)) for row in zip(*keys, strict=True)]


@pytest.mark.parametrize("spread", [5, 10**6, 2**40], ids=["few", "many", "wide"])
def test_dense_key_numbers_tuples_by_first_appearance(spread: int) -> None:
    rng = np.random.default_rng(7)
    first = rng.integers(0, spread, 2_000)
    second = rng.integers(0, 3, 2_000)
    assert dense_key(first, second).tolist() == _first_appearance(first, second)


def test_a_negative_first_key_is_numbered_like_any_other() -> None:
    first = np.array([-1, 4, -1, 4, 2])
    second = np.array([0, 0, 0, 1, 0])
    assert dense_key(first, second).tolist() == [0, 1, 0, 2, 3]


def test_renumber_keeps_the_order_of_first_appearance() -> None:
    assert renumber(np.array([7, 3, 7, 0, 3]), 8).tolist() == [0, 1, 0, 2, 1]


def test_counting_stored_keys_finds_the_same_groups_as_counting_tuples() -> None:
    rng = np.random.default_rng(3)
    parent = rng.integers(0, 40, 3_000)
    template = rng.integers(0, 4, 3_000)
    rows, gid = repeat_groups((parent, template), 25)
    stored = dense_key(parent, template)
    # a stored key restricted to some rows is no longer dense: ids are renumbered
    assert rows.size and [r.tolist() for r in repeat_groups_of(stored, 25)] == [
        rows.tolist(),
        gid.tolist(),
    ]
    half = np.arange(0, 3_000, 2)
    expected = repeat_groups((parent[half], template[half]), 12)
    got = repeat_groups_of(stored[half], 12)
    assert [g.tolist() for g in got] == [e.tolist() for e in expected]
