"""Template rendering spans, Django and Jinja2, nested for {% include %}."""

from __future__ import annotations

import pytest
from conftest import TracedDjango
from opentelemetry.trace import StatusCode


def test_django_template_render_is_one_span_per_template(traced_django: TracedDjango) -> None:
    from django.template.loader import render_to_string

    html = render_to_string("books/list.html", {"books": [{"title": "Dune"}, {"title": "Emma"}]})

    assert "Dune" in html
    spans = traced_django.spans("template")
    names = sorted(s.name for s in spans)
    assert names == ["render books/item.html"] * 2 + ["render books/list.html"]
    outer = next(s for s in spans if s.name == "render books/list.html")
    assert outer.context is not None
    assert {s.parent.span_id for s in spans if s is not outer and s.parent} == {
        outer.context.span_id
    }
    assert (outer.attributes or {})["spanscope.template.engine"] == "django"
    assert (outer.attributes or {})["spanscope.template.name"] == "books/list.html"


def test_template_from_a_string_has_a_placeholder_name(traced_django: TracedDjango) -> None:
    from django.template import Context, Template

    assert Template("{{ x }}").render(Context({"x": 1})) == "1"

    assert [s.name for s in traced_django.spans("template")] == ["render (string)"]


def test_jinja2_render_is_traced(traced_django: TracedDjango) -> None:
    from django.template import engines

    html = engines["jinja2"].get_template("greeting.html").render({"name": "Ann"})

    assert html.strip() == "Hello Ann"
    (span,) = traced_django.spans("template")
    assert span.name == "render greeting.html"
    assert (span.attributes or {})["spanscope.template.engine"] == "jinja2"


def test_render_error_reaches_the_application_and_marks_the_span(
    traced_django: TracedDjango,
) -> None:
    from django.template import Context, Template, TemplateDoesNotExist

    with pytest.raises(TemplateDoesNotExist):
        Template('{% include "no/such/template.html" %}').render(Context())

    (span,) = traced_django.spans("template")
    assert span.status.status_code is StatusCode.ERROR


def test_install_is_idempotent(traced_django: TracedDjango) -> None:
    from django.template.base import Template
    from spanscope.instrument import templates

    render = Template.render
    assert templates.install()
    assert Template.render is render
