"""Duplicate queries can be told from N+1 loops by a keyed hash of their parameters."""

from __future__ import annotations

import re

import pytest
from child_python import run_python
from conftest import TracedDjango
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from spanscope.instrument.cursor_tracer import leaving_params
from spanscope.instrument.deferred import Enrichment
from spanscope.instrument.processor import SpanscopeSpanProcessor
from spanscope.instrument.query_params import ParamsHasher, key_from_env

HASH = "spanscope.db.params_hash"


@pytest.fixture
def models(traced_django: TracedDjango) -> object:
    from spanscope_testapp import models

    return models


def test_same_query_with_same_parameters_has_the_same_hash(
    traced_django: TracedDjango, models: object
) -> None:
    first_id = models.Book.objects.order_by("id").first().id  # type: ignore[attr-defined]
    traced_django.exporter.clear()

    models.Book.objects.get(id=first_id)  # type: ignore[attr-defined]
    models.Book.objects.get(id=first_id)  # type: ignore[attr-defined]

    spans = traced_django.db_spans()
    assert len(spans) == 2
    hashes = [s.attributes[HASH] for s in spans if s.attributes]
    assert hashes[0] == hashes[1]
    assert re.fullmatch(r"[0-9a-f]{16}", str(hashes[0]))


def test_n_plus_one_loop_has_one_statement_and_distinct_hashes(
    traced_django: TracedDjango, models: object
) -> None:
    books = list(models.Book.objects.order_by("id"))  # type: ignore[attr-defined]
    traced_django.exporter.clear()

    for book in books:
        book.title  # noqa: B018
        models.Author.objects.get(id=book.author_id)  # type: ignore[attr-defined]

    spans = traced_django.db_spans()
    statements = {s.attributes["db.statement"] for s in spans if s.attributes}
    hashes = [s.attributes[HASH] for s in spans if s.attributes]
    assert len(statements) == 1
    distinct_authors = len({b.author_id for b in books})
    assert len(set(hashes)) == distinct_authors < len(spans)


def test_parameter_values_are_never_recorded_by_default(
    traced_django: TracedDjango, models: object
) -> None:
    secret = "reader@example.org"
    traced_django.exporter.clear()

    list(models.Author.objects.filter(name=secret))  # type: ignore[attr-defined]

    (span,) = traced_django.db_spans()
    attributes = dict(span.attributes or {})
    assert HASH in attributes
    assert not any(key.startswith("db.query.parameter") for key in attributes)
    assert all(secret not in str(value) for value in attributes.values())


def _populated_by_upstream(self: object, span: object, cursor: object, *args: object) -> None:
    """Stands for upstream's CursorTracer._populate_span."""


def _sqlite_span(processor: SpanscopeSpanProcessor, *args: object) -> dict[str, object]:
    """A DB span started, populated with DB-API call arguments ``args`` as the dbapi instrumentation does, ended."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(processor)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    span = provider.get_tracer("opentelemetry.instrumentation.sqlite3").start_span("SELECT")
    leaving_params(_populated_by_upstream)(None, span, None, *args)
    span.end()
    return dict(exporter.get_finished_spans()[0].attributes or {})


def test_values_are_recorded_only_on_explicit_opt_in(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPANSCOPE_CAPTURE_PARAMS", "1")

    attributes = _sqlite_span(SpanscopeSpanProcessor(), "SELECT", ("reader@example.org", 7))

    assert attributes["db.query.parameter.0"] == "'reader@example.org'"
    assert attributes["db.query.parameter.1"] == "7"


def test_hash_can_be_switched_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPANSCOPE_PARAMS_HASH", "0")

    attributes = _sqlite_span(SpanscopeSpanProcessor(), "SELECT", (1,))

    assert HASH not in attributes
    assert attributes["spanscope.layer"] == "db"


def test_spans_outside_a_query_call_get_no_hash() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SpanscopeSpanProcessor())
    provider.add_span_processor(SimpleSpanProcessor(exporter))

    provider.get_tracer("opentelemetry.instrumentation.sqlite3").start_span("SELECT").end()

    assert HASH not in (exporter.get_finished_spans()[0].attributes or {})


def test_a_query_without_parameters_is_hashed_as_django_passes_it() -> None:
    # Django calls cursor.execute(sql) with no params argument when it has none;
    # its own execute wrappers see params=None.
    hasher = ParamsHasher(b"test key")
    processor = SpanscopeSpanProcessor(enrichment=Enrichment(hasher, capture_params=False))

    assert _sqlite_span(processor, "SELECT 1")[HASH] == hasher(None)


def test_configured_key_makes_hashes_comparable_across_processes() -> None:
    env = {"SPANSCOPE_PARAMS_HASH_KEY": "shared secret"}

    one, two = ParamsHasher(key_from_env(env)), ParamsHasher(key_from_env(env))

    assert one((1, "a")) == two((1, "a"))
    assert one((1, "a")) != one((1, "b"))
    assert one((1,)) != one(("1",))


def test_without_a_key_each_process_draws_its_own() -> None:
    assert ParamsHasher(key_from_env({}))((1,)) != ParamsHasher(key_from_env({}))((1,))


def test_overlong_key_is_accepted() -> None:
    key = key_from_env({"SPANSCOPE_PARAMS_HASH_KEY": "k" * 500})

    assert ParamsHasher(key)((1,)) == ParamsHasher(key)((1,))


_HOOK_PROBE = """
import django
from django.conf import settings
settings.configure(DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}})
django.setup()
from spanscope.instrument import layers, query_params
from django.db import connection
layers.install()
connection.ensure_connection()
print(query_params.installed_hook(), query_params.publish_params in connection.execute_wrappers)
"""


def _hook(**env: str) -> str:
    return run_python(_HOOK_PROBE, ("OTEL_", "SPANSCOPE_"), **env).stdout.strip().splitlines()[-1]


def test_parameters_reach_the_span_through_upstreams_cursor_tracer() -> None:
    # The hash is on by default; values are recorded only on opt-in.  Neither
    # needs a Django execute wrapper: no per-query partial, call and context switch.
    assert _hook() == "cursor tracer False"
    assert _hook(SPANSCOPE_PARAMS_HASH="0", SPANSCOPE_CAPTURE_PARAMS="1") == "cursor tracer False"


def test_nothing_is_hooked_when_the_parameters_are_not_used() -> None:
    assert _hook(SPANSCOPE_PARAMS_HASH="0") == "None False"


# A real traced SQLite query through Django, with upstream's _populate_span
# replaced by one whose signature spanscope does not know.
_FALLBACK_PROBE = """
import django
from django.conf import settings
settings.configure(DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}})
from opentelemetry.instrumentation import dbapi
from opentelemetry.instrumentation.sqlite3 import SQLite3Instrumentor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from spanscope.instrument import layers, query_params
from spanscope.instrument.processor import SpanscopeSpanProcessor

upstream = dbapi.CursorTracer._populate_span
def _populate_span(self, span, cursor, *args, **future_options):
    return upstream(self, span, cursor, *args)
dbapi.CursorTracer._populate_span = _populate_span

exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SpanscopeSpanProcessor())
provider.add_span_processor(SimpleSpanProcessor(exporter))
SQLite3Instrumentor().instrument(tracer_provider=provider)
layers.install(provider)
django.setup()
from django.db import connection
with connection.cursor() as cursor:
    cursor.execute("SELECT %s", [1])
    cursor.execute("SELECT %s", [1])
    cursor.execute("SELECT %s", [2])
hashes = [s.attributes.get("spanscope.db.params_hash") for s in exporter.get_finished_spans()]
print(query_params.installed_hook(), hashes[0] == hashes[1] != hashes[2], None not in hashes)
"""


def test_an_unknown_cursor_tracer_falls_back_to_a_django_execute_wrapper() -> None:
    out = run_python(_FALLBACK_PROBE, ("OTEL_", "SPANSCOPE_")).stdout.strip().splitlines()[-1]

    assert out == "execute wrapper True True"
