"""Django cache calls: one span per call with backend, operation and hit, never keys or values."""

from __future__ import annotations

import pytest
from conftest import TracedDjango
from opentelemetry.trace import StatusCode


@pytest.fixture
def caches(traced_django: TracedDjango) -> object:
    from django.core.cache import caches

    for alias in ("default", "db"):
        caches[alias].clear()
    traced_django.exporter.clear()
    return caches


def cache_spans(traced: TracedDjango) -> list[dict[str, object]]:
    return [dict(s.attributes or {}) for s in traced.spans("cache")]


def test_get_miss_set_get_hit(traced_django: TracedDjango, caches: object) -> None:
    from django.core.cache import cache

    assert cache.get("book:1") is None
    cache.set("book:1", "Dune")
    assert cache.get("book:1") == "Dune"

    spans = cache_spans(traced_django)
    assert [(s["spanscope.cache.operation"], s.get("spanscope.cache.hit")) for s in spans] == [
        ("get", False),
        ("set", None),
        ("get", True),
    ]
    assert {s["spanscope.cache.backend"] for s in spans} == {
        "django.core.cache.backends.locmem.LocMemCache"
    }


def test_span_is_named_after_the_operation_and_points_at_the_caller(
    traced_django: TracedDjango, caches: object
) -> None:
    from django.core.cache import cache

    cache.get("x")

    (span,) = traced_django.spans("cache")
    assert span.name == "cache get"
    assert (span.attributes or {})["code.file.path"] == __file__


def test_explicit_default_counts_as_a_miss(traced_django: TracedDjango, caches: object) -> None:
    from django.core.cache import cache

    assert cache.get("absent", "fallback") == "fallback"

    assert cache_spans(traced_django)[0]["spanscope.cache.hit"] is False


def test_composite_call_is_one_span(traced_django: TracedDjango, caches: object) -> None:
    from django.core.cache import cache

    cache.get_or_set("count", 3)

    assert [s["spanscope.cache.operation"] for s in cache_spans(traced_django)] == ["get_or_set"]


def test_keys_and_values_are_not_recorded(traced_django: TracedDjango, caches: object) -> None:
    from django.core.cache import cache

    cache.set("user:reader@example.org", "secret value")

    for span in traced_django.spans():
        assert all(
            "reader@example.org" not in str(v) and "secret value" not in str(v)
            for v in (span.attributes or {}).values()
        )


def test_database_cache_queries_are_children_of_the_cache_span(
    traced_django: TracedDjango, caches: object
) -> None:
    caches["db"].get("anything")  # type: ignore[index]

    (cache_span,) = traced_django.spans("cache")
    queries = traced_django.db_spans()
    assert queries
    assert cache_span.context is not None
    assert {q.parent.span_id for q in queries if q.parent} == {cache_span.context.span_id}


def test_cache_errors_reach_the_application_and_mark_the_span(
    traced_django: TracedDjango, caches: object
) -> None:
    from django.core.cache import cache

    with pytest.raises(ValueError, match="not found"):
        cache.incr("never-set")

    (span,) = traced_django.spans("cache")
    assert span.status.status_code is StatusCode.ERROR


def test_tracing_a_cache_twice_wraps_it_once(traced_django: TracedDjango, caches: object) -> None:
    from django.core.cache import cache
    from spanscope.instrument.cache import trace_cache

    assert trace_cache(caches["default"])  # type: ignore[index]
    cache.get("x")

    assert len(traced_django.spans("cache")) == 1
