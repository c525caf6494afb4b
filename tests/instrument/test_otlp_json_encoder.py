"""spanscope's encoder writes the Collector ``file`` exporter's OTLP/JSON line format."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.exporter.otlp.json.common.trace_encoder import encode_spans
from spans_for_tests import request_with_queries
from spanscope.instrument.otlp_json import any_value, encode_line, value_json

# Files written by the Collector's file exporter (see tests/data/samples/README.md).
DATA = Path(__file__).resolve().parents[1] / "data" / "samples"
COLLECTOR_WRITTEN = (
    "otel-spec_file-exporter_example_traces.jsonl",
    "otel-rust_integration_expected_traces.json",
)


def _collector_objects() -> list[dict[str, Any]]:
    objects = []
    for name in COLLECTOR_WRITTEN:
        text = (DATA / name).read_text()
        if name.endswith(".jsonl"):
            objects += [json.loads(line) for line in text.splitlines() if line.strip()]
        else:
            objects.append(json.loads(text))
    return objects


def _spans(traces: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for rs in traces["resourceSpans"] for ss in rs["scopeSpans"] for s in ss["spans"]]


@pytest.fixture
def line() -> bytes:
    return encode_line(request_with_queries())


@pytest.fixture
def traces(line: bytes) -> dict[str, Any]:
    return json.loads(line)


def test_a_batch_is_exactly_one_newline_terminated_line(line: bytes) -> None:
    assert line.endswith(b"\n")
    assert line.count(b"\n") == 1


def test_top_level_and_nesting_match_collector_output(traces: dict[str, Any]) -> None:
    expected_top = {frozenset(obj) for obj in _collector_objects()}
    assert expected_top == {frozenset({"resourceSpans"})}
    assert set(traces) == {"resourceSpans"}
    for rs in traces["resourceSpans"]:
        assert set(rs) <= {"resource", "scopeSpans", "schemaUrl"}
        for ss in rs["scopeSpans"]:
            assert set(ss) <= {"scope", "spans", "schemaUrl"}


def test_span_keys_are_known_to_collector_output_and_in_its_order(traces: dict[str, Any]) -> None:
    reference = [list(s) for obj in _collector_objects() for s in _spans(obj)]
    known = {key for keys in reference for key in keys} | {"traceState"}
    # The proto field order, as Collector-written spans list their keys.
    order = max(reference, key=len)
    for span in _spans(traces):
        assert set(span) <= known, set(span) - known
        shared = [k for k in span if k in order]
        assert shared == sorted(shared, key=order.index)


def test_ids_are_lowercase_hex_and_roots_have_an_empty_parent(traces: dict[str, Any]) -> None:
    spans = _spans(traces)
    for span in spans:
        assert re.fullmatch(r"[0-9a-f]{32}", span["traceId"])
        assert re.fullmatch(r"[0-9a-f]{16}", span["spanId"])
        assert re.fullmatch(r"(|[0-9a-f]{16})", span["parentSpanId"])
    roots = [s for s in spans if s["parentSpanId"] == ""]
    assert [r["name"] for r in roots] == ["GET books/"]
    assert {s["parentSpanId"] for s in spans if s is not roots[0]} == {roots[0]["spanId"]}


def test_int64_fields_are_decimal_strings_and_enums_are_ints(traces: dict[str, Any]) -> None:
    for span in _spans(traces):
        assert isinstance(span["startTimeUnixNano"], str) and span["startTimeUnixNano"].isdigit()
        assert isinstance(span["endTimeUnixNano"], str) and int(span["endTimeUnixNano"]) >= int(
            span["startTimeUnixNano"]
        )
        assert isinstance(span["kind"], int)
        for attr in span.get("attributes", []):
            if "intValue" in attr["value"]:
                assert isinstance(attr["value"]["intValue"], str)
    root = next(s for s in _spans(traces) if s["name"] == "GET books/")
    assert root["kind"] == 2  # SPAN_KIND_SERVER
    assert root["status"] == {"message": "boom", "code": 2}  # STATUS_CODE_ERROR
    assert root["events"][0]["timeUnixNano"].isdigit()
    assert root["links"][0]["flags"] == 768  # parent-is-remote known and set


def test_same_content_as_upstream_otlp_json_encoder(traces: dict[str, Any]) -> None:
    spans = request_with_queries()
    ours = json.loads(encode_line(spans))
    upstream = encode_spans(spans).to_dict()
    # Upstream omits the empty parentSpanId of a root; Collector-written files carry it.
    for span in _spans(ours):
        if span["parentSpanId"] == "":
            del span["parentSpanId"]
    assert ours == upstream


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("s", {"stringValue": "s"}),
        (True, {"boolValue": True}),
        (2**62, {"intValue": str(2**62)}),
        (1.5, {"doubleValue": 1.5}),
        (float("nan"), {"doubleValue": "NaN"}),
        (b"\x00\xff", {"bytesValue": "AP8="}),
        (("a", 1), {"arrayValue": {"values": [{"stringValue": "a"}, {"intValue": "1"}]}}),
    ],
)
def test_attribute_values_are_otlp_any_values(value: object, expected: dict[str, Any]) -> None:
    assert any_value(value) == expected


@pytest.mark.parametrize(
    "value", ['ünï "q" \\ \n', True, False, -(2**63), 1e300, float("-inf"), 0.1, ("a", 2), {"k": 1}]
)
def test_fast_text_path_agrees_with_the_general_any_value(value: object) -> None:
    assert json.loads(value_json(value)) == any_value(value)


def test_cached_encodings_tell_equal_values_of_different_types_apart() -> None:
    from spanscope.instrument.otlp_json import key_values_json

    # 1, True and 1.0 are equal dict keys; each must still encode as its own type.
    encoded = [key_values_json({"x": value}) for value in (1, True, 1.0, "1", 1, True)]

    assert [next(iter(json.loads(e)[0]["value"].items())) for e in encoded] == [
        ("intValue", "1"),
        ("boolValue", True),
        ("doubleValue", 1.0),
        ("stringValue", "1"),
        ("intValue", "1"),
        ("boolValue", True),
    ]


def test_a_span_is_encoded_the_same_from_its_attribute_store_and_its_public_mapping() -> None:
    from opentelemetry.sdk.trace import ReadableSpan

    spans = request_with_queries(2)
    # The same spans with a plain dict where the SDK keeps its BoundedAttributes.
    public = [
        ReadableSpan(
            name=s.name,
            context=s.context,
            parent=s.parent,
            resource=s.resource,
            attributes=dict(s.attributes or {}),
            events=s.events,
            links=s.links,
            kind=s.kind,
            status=s.status,
            start_time=s.start_time,
            end_time=s.end_time,
            instrumentation_scope=s.instrumentation_scope,
        )
        for s in spans
    ]

    assert encode_line(spans) == encode_line(public)


def test_an_unhashable_attribute_value_is_still_encoded() -> None:
    from spanscope.instrument.otlp_json import key_values_json

    value = ("a", ["b"])  # a tuple holding a list cannot be a cache key

    assert json.loads(key_values_json({"x": value})) == [{"key": "x", "value": any_value(value)}]


def _enriched_queries(count: int, preset: dict[str, str] | None = None) -> list[Any]:
    """DB spans of one N+1 loop, made into attributes by spanscope's enrichment, ended."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from spanscope.instrument.deferred import Enricher, EnrichingSpanExporter, Enrichment
    from spanscope.instrument.processor import SpanCapture
    from spanscope.instrument.query_params import ParamsHasher, current_params
    from spanscope.instrument.relation_context import Relation, current_relation

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SpanCapture())
    enricher = Enricher(Enrichment(ParamsHasher(b"key"), capture_params=False))
    provider.add_span_processor(SimpleSpanProcessor(EnrichingSpanExporter(exporter, enricher)))
    tracer = provider.get_tracer("opentelemetry.instrumentation.sqlite3")
    relation = current_relation.set(
        (Relation("inventory.Book.author", "forward_fk", "author"), None)
    )
    try:
        for index in range(count):
            token = current_params.set((index % 3,))
            try:
                span = tracer.start_span("SELECT", attributes=preset)
                span.set_attribute("db.statement", "SELECT * FROM author WHERE id = %s")
                span.end()
            finally:
                current_params.reset(token)
    finally:
        current_relation.reset(relation)
    return list(exporter.get_finished_spans())


def test_a_shared_attribute_group_is_encoded_as_its_pairs_would_be() -> None:
    from spanscope.instrument.otlp_json import GROUP_ATTRIBUTE

    spans = _enriched_queries(5)
    assert all(GROUP_ATTRIBUTE in vars(s._attributes) for s in spans)
    grouped = encode_line(spans)
    for span in spans:
        del vars(span._attributes)[GROUP_ATTRIBUTE]

    assert grouped == encode_line(spans)
    attributes = _spans(json.loads(grouped))[0]["attributes"]
    assert [a["key"] for a in attributes][:3] == [
        "db.statement",
        "spanscope.layer",
        "code.file.path",
    ]


def test_a_group_key_the_span_already_had_is_encoded_once() -> None:
    # The application set code.function.name itself: spanscope's value replaces it in place.
    spans = _enriched_queries(2, preset={"code.function.name": "mine"})

    keys = [a["key"] for a in _spans(json.loads(encode_line(spans)))[0]["attributes"]]

    assert sorted(keys) == sorted(set(keys))
    assert set(keys) >= {"code.function.name", "code.file.path", "spanscope.orm.relation"}
