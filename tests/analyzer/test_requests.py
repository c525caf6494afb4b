"""The request table: one row per server span, with its DB and app time."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest
from spanbuilder import SpanBuilder
from spanscope.analyzer.errors import UsageError
from spanscope.analyzer.requests import (
    SPAN_ID_COLUMNS,
    prepare,
    request_table,
    without_span_ids,
)


def rows(builder: SpanBuilder) -> list[dict[str, Any]]:
    return request_table(builder.table()).to_pylist()


def only_row(builder: SpanBuilder) -> dict[str, Any]:
    (row,) = rows(builder)
    return row


def test_one_row_per_server_span_identified_by_its_ids() -> None:
    b = SpanBuilder()
    first = b.request(start_ms=0)
    second = b.request(start_ms=500)
    b.query(first, "SELECT 1", start_ms=1, duration_ms=1)
    ids = [(row["TraceId"], row["SpanId"]) for row in rows(b)]
    assert ids == [(first.trace_id, first.span_id), (second.trace_id, second.span_id)]


def test_endpoint_is_method_and_route() -> None:
    b = SpanBuilder()
    b.request("POST", "books/<int:pk>/", name="POST")
    assert only_row(b)["endpoint"] == "POST books/<int:pk>/"


def test_endpoint_falls_back_to_a_span_name_that_already_names_the_route() -> None:
    b = SpanBuilder()
    b.span(None, "GET books/", kind="Server", layer="server", start_ms=0, duration_ms=1)
    assert only_row(b)["endpoint"] == "GET books/"


def test_request_without_route_is_grouped_as_no_route() -> None:
    b = SpanBuilder()
    b.request("GET", None, status_code=404)
    assert only_row(b)["endpoint"] == "GET (no route)"


def test_non_http_server_span_uses_its_name() -> None:
    b = SpanBuilder()
    b.span(None, "inventory.Books/List", kind="Server", layer="server", start_ms=0, duration_ms=1)
    assert only_row(b)["endpoint"] == "inventory.Books/List"


@pytest.mark.parametrize(
    ("status_code", "status", "error"),
    [(200, "Unset", False), (404, "Unset", False), (500, "Unset", True), (200, "Error", True)],
)
def test_error_flag_means_5xx_or_error_status(status_code: int, status: str, error: bool) -> None:
    b = SpanBuilder()
    b.request(status_code=status_code, status=status)
    assert only_row(b)["error"] is error


def test_db_time_counts_concurrent_queries_once() -> None:
    b = SpanBuilder()
    req = b.request(duration_ms=100)
    b.query(req, "SELECT 1", start_ms=10, duration_ms=20)  # 10..30
    b.query(req, "SELECT 2", start_ms=20, duration_ms=20)  # 20..40, overlaps the first
    b.query(req, "SELECT 3", start_ms=50, duration_ms=5)  # 50..55
    row = only_row(b)
    assert row["db_ms"] == pytest.approx(35.0)
    assert row["queries"] == 3


def test_app_time_is_what_no_child_span_covers() -> None:
    b = SpanBuilder()
    req = b.request(duration_ms=100)
    render = b.span(req, "render books.html", layer="template", start_ms=60, duration_ms=30)
    b.query(render, "SELECT 1", start_ms=70, duration_ms=10)  # inside the template span
    b.query(req, "SELECT 2", start_ms=10, duration_ms=10)
    row = only_row(b)
    assert row["app_ms"] == pytest.approx(100 - 30 - 10)
    assert row["db_ms"] == pytest.approx(20.0)


def test_children_outside_the_request_are_clipped_so_app_time_is_never_negative() -> None:
    b = SpanBuilder()
    req = b.request(start_ms=0, duration_ms=10)
    b.query(req, "SELECT 1", start_ms=-5, duration_ms=30)
    row = only_row(b)
    assert row["db_ms"] == pytest.approx(10.0)
    assert row["app_ms"] == pytest.approx(0.0)


def test_spans_below_an_intermediate_span_belong_to_the_request() -> None:
    b = SpanBuilder()
    req = b.request()
    middle = b.span(req, "middleware", start_ms=1, duration_ms=50)
    inner = b.span(middle, "view", start_ms=2, duration_ms=40)
    b.queries(inner, "SELECT {i}", count=3, start_ms=3, each_ms=1)
    assert only_row(b)["queries"] == 3


def test_a_nested_server_span_owns_its_own_subtree() -> None:
    b = SpanBuilder()
    outer = b.request("GET", "front/", duration_ms=100)
    call = b.span(outer, "GET", kind="Client", layer="http", start_ms=10, duration_ms=50)
    inner = b.request("GET", "api/", start_ms=15, duration_ms=40, parent=call)
    b.query(inner, "SELECT 1", start_ms=20, duration_ms=5)
    by_endpoint = {row["endpoint"]: row for row in rows(b)}
    assert by_endpoint["GET api/"]["queries"] == 1
    assert by_endpoint["GET front/"]["queries"] == 0


def test_parent_cycles_and_orphans_are_owned_by_no_request() -> None:
    b = SpanBuilder()
    req = b.request(duration_ms=100)
    b.query(req, "SELECT 1", start_ms=1, duration_ms=1)
    # a <-> b cycle in the same trace, and a span whose parent never arrived
    b.span(
        None,
        "a",
        trace_id=req.trace_id,
        span_id="aaaaaaaaaaaaaaaa",
        parent_span_id="bbbbbbbbbbbbbbbb",
        start_ms=1,
        duration_ms=1,
        layer="db",
    )
    b.span(
        None,
        "b",
        trace_id=req.trace_id,
        span_id="bbbbbbbbbbbbbbbb",
        parent_span_id="aaaaaaaaaaaaaaaa",
        start_ms=1,
        duration_ms=1,
        layer="db",
    )
    b.span(
        None,
        "orphan",
        trace_id=req.trace_id,
        parent_span_id="cccccccccccccccc",
        start_ms=1,
        duration_ms=1,
        layer="db",
    )
    assert only_row(b)["queries"] == 1


def test_a_span_that_is_its_own_parent_does_not_hang() -> None:
    b = SpanBuilder()
    b.request()
    b.span(
        None,
        "self",
        span_id="dddddddddddddddd",
        parent_span_id="dddddddddddddddd",
        start_ms=0,
        duration_ms=1,
    )
    assert len(rows(b)) == 1


def test_empty_table_gives_no_requests() -> None:
    assert request_table(SpanBuilder().table()).num_rows == 0


def test_a_table_without_the_derived_columns_is_rejected_with_a_hint() -> None:
    table = SpanBuilder().table().drop_columns(["layer"])
    with pytest.raises(UsageError, match=r"layer.*hint: pass the table returned by"):
        request_table(table)


def test_self_time_by_layer_subtracts_each_span_s_children() -> None:
    b = SpanBuilder()
    req = b.request(duration_ms=100)
    render = b.span(req, "render books.html", layer="template", start_ms=50, duration_ms=40)
    b.query(render, "SELECT 1", start_ms=60, duration_ms=10)
    b.span(render, "cache get", layer="cache", start_ms=75, duration_ms=5)
    b.span(req, "GET api", kind="Client", layer="http", start_ms=10, duration_ms=20)
    row = only_row(b)
    assert row["template_self_ms"] == pytest.approx(40 - 10 - 5)
    assert (row["db_self_ms"], row["cache_self_ms"], row["http_self_ms"]) == pytest.approx(
        (10.0, 5.0, 20.0)
    )
    assert row["app_ms"] == pytest.approx(100 - 40 - 20)
    assert (row["template_calls"], row["db_calls"], row["cache_calls"], row["http_calls"]) == (
        1,
        1,
        1,
        1,
    )


def test_layers_add_up_to_the_request_duration_without_concurrency() -> None:
    b = SpanBuilder()
    req = b.request(duration_ms=100)
    view = b.span(req, "view", start_ms=5, duration_ms=80)
    b.query(view, "SELECT 1", start_ms=10, duration_ms=30)
    b.span(view, "publish", kind="Producer", start_ms=50, duration_ms=10)
    row = only_row(b)
    layers = ("db", "cache", "template", "http", "other")
    total = row["app_ms"] + sum(row[f"{layer}_self_ms"] for layer in layers)
    assert total == pytest.approx(row["duration_ms"])
    assert row["other_self_ms"] == pytest.approx((80 - 30 - 10) + 10)


def test_concurrent_children_are_subtracted_once_from_their_parent() -> None:
    b = SpanBuilder()
    req = b.request(duration_ms=100)
    b.span(req, "GET a", kind="Client", layer="http", start_ms=10, duration_ms=50)
    b.span(req, "GET b", kind="Client", layer="http", start_ms=20, duration_ms=50)
    row = only_row(b)
    assert row["app_ms"] == pytest.approx(100 - 60)
    assert row["http_self_ms"] == pytest.approx(100.0)  # each call keeps its own time


def test_a_grandchild_outside_its_parent_is_clipped_into_it() -> None:
    b = SpanBuilder()
    req = b.request(duration_ms=100)
    render = b.span(req, "render", layer="template", start_ms=10, duration_ms=20)
    b.query(render, "SELECT 1", start_ms=25, duration_ms=30)  # ends 25 ms after its parent
    row = only_row(b)
    assert row["db_ms"] == pytest.approx(5.0)
    assert row["template_self_ms"] == pytest.approx(15.0)
    assert row["app_ms"] == pytest.approx(80.0)


def test_a_nested_request_is_not_subtracted_from_the_client_call_that_made_it() -> None:
    b = SpanBuilder()
    outer = b.request("GET", "front/", duration_ms=100)
    call = b.span(outer, "GET", kind="Client", layer="http", start_ms=10, duration_ms=50)
    b.request("GET", "api/", start_ms=15, duration_ms=40, parent=call)
    front = {row["endpoint"]: row for row in rows(b)}["GET front/"]
    assert front["http_self_ms"] == pytest.approx(50.0)


def test_ids_that_are_not_hex_are_resolved_exactly_too() -> None:
    b = SpanBuilder()
    req = b.request(duration_ms=100)
    b.query(req, "SELECT 1", start_ms=1, duration_ms=10)
    table = b.table()
    renamed = {"TraceId": "trace-one", "SpanId": None, "ParentSpanId": None}
    ids = {old: f"span-{i}" for i, old in enumerate(table.column("SpanId").to_pylist())}
    ids[""] = ""
    columns = {
        "TraceId": [renamed["TraceId"]] * table.num_rows,
        "SpanId": [ids[v] for v in table.column("SpanId").to_pylist()],
        "ParentSpanId": [ids[v] for v in table.column("ParentSpanId").to_pylist()],
    }
    for name, values in columns.items():
        index = table.schema.get_field_index(name)
        table = table.set_column(index, name, pa.array(values, pa.string()))
    (row,) = request_table(table).to_pylist()
    assert (row["SpanId"], row["queries"], row["db_ms"]) == ("span-0", 1, pytest.approx(10.0))


def test_an_absurd_child_duration_is_clipped_not_wrapped_around() -> None:
    b = SpanBuilder()
    req = b.request(duration_ms=100)
    b.query(req, "SELECT 1", start_ms=10, duration_ms=9.2e12)  # ~2**63 ns
    row = only_row(b)
    assert (row["db_ms"], row["app_ms"]) == (pytest.approx(90.0), pytest.approx(10.0))


def test_analyses_keep_everything_but_the_span_ids_once_the_tree_is_built() -> None:
    b = SpanBuilder()
    request = b.request(start_ms=0)
    b.query(request, "SELECT 1", start_ms=1, duration_ms=1)
    prepared = prepare(b.table())

    slim = without_span_ids(prepared)

    view = prepared.tree.view
    assert set(view.column_names) - set(slim.tree.view.column_names) == set(SPAN_ID_COLUMNS)
    assert slim.tree.view.select(["SpanName", "Duration"]).equals(
        view.select(["SpanName", "Duration"])
    )
    assert slim.tree.parent.tolist() == prepared.tree.parent.tolist()
    # The request table keeps its own trace ids, for the findings' examples.
    assert slim.requests.column("TraceId").to_pylist() == [request.trace_id]
