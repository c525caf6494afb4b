"""Derived columns: one rule per column, old and new semantic-convention names."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest
from spanscope.analyzer.enrich import enrich
from spanscope.analyzer.schema import BASE_SCHEMA, SPAN_SCHEMA


def _base(*spans: tuple[str, dict[str, str]]) -> pa.Table:
    rows = [
        {
            "Timestamp": 1_700_000_000_000_000_000,
            "TraceId": "a" * 32,
            "SpanId": f"{index + 1:016x}",
            "ParentSpanId": "",
            "SpanName": "span",
            "SpanKind": kind,
            "ServiceName": "svc",
            "ScopeName": "",
            "Duration": 1000,
            "StatusCode": "Unset",
            "StatusMessage": "",
            "SpanAttributes": list(attributes.items()),
            "ResourceAttributes": [],
        }
        for index, (kind, attributes) in enumerate(spans)
    ]
    return pa.Table.from_pylist(rows, schema=BASE_SCHEMA)


def _derived(kind: str, attributes: dict[str, str]) -> dict[str, Any]:
    row: dict[str, Any] = enrich(_base((kind, attributes))).to_pylist()[0]
    return row


@pytest.mark.parametrize(
    ("kind", "attributes", "layer"),
    [
        ("Client", {"spanscope.layer": "template", "db.system": "sqlite"}, "template"),
        ("Server", {"http.method": "GET"}, "server"),
        ("Client", {"db.system": "postgresql"}, "db"),
        ("Client", {"db.system.name": "sqlite"}, "db"),
        ("Client", {"db.system": "redis"}, "cache"),
        ("Client", {"db.system.name": "memcached"}, "cache"),
        ("Client", {"http.method": "GET", "http.url": "http://api/"}, "http"),
        ("Client", {"url.full": "http://api/"}, "http"),
        ("Internal", {"http.method": "GET"}, "other"),
        ("Internal", {}, "other"),
    ],
)
def test_layer_rule(kind: str, attributes: dict[str, str], layer: str) -> None:
    assert _derived(kind, attributes)["layer"] == layer


def test_declared_layer_wins_over_server_kind() -> None:
    assert _derived("Server", {"spanscope.layer": "http"})["layer"] == "http"


@pytest.mark.parametrize(
    "attributes",
    [
        {"http.method": "POST", "http.status_code": "201", "http.target": "/books/"},
        {"http.request.method": "POST", "http.response.status_code": "201", "url.path": "/books/"},
    ],
    ids=["old", "new"],
)
def test_http_columns_from_old_or_new_names(attributes: dict[str, str]) -> None:
    row = _derived("Server", {**attributes, "http.route": "books/"})
    assert (row["http_method"], row["http_status_code"], row["http_target"], row["http_route"]) == (
        "POST",
        201,
        "/books/",
        "books/",
    )


@pytest.mark.parametrize(
    "attributes",
    [
        {
            "db.system": "sqlite",
            "db.statement": "SELECT 1",
            "code.filepath": "/app/v.py",
            "code.lineno": "12",
            "code.function": "index",
        },
        {
            "db.system.name": "sqlite",
            "db.query.text": "SELECT 1",
            "code.file.path": "/app/v.py",
            "code.line.number": "12",
            "code.function.name": "index",
        },
    ],
    ids=["old", "new"],
)
def test_db_and_code_columns_from_old_or_new_names(attributes: dict[str, str]) -> None:
    row = _derived("Client", attributes)
    assert (row["db_system"], row["db_statement"]) == ("sqlite", "SELECT 1")
    assert (row["code_filepath"], row["code_lineno"], row["code_function"]) == (
        "/app/v.py",
        12,
        "index",
    )


def test_new_name_wins_when_a_span_carries_both_generations() -> None:
    row = _derived("Client", {"db.statement": "old", "db.query.text": "new", "db.system": "sqlite"})
    assert row["db_statement"] == "new"


def test_orm_relation_columns() -> None:
    row = _derived(
        "Client",
        {
            "db.system": "sqlite",
            "spanscope.orm.relation": "inventory.Book.author",
            "spanscope.orm.relation_kind": "forward_fk",
            "spanscope.orm.lookup": "author",
            "spanscope.db.params_hash": "ab12",
        },
    )
    assert (
        row["orm_relation"],
        row["orm_relation_kind"],
        row["orm_lookup"],
        row["db_params_hash"],
    ) == (
        "inventory.Book.author",
        "forward_fk",
        "author",
        "ab12",
    )


def test_non_numeric_status_and_line_are_null_not_errors() -> None:
    row = _derived("Server", {"http.status_code": "OK", "code.lineno": "99999999999"})
    assert (row["http_status_code"], row["code_lineno"]) == (None, None)


def test_absent_attributes_give_nulls_and_the_full_schema() -> None:
    table = enrich(_base(("Internal", {}), ("Client", {"db.system": "sqlite"})))
    assert table.schema == SPAN_SCHEMA
    assert table["db_system"].to_pylist() == [None, "sqlite"]


def test_existing_derived_columns_are_kept() -> None:
    enriched = enrich(_base(("Client", {"db.system": "sqlite"})))
    overridden = enriched.set_column(
        enriched.schema.get_field_index("layer"), "layer", pa.array(["cache"])
    )
    assert enrich(overridden)["layer"].to_pylist() == ["cache"]


def test_empty_table_enriches_to_an_empty_span_table() -> None:
    assert enrich(BASE_SCHEMA.empty_table()).schema == SPAN_SCHEMA
