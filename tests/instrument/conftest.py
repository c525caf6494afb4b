"""Fixtures for spanscope.instrument: a traced in-process Django project on SQLite.

Django settings are process-global, so the project is configured once per test
session; each test gets an empty in-memory span exporter.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.instrumentation.sqlite3 import SQLite3Instrumentor
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from spanscope.instrument import layers
from spanscope.instrument.processor import SpanscopeSpanProcessor

HERE = Path(__file__).resolve().parent


class TracedDjango:
    """Handle on the traced test project: its span exporter and its models module."""

    def __init__(self, exporter: InMemorySpanExporter, provider: TracerProvider) -> None:
        self.exporter = exporter
        self.provider = provider

    def spans(self, layer: str | None = None) -> list[ReadableSpan]:
        """Finished spans, optionally only those whose ``spanscope.layer`` is ``layer``."""
        return [
            s
            for s in self.exporter.get_finished_spans()
            if layer is None or (s.attributes or {}).get("spanscope.layer") == layer
        ]

    def db_spans(self) -> list[ReadableSpan]:
        return [
            s
            for s in self.exporter.get_finished_spans()
            if s.attributes and "db.statement" in s.attributes
        ]


@pytest.fixture(scope="session")
def _traced_django_session(tmp_path_factory: pytest.TempPathFactory) -> TracedDjango:
    import django
    from django.conf import settings

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SpanscopeSpanProcessor())
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    # Before django.setup(), as under opentelemetry-instrument: relation managers
    # are built lazily from the patched factories.
    installed = layers.install(provider)
    assert all(installed[name] for name in layers.INSTALLERS), installed
    if not settings.configured:
        settings.configure(
            DEBUG=False,  # DEBUG adds a "SELECT QUOTE(?)" query per query on SQLite
            DATABASES={
                "default": {
                    "ENGINE": "django.db.backends.sqlite3",
                    "NAME": str(tmp_path_factory.mktemp("db") / "test.sqlite3"),
                }
            },
            INSTALLED_APPS=[
                "django.contrib.contenttypes",
                "spanscope_testapp.apps.InventoryConfig",
            ],
            USE_TZ=True,
            CACHES={
                "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
                "db": {
                    "BACKEND": "django.core.cache.backends.db.DatabaseCache",
                    "LOCATION": "spanscope_cache_table",
                },
            },
            TEMPLATES=[
                {
                    "BACKEND": "django.template.backends.django.DjangoTemplates",
                    "DIRS": [str(HERE / "templates")],
                },
                {
                    "BACKEND": "django.template.backends.jinja2.Jinja2",
                    "DIRS": [str(HERE / "jinja2")],
                },
            ],
        )
    SQLite3Instrumentor().instrument(tracer_provider=provider)
    django.setup()

    from django.contrib.contenttypes.models import ContentType
    from django.db import connection
    from spanscope_testapp import generic_models, models

    with connection.schema_editor() as editor:
        for model in (
            ContentType,
            models.Publisher,
            models.Author,
            models.AuthorProfile,
            models.Tag,
            models.Book,
            generic_models.Comment,
        ):
            editor.create_model(model)
    from django.core.management import call_command

    call_command("createcachetable", "spanscope_cache_table", verbosity=0)
    _seed(models)
    _seed_comments(models, generic_models)
    return TracedDjango(exporter, provider)


def _seed(models: object) -> None:
    m = models
    publishers = [m.Publisher.objects.create(name=f"Publisher {i}") for i in range(2)]  # type: ignore[attr-defined]
    tags = [m.Tag.objects.create(name=f"tag {i}") for i in range(3)]  # type: ignore[attr-defined]
    for a in range(3):
        author = m.Author.objects.create(name=f"Author {a}")  # type: ignore[attr-defined]
        m.AuthorProfile.objects.create(author=author, bio=f"bio {a}")  # type: ignore[attr-defined]
        for b in range(2):
            book = m.Book.objects.create(  # type: ignore[attr-defined]
                title=f"Book {a}.{b}", author=author, publisher=publishers[b]
            )
            book.tags.set(tags[: b + 1])


def _seed_comments(models: object, generic_models: object) -> None:
    for book in models.Book.objects.order_by("id"):  # type: ignore[attr-defined]
        generic_models.Comment.objects.create(content_object=book, text=f"on {book.title}")  # type: ignore[attr-defined]


@pytest.fixture
def traced_django(_traced_django_session: TracedDjango) -> Iterator[TracedDjango]:
    _traced_django_session.exporter.clear()
    yield _traced_django_session
    _traced_django_session.exporter.clear()
