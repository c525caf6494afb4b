"""Optional middleware spans: one per middleware, nested in stack order, off unless asked for."""

from __future__ import annotations

import pytest
from conftest import TracedDjango
from django.test import Client, override_settings
from spanscope.instrument import middleware

MIDDLEWARE = [
    "django.middleware.common.CommonMiddleware",
    "spanscope_testapp.middleware.stamp",
]


def test_off_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SPANSCOPE_MIDDLEWARE_SPANS", raising=False)

    assert middleware.install() is False


@override_settings(
    ROOT_URLCONF="spanscope_testapp.urls", MIDDLEWARE=MIDDLEWARE, ALLOWED_HOSTS=["*"]
)
def test_each_middleware_gets_a_span_enclosing_the_next(traced_django: TracedDjango) -> None:
    assert middleware.install(traced_django.provider, enabled=True)

    response = Client().get("/hello/")

    assert response.status_code == 200 and response["X-Stamp"] == "1"
    spans = {s.name: s for s in traced_django.spans("middleware")}
    assert sorted(spans) == [
        "middleware django.middleware.common.CommonMiddleware",
        "middleware spanscope_testapp.middleware.stamp.<locals>.middleware",
    ]
    outer = spans["middleware django.middleware.common.CommonMiddleware"]
    inner = spans["middleware spanscope_testapp.middleware.stamp.<locals>.middleware"]
    assert inner.parent is not None and outer.context is not None
    assert inner.parent.span_id == outer.context.span_id
    assert (outer.attributes or {})["spanscope.middleware.name"] == (
        "django.middleware.common.CommonMiddleware"
    )


def test_the_view_caller_and_opentelemetry_middleware_are_not_middleware() -> None:
    from django.core.handlers.base import BaseHandler
    from opentelemetry.instrumentation.django.middleware.otel_middleware import _DjangoMiddleware

    assert middleware.middleware_name(BaseHandler()._get_response) is None
    assert middleware.middleware_name(_DjangoMiddleware(lambda r: r)) is None
