"""DB spans name the code line and the ORM relation whose lazy load ran the query."""

from __future__ import annotations

import sys

import pytest
from conftest import TracedDjango
from opentelemetry.sdk.trace import ReadableSpan


def here() -> int:
    """The line number of the caller's current line."""
    return sys._getframe(1).f_lineno


def only_db_span(traced: TracedDjango) -> ReadableSpan:
    spans = traced.db_spans()
    assert len(spans) == 1, [s.attributes for s in spans]
    return spans[0]


def relation_of(span: ReadableSpan) -> tuple[object, object, object]:
    attrs = span.attributes or {}
    return (
        attrs.get("spanscope.orm.relation"),
        attrs.get("spanscope.orm.relation_kind"),
        attrs.get("spanscope.orm.lookup"),
    )


@pytest.fixture
def models(traced_django: TracedDjango) -> object:
    from spanscope_testapp import models

    return models


@pytest.fixture
def generic_models(traced_django: TracedDjango) -> object:
    from spanscope_testapp import generic_models

    return generic_models


def test_forward_foreign_key_load_names_model_field_and_select_related_lookup(
    traced_django: TracedDjango, models: object
) -> None:
    book = models.Book.objects.order_by("id").first()  # type: ignore[attr-defined]
    traced_django.exporter.clear()

    _author, line = book.author, here()

    span = only_db_span(traced_django)
    assert relation_of(span) == ("inventory.Book.author", "forward_fk", "author")
    assert span.attributes is not None
    assert span.attributes["code.file.path"] == __file__
    assert span.attributes["code.line.number"] == line
    assert span.attributes["code.function.name"] == (
        f"{__name__}.test_forward_foreign_key_load_names_model_field_and_select_related_lookup"
    )


def test_forward_one_to_one_load_is_kind_one_to_one(
    traced_django: TracedDjango, models: object
) -> None:
    profile = models.AuthorProfile.objects.order_by("id").first()  # type: ignore[attr-defined]
    traced_django.exporter.clear()

    _author, line = profile.author, here()

    span = only_db_span(traced_django)
    assert relation_of(span) == ("inventory.AuthorProfile.author", "one_to_one", "author")
    assert span.attributes is not None and span.attributes["code.line.number"] == line


def test_reverse_one_to_one_load_names_the_related_name(
    traced_django: TracedDjango, models: object
) -> None:
    author = models.Author.objects.order_by("id").first()  # type: ignore[attr-defined]
    traced_django.exporter.clear()

    _profile, line = author.profile, here()

    span = only_db_span(traced_django)
    assert relation_of(span) == ("inventory.Author.profile", "reverse_one_to_one", "profile")
    assert span.attributes is not None and span.attributes["code.line.number"] == line


def test_reverse_foreign_key_queryset_is_attributed_where_it_is_evaluated(
    traced_django: TracedDjango, models: object
) -> None:
    author = models.Author.objects.order_by("id").first()  # type: ignore[attr-defined]
    books = author.book_set.all()  # builds the queryset: no query yet
    traced_django.exporter.clear()

    titles, line = [b.title for b in books], here()

    assert titles
    span = only_db_span(traced_django)
    assert relation_of(span) == ("inventory.Author.book_set", "reverse_fk", "book_set")
    assert span.attributes is not None and span.attributes["code.line.number"] == line


def test_reverse_foreign_key_with_related_name_uses_it_as_lookup(
    traced_django: TracedDjango, models: object
) -> None:
    publisher = models.Publisher.objects.order_by("id").first()  # type: ignore[attr-defined]
    traced_django.exporter.clear()

    list(publisher.books.all())

    assert relation_of(only_db_span(traced_django)) == (
        "inventory.Publisher.books",
        "reverse_fk",
        "books",
    )


def test_relation_survives_queryset_chaining_and_count(
    traced_django: TracedDjango, models: object
) -> None:
    author = models.Author.objects.order_by("id").first()  # type: ignore[attr-defined]
    traced_django.exporter.clear()

    count = author.book_set.filter(title__startswith="Book").order_by("-id").count()

    assert count == 2
    assert relation_of(only_db_span(traced_django)) == (
        "inventory.Author.book_set",
        "reverse_fk",
        "book_set",
    )


def test_forward_many_to_many_load_names_the_field(
    traced_django: TracedDjango, models: object
) -> None:
    book = models.Book.objects.order_by("id").first()  # type: ignore[attr-defined]
    traced_django.exporter.clear()

    list(book.tags.all())

    assert relation_of(only_db_span(traced_django)) == (
        "inventory.Book.tags",
        "many_to_many",
        "tags",
    )


def test_reverse_many_to_many_load_names_the_accessor(
    traced_django: TracedDjango, models: object
) -> None:
    tag = models.Tag.objects.order_by("id").first()  # type: ignore[attr-defined]
    traced_django.exporter.clear()

    list(tag.book_set.all())

    assert relation_of(only_db_span(traced_django)) == (
        "inventory.Tag.book_set",
        "many_to_many",
        "book_set",
    )


def test_plain_query_carries_code_location_but_no_relation(
    traced_django: TracedDjango, models: object
) -> None:
    books, line = list(models.Book.objects.all()), here()  # type: ignore[attr-defined]

    assert books
    span = only_db_span(traced_django)
    assert relation_of(span) == (None, None, None)
    assert span.attributes is not None and span.attributes["code.line.number"] == line


def test_each_lazy_load_in_an_n_plus_one_loop_is_attributed(
    traced_django: TracedDjango, models: object
) -> None:
    books = list(models.Book.objects.order_by("id"))  # type: ignore[attr-defined]
    traced_django.exporter.clear()

    lines = set()
    for book in books:
        _name, line = book.publisher.name, here()
        lines.add(line)

    spans = traced_django.db_spans()
    assert len(spans) == len(books)
    assert {relation_of(s) for s in spans} == {
        ("inventory.Book.publisher", "forward_fk", "publisher")
    }
    assert {s.attributes["code.line.number"] for s in spans if s.attributes} == lines


def test_lazy_loads_in_a_template_are_located_where_the_template_was_rendered(
    traced_django: TracedDjango, models: object
) -> None:
    from django.template import engines

    books = list(models.Book.objects.order_by("id")[:2])  # type: ignore[attr-defined]
    template = engines["django"].from_string(
        "{% for book in books %}{{ book.author.name }} {{ book.publisher.books.count }}{% endfor %}"
    )
    traced_django.exporter.clear()

    _html, line = template.render({"books": books}), here()

    spans = [s for s in traced_django.db_spans() if s.name != "spanscope.template"]
    # Django's template code reads the attributes, not the application: the
    # location is the first application frame above it.
    assert {relation_of(s)[0] for s in spans} == {
        "inventory.Book.author",
        "inventory.Book.publisher",
        "inventory.Publisher.books",
    }
    assert {(s.attributes or {}).get("code.line.number") for s in spans} == {line}
    assert {(s.attributes or {}).get("code.file.path") for s in spans} == {__file__}


def test_prefetched_relations_issue_no_lazy_load_and_prefetch_query_is_not_one(
    traced_django: TracedDjango, models: object
) -> None:
    authors = list(models.Author.objects.prefetch_related("book_set"))  # type: ignore[attr-defined]
    prefetch_spans = traced_django.db_spans()
    traced_django.exporter.clear()

    for author in authors:
        list(author.book_set.all())

    assert traced_django.db_spans() == []
    assert len(prefetch_spans) == 2
    assert {relation_of(s) for s in prefetch_spans} == {(None, None, None)}


def test_select_related_issues_no_lazy_load(traced_django: TracedDjango, models: object) -> None:
    books = list(models.Book.objects.select_related("author"))  # type: ignore[attr-defined]
    traced_django.exporter.clear()

    names = [b.author.name for b in books]

    assert names
    assert traced_django.db_spans() == []


def test_relation_does_not_leak_to_the_next_query(
    traced_django: TracedDjango, models: object
) -> None:
    book = models.Book.objects.order_by("-id").first()  # type: ignore[attr-defined]
    book.author  # noqa: B018 -- the lazy load under test
    traced_django.exporter.clear()

    list(models.Tag.objects.all())  # type: ignore[attr-defined]

    assert relation_of(only_db_span(traced_django)) == (None, None, None)


def test_install_is_idempotent(traced_django: TracedDjango, models: object) -> None:
    from django.db.models.fields.related_descriptors import ForwardManyToOneDescriptor
    from spanscope.instrument import relations

    patched = ForwardManyToOneDescriptor.get_object
    assert relations.install()
    assert ForwardManyToOneDescriptor.get_object is patched


def test_generic_foreign_key_load_is_kind_generic_with_its_prefetch_lookup(
    traced_django: TracedDjango, models: object, generic_models: object
) -> None:
    comment = generic_models.Comment.objects.order_by("id").first()  # type: ignore[attr-defined]
    traced_django.exporter.clear()

    book, line = comment.content_object, here()

    assert book.title.startswith("Book")
    span = only_db_span(traced_django)
    assert relation_of(span) == ("inventory.Comment.content_object", "generic", "content_object")
    assert span.attributes is not None and span.attributes["code.line.number"] == line


def test_cached_generic_foreign_key_issues_no_query(
    traced_django: TracedDjango, models: object, generic_models: object
) -> None:
    comment = generic_models.Comment.objects.order_by("id").first()  # type: ignore[attr-defined]
    first = comment.content_object
    traced_django.exporter.clear()

    assert comment.content_object is first
    assert traced_django.db_spans() == []


def test_generic_relation_manager_in_a_loop_is_attributed_per_instance(
    traced_django: TracedDjango, models: object
) -> None:
    books = list(models.Book.objects.order_by("id"))  # type: ignore[attr-defined]
    traced_django.exporter.clear()

    texts = [c.text for book in books for c in book.comments.all()]

    assert len(texts) == len(books)
    spans = traced_django.db_spans()
    assert len(spans) == len(books)
    assert {relation_of(s) for s in spans} == {("inventory.Book.comments", "generic", "comments")}


def test_prefetched_generic_relations_are_not_lazy_loads(
    traced_django: TracedDjango, models: object, generic_models: object
) -> None:
    comments = list(generic_models.Comment.objects.prefetch_related("content_object"))  # type: ignore[attr-defined]
    books = list(models.Book.objects.prefetch_related("comments"))  # type: ignore[attr-defined]
    prefetch_spans = traced_django.db_spans()
    traced_django.exporter.clear()

    [c.content_object for c in comments]
    [list(b.comments.all()) for b in books]

    assert traced_django.db_spans() == []
    assert len(prefetch_spans) == 4
    assert {relation_of(s) for s in prefetch_spans} == {(None, None, None)}


def test_per_instance_prefetch_related_objects_in_a_loop_is_a_lazy_load(
    traced_django: TracedDjango, models: object
) -> None:
    from django.db.models import prefetch_related_objects

    books = list(models.Book.objects.order_by("id"))  # type: ignore[attr-defined]
    traced_django.exporter.clear()

    for book in books:
        prefetch_related_objects([book], "author")

    spans = traced_django.db_spans()
    assert len(spans) == len(books)
    assert {relation_of(s) for s in spans} == {("inventory.Book.author", "forward_fk", "author")}


def test_per_instance_prefetch_of_a_many_relation_uses_the_relation_kind(
    traced_django: TracedDjango, models: object
) -> None:
    from django.db.models import prefetch_related_objects

    author = models.Author.objects.order_by("id").first()  # type: ignore[attr-defined]
    traced_django.exporter.clear()

    prefetch_related_objects([author], "book_set")

    assert relation_of(only_db_span(traced_django)) == (
        "inventory.Author.book_set",
        "reverse_fk",
        "book_set",
    )


def test_per_instance_nested_prefetch_names_each_level_with_the_path_to_it(
    traced_django: TracedDjango, models: object
) -> None:
    from django.db.models import prefetch_related_objects

    book = models.Book.objects.order_by("id").first()  # type: ignore[attr-defined]
    traced_django.exporter.clear()

    prefetch_related_objects([book], "author__profile")

    assert [relation_of(s) for s in traced_django.db_spans()] == [
        ("inventory.Book.author", "forward_fk", "author"),
        ("inventory.Author.profile", "reverse_one_to_one", "author__profile"),
    ]


def test_per_instance_prefetch_of_a_generic_foreign_key_is_kind_generic(
    traced_django: TracedDjango, models: object, generic_models: object
) -> None:
    from django.db.models import prefetch_related_objects

    comment = generic_models.Comment.objects.order_by("id").first()  # type: ignore[attr-defined]
    traced_django.exporter.clear()

    prefetch_related_objects([comment], "content_object")

    assert relation_of(only_db_span(traced_django)) == (
        "inventory.Comment.content_object",
        "generic",
        "content_object",
    )


def test_batched_prefetch_related_objects_is_not_a_lazy_load(
    traced_django: TracedDjango, models: object
) -> None:
    from django.db.models import prefetch_related_objects

    books = list(models.Book.objects.order_by("id"))  # type: ignore[attr-defined]
    traced_django.exporter.clear()

    prefetch_related_objects(books, "author", "tags")

    spans = traced_django.db_spans()
    assert len(spans) == 2
    assert {relation_of(s) for s in spans} == {(None, None, None)}


def test_queryset_prefetch_returning_one_row_is_not_a_lazy_load(
    traced_django: TracedDjango, models: object
) -> None:
    first_id = models.Book.objects.order_by("id").values_list("id", flat=True)[0]  # type: ignore[attr-defined]
    traced_django.exporter.clear()

    book = models.Book.objects.prefetch_related("tags").get(id=first_id)  # type: ignore[attr-defined]

    assert list(book.tags.all())
    spans = traced_django.db_spans()
    assert len(spans) == 2
    assert {relation_of(s) for s in spans} == {(None, None, None)}


def test_nested_loops_attribute_each_level_to_its_own_relation(
    traced_django: TracedDjango, models: object
) -> None:
    authors = list(models.Author.objects.order_by("id"))  # type: ignore[attr-defined]
    traced_django.exporter.clear()

    for author in authors:
        for book in author.book_set.all():
            book.publisher.name  # noqa: B018 -- the lazy load under test

    book_set = ("inventory.Author.book_set", "reverse_fk", "book_set")
    publisher = ("inventory.Book.publisher", "forward_fk", "publisher")
    relations = [relation_of(s) for s in traced_django.db_spans()]
    books_per_author = 2
    assert relations == [book_set, *[publisher] * books_per_author] * len(authors)


def test_install_again_keeps_the_generic_and_prefetch_patches(
    traced_django: TracedDjango, generic_models: object
) -> None:
    from django.contrib.contenttypes.fields import GenericForeignKey
    from django.db.models import query
    from spanscope.instrument import relations

    patched = (GenericForeignKey.__get__, query.prefetch_related_objects, query.prefetch_one_level)
    assert relations.install()
    assert (
        GenericForeignKey.__get__,
        query.prefetch_related_objects,
        query.prefetch_one_level,
    ) == patched
    assert all(getattr(f, "__wrapped__", None) is not None for f in patched)
