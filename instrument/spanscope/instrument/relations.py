"""Name the Django ORM relation whose lazy load runs a query.

``install()`` patches Django's related-object descriptors so that, while a lazy
load runs its query, :data:`spanscope.instrument.relation_context.current_relation`
names the relation; :class:`~spanscope.instrument.processor.SpanscopeSpanProcessor`
copies it onto the DB span.

How each kind is caught (Django 4.2-5.x):

- forward FK and forward one-to-one (``book.author``): the query runs inside
  ``ForwardManyToOneDescriptor.get_object``, which ``ForwardOneToOneDescriptor``
  reaches through ``super()``; the relation is set around that call.
- reverse one-to-one (``author.profile``): the query runs inside
  ``ReverseOneToOneDescriptor.__get__``.
- reverse FK and many-to-many (``author.book_set.all()``): the manager only
  *builds* a queryset; it is evaluated later, often in a template.  The related
  manager classes come from ``create_reverse_many_to_one_manager`` and
  ``create_forward_many_to_many_manager``, which Django calls through their
  module globals the first time a descriptor's ``related_manager_cls`` is read,
  so replacing those globals before any model is used is enough.  The wrapped
  ``get_queryset`` tags the queryset it returns, ``QuerySet._clone`` carries the
  tag to ``.filter()``/``.order_by()`` chains, and the evaluating methods
  (``_fetch_all``, ``count``, ``exists``) set the relation while they query.

The tag is a private attribute rather than a ``_hints`` entry (as other N+1
detectors do) because hints are passed as keyword arguments to database
routers, and a router with an explicit signature would raise on an unknown key.
Prefetched managers return their cached queryset untagged, and
``get_prefetch_querysets`` builds its queryset without the wrapped
``get_queryset``, so prefetch queries are not mistaken for lazy loads.

Patching happens at import of Django's ORM modules, which does not need
configured settings, so ``install()`` may run before ``DJANGO_SETTINGS_MODULE``
is read.  It is idempotent and never raises.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from spanscope.instrument.relation_context import Relation, RelationKind, current_relation

_logger = logging.getLogger(__name__)

_TAG = "_spanscope_relation"  # QuerySet attribute holding the Relation of a related manager
_PATCHED = "__spanscope_patched__"
_lock = threading.Lock()
_installed = False

F = TypeVar("F", bound=Callable[..., Any])


def _relation(model: Any, attribute: str, kind: RelationKind) -> Relation:
    return Relation(f"{model._meta.label}.{attribute}", kind, attribute)


def _mark(wrapper: F) -> F:
    setattr(wrapper, _PATCHED, True)
    return wrapper


def _is_patched(function: object) -> bool:
    return bool(getattr(function, _PATCHED, False))


# --- forward FK / one-to-one -------------------------------------------------


def _forward_relation(descriptor: Any) -> Relation:
    # Cached on the descriptor: one per model field for the life of the process.
    relation: Relation | None = descriptor.__dict__.get(_TAG)
    if relation is None:
        field = descriptor.field
        kind: RelationKind = "one_to_one" if field.one_to_one else "forward_fk"
        relation = descriptor.__dict__[_TAG] = _relation(field.model, field.name, kind)
    return relation


def _patch_forward_descriptor(rd: Any) -> None:
    cls = rd.ForwardManyToOneDescriptor
    original = cls.get_object
    if _is_patched(original):
        return

    @functools.wraps(original)
    def get_object(self: Any, instance: Any) -> Any:
        try:
            token = current_relation.set(_forward_relation(self))
        except Exception:
            _logger.debug("spanscope: no relation for %r", self, exc_info=True)
            return original(self, instance)
        try:
            return original(self, instance)
        finally:
            current_relation.reset(token)

    cls.get_object = _mark(get_object)


# --- reverse one-to-one ------------------------------------------------------


def _reverse_one_to_one_relation(descriptor: Any) -> Relation:
    relation: Relation | None = descriptor.__dict__.get(_TAG)
    if relation is None:
        related = descriptor.related
        relation = descriptor.__dict__[_TAG] = _relation(
            related.model, related.get_accessor_name(), "reverse_one_to_one"
        )
    return relation


def _patch_reverse_one_to_one_descriptor(rd: Any) -> None:
    cls = rd.ReverseOneToOneDescriptor
    original = cls.__get__
    if _is_patched(original):
        return

    @functools.wraps(original)
    def __get__(self: Any, instance: Any, cls: Any = None) -> Any:
        if instance is None:
            return original(self, instance, cls)
        try:
            token = current_relation.set(_reverse_one_to_one_relation(self))
        except Exception:
            _logger.debug("spanscope: no relation for %r", self, exc_info=True)
            return original(self, instance, cls)
        try:
            return original(self, instance, cls)
        finally:
            current_relation.reset(token)

    cls.__get__ = _mark(__get__)


# --- reverse FK and many-to-many managers --------------------------------------


def _tag_manager_class(manager_cls: Any, relation: Relation) -> None:
    original = manager_cls.get_queryset
    if _is_patched(original):
        return

    @functools.wraps(original)
    def get_queryset(self: Any) -> Any:
        queryset = original(self)
        # A prefetched relation returns its already-filled cache: no query to label.
        if getattr(queryset, "_result_cache", True) is None:
            setattr(queryset, _TAG, relation)
        return queryset

    manager_cls.get_queryset = _mark(get_queryset)


def _reverse_fk_relation(rel: Any) -> Relation:
    return _relation(rel.model, rel.get_accessor_name(), "reverse_fk")


def _many_to_many_relation(rel: Any, reverse: bool) -> Relation:
    if reverse:
        return _relation(rel.model, rel.get_accessor_name(), "many_to_many")
    return _relation(rel.field.model, rel.field.name, "many_to_many")


def _patch_reverse_many_to_one_factory(rd: Any) -> None:
    original = rd.create_reverse_many_to_one_manager
    if _is_patched(original):
        return

    @functools.wraps(original)
    def create_reverse_many_to_one_manager(superclass: Any, rel: Any) -> Any:
        manager_cls = original(superclass, rel)
        try:
            _tag_manager_class(manager_cls, _reverse_fk_relation(rel))
        except Exception:
            _logger.debug("spanscope: cannot tag reverse FK manager %r", rel, exc_info=True)
        return manager_cls

    rd.create_reverse_many_to_one_manager = _mark(create_reverse_many_to_one_manager)


def _patch_many_to_many_factory(rd: Any) -> None:
    original = rd.create_forward_many_to_many_manager
    if _is_patched(original):
        return

    @functools.wraps(original)
    def create_forward_many_to_many_manager(superclass: Any, rel: Any, reverse: Any) -> Any:
        manager_cls = original(superclass, rel, reverse)
        try:
            _tag_manager_class(manager_cls, _many_to_many_relation(rel, bool(reverse)))
        except Exception:
            _logger.debug("spanscope: cannot tag many-to-many manager %r", rel, exc_info=True)
        return manager_cls

    rd.create_forward_many_to_many_manager = _mark(create_forward_many_to_many_manager)


# --- QuerySet: carry the tag, set the relation while querying --------------------------

# The QuerySet methods that run a query for the queryset itself.
_EVALUATING_METHODS = ("_fetch_all", "count", "exists")


def _evaluating(original: F) -> F:
    @functools.wraps(original)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        relation = self.__dict__.get(_TAG)
        if relation is None:
            return original(self, *args, **kwargs)
        token = current_relation.set(relation)
        try:
            return original(self, *args, **kwargs)
        finally:
            current_relation.reset(token)

    return _mark(wrapper)  # type: ignore[return-value]


def _patch_queryset(queryset_cls: Any) -> None:
    original_clone = queryset_cls._clone
    if not _is_patched(original_clone):

        @functools.wraps(original_clone)
        def _clone(self: Any, *args: Any, **kwargs: Any) -> Any:
            clone = original_clone(self, *args, **kwargs)
            relation = self.__dict__.get(_TAG)
            if relation is not None:
                clone.__dict__[_TAG] = relation
            return clone

        queryset_cls._clone = _mark(_clone)
    for name in _EVALUATING_METHODS:
        method = getattr(queryset_cls, name)
        if not _is_patched(method):
            setattr(queryset_cls, name, _evaluating(method))


def _patch_queryset_module(rd: Any) -> None:
    from django.db.models.query import QuerySet

    _patch_queryset(QuerySet)


# Each patch is independent: one failing (a Django version without that hook)
# leaves the others working.
_PATCHES: tuple[tuple[str, Callable[[Any], None]], ...] = (
    ("forward many-to-one / one-to-one", _patch_forward_descriptor),
    ("reverse one-to-one", _patch_reverse_one_to_one_descriptor),
    ("reverse foreign key manager", _patch_reverse_many_to_one_factory),
    ("many-to-many manager", _patch_many_to_many_factory),
    ("queryset evaluation", _patch_queryset_module),
)


def install() -> bool:
    """Patch Django (if importable) so lazy loads name their relation.

    Returns True when every patch is in place.  Idempotent, thread-safe, and
    never raises: without Django, or with an unexpected Django, it logs at
    debug level and returns False.
    """
    global _installed
    with _lock:
        if _installed:
            return True
        try:
            from django.db.models.fields import related_descriptors
        except Exception:
            _logger.debug("spanscope: Django ORM not importable, relations not tracked")
            return False
        complete = True
        for description, patch in _PATCHES:
            try:
                patch(related_descriptors)
            except Exception:
                complete = False
                _logger.debug("spanscope: could not patch %s", description, exc_info=True)
        _installed = complete
        return complete
