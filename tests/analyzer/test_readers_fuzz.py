"""No input, however broken, produces anything but a SpanscopeError (never a traceback)."""

from __future__ import annotations

import gzip
import json
import tempfile
from pathlib import Path

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from otlp_records import attr, line, span, span_id
from spanscope.analyzer.errors import SpanscopeError
from spanscope.analyzer.load import read
from spanscope.analyzer.schema import SPAN_SCHEMA

_VALID = line(
    span(
        span_id(1), kind=2, attributes=[attr("http.route", "books/"), attr("n", {"intValue": "3"})]
    ),
    span(span_id(2), parent=span_id(1), attributes=[attr("db.statement", "SELECT 1")]),
)
_FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _read_bytes(data: bytes, name: str = "dump.jsonl") -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(data)
        try:
            result = read(path)
        except SpanscopeError:
            return
        assert result.table.schema == SPAN_SCHEMA
        assert result.diagnostics.skipped_records >= 0


@_FUZZ
@given(st.binary(max_size=2000))
def test_random_bytes_never_raise_anything_else(data: bytes) -> None:
    _read_bytes(data)


@_FUZZ
@given(
    st.lists(
        st.tuples(st.integers(0, len(_VALID) - 1), st.binary(min_size=0, max_size=4)), max_size=6
    )
)
def test_mutated_valid_lines_never_raise_anything_else(edits: list[tuple[int, bytes]]) -> None:
    data = bytearray(_VALID * 3)
    for position, replacement in edits:
        data[position : position + len(replacement) or position + 1] = replacement
    _read_bytes(bytes(data))
    _read_bytes(gzip.compress(bytes(data)), "dump.jsonl.gz")


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
_KEYS = st.sampled_from(
    [
        "resourceSpans",
        "scopeSpans",
        "spans",
        "traceId",
        "spanId",
        "kind",
        "attributes",
        "value",
        "status",
    ]
)


@_FUZZ
@given(_KEYS, _JSON)
def test_wrong_types_in_any_field_never_raise_anything_else(key: str, replacement: object) -> None:
    document = orjson.loads(_VALID)

    def replace(node: object) -> None:
        if isinstance(node, dict):
            for name in list(node):
                if name == key:
                    node[name] = replacement
                else:
                    replace(node[name])
        elif isinstance(node, list):
            for item in node:
                replace(item)

    replace(document)
    # The standard library writes what orjson refuses (integers beyond 64 bits, NaN).
    _read_bytes(json.dumps(document).encode() + b"\n" + _VALID)
    _read_bytes(json.dumps(document, indent=2).encode(), "pretty.json")
