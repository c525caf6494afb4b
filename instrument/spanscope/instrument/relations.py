"""Name the Django ORM relation whose lazy load runs a query.

``install()`` patches Django's related-object descriptors so that, while a lazy
load runs its query, :data:`spanscope.instrument.relation_context.current_relation`
names the relation; :mod:`spanscope.instrument.processor` copies it onto the DB span.

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
  ``get_queryset`` tags the SQL ``Query`` of the queryset it returns;
  ``Query.clone`` copies its ``__dict__``, so ``.filter()``/``.order_by()``
  chains carry the tag with no patch on the per-clone path (a ``_clone`` wrapper
  cost every queryset of the application a Python call per clone), and the
  evaluating methods (``_fetch_all``, ``count``, ``exists``) set the relation
  while they query.

- generic relations (``django.contrib.contenttypes``): ``GenericForeignKey.__get__``
  runs the query of ``comment.content_object``; a ``GenericRelation`` manager
  (``book.comments``) comes from ``create_generic_related_manager`` and is tagged
  like a reverse FK manager.  Importing ``contenttypes.fields`` needs a ready app
  registry, so those patches are applied by the first ``class_prepared`` signal
  sent after that module is loaded: when the first model using it is created,
  before any of its queries can run.  A content
  type looked up for the first time (``ContentType``'s cache is cold) is
  attributed to the generic relation that needed it.
- ``prefetch_related_objects([book], "author")`` called once per instance is an
  N+1 loop in disguise: see :func:`_is_per_instance_call` for how it is told
  from a batched prefetch.  Each prefetch level it runs is attributed to the
  relation of that level, with the lookup path up to that level.

The tag is a private attribute rather than a ``_hints`` entry (as other N+1
detectors do) because hints are passed as keyword arguments to database
routers, and a router with an explicit signature would raise on an unknown key.
The wrappers on the per-query path do as little as they can -- the evaluating
methods' wrappers take Django's exact, argument-less signatures, a descriptor's
wrapper finds its relation cached in the descriptor's ``__dict__`` -- because
each runs once per query, and each frame it adds is one more frame for the
span processor's stack walk.

Each wrapper also publishes, with the relation, the frame of the code that read
the attribute or evaluated the queryset, taken with one ``sys._getframe`` at the
depth where Django's own callers put it (``caller_depth``: 1 above ``__get__``,
``count`` and ``exists``; 2 above ``get_object``, which ``__get__`` calls, and
``_fetch_all``, which ``__iter__``, ``__len__`` and the like call).  When that frame
is application code it is the DB span's code location, and the span processor
does not walk the stack (see :data:`~spanscope.instrument.relation_context.Published`);
when it is not -- a template iterating a related manager, ``first()`` calling
``__iter__``, an application's own override of ``get_object`` -- the processor
walks as before.  The one case this can get wrong: application code calling
``get_object``, or ``_fetch_all``, directly (or overriding ``__iter__`` and
friends) from another application function: the location is then that
function's caller, one application frame up.

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
import sys
import threading
from collections.abc import Callable
from contextvars import ContextVar
from sys import _getframe
from typing import Any, TypeVar

from spanscope.instrument.relation_context import (
    Published,
    Relation,
    RelationKind,
    current_relation,
)

_logger = logging.getLogger(__name__)

# Attribute holding a Relation: on the sql.Query of a related manager's queryset,
# and cached on descriptors and generic foreign keys.
_TAG = "_spanscope_relation"
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


def _replace(owner: Any, name: str, make_wrapper: Callable[[Any], Any]) -> None:
    """``owner.name = make_wrapper(owner.name)``, once: a second install leaves it alone."""
    original = getattr(owner, name)
    if not _is_patched(original):
        setattr(owner, name, _mark(make_wrapper(original)))


def _setting_relation(original: F, relation_of: Callable[[Any], Relation], caller_depth: int) -> F:
    """Wrap a descriptor method ``(self, instance, ...)`` that queries: the relation is current.

    ``relation_of(self)`` caches the relation in ``self.__dict__`` (one per model
    field for the life of the process), where the wrapper looks first.
    ``caller_depth`` is where the code that read the attribute sits when Django
    calls ``original`` the usual way: 1 for ``__get__`` itself, 2 for a method
    ``__get__`` calls; it is published with the relation (see
    :data:`~spanscope.instrument.relation_context.Published`).
    """

    @functools.wraps(original)
    def wrapper(self: Any, instance: Any, *args: Any) -> Any:
        if instance is None:  # class access (``Book.author``): no query
            return original(self, instance, *args)
        try:  # free unless it raises (3.11's zero-cost exceptions)
            relation = self.__dict__.get(_TAG) or relation_of(self)
        except Exception:
            _logger.debug("spanscope: no relation for %r", self, exc_info=True)
            return original(self, instance, *args)
        # Inline, as in _evaluating: a shared helper would be one more call per lazy load.
        published: Published
        try:
            published = (relation, _getframe(caller_depth))
        except ValueError:  # a stack shallower than caller_depth: the processor walks
            published = (relation, None)
        token = current_relation.set(published)
        try:
            return original(self, instance, *args)
        finally:
            current_relation.reset(token)

    return wrapper  # type: ignore[return-value]


def _tagging_factory(original: F, relation_of: Callable[..., Relation]) -> F:
    """Wrap a related-manager class factory ``(superclass, rel, ...)``: its managers tag querysets.

    ``relation_of`` takes the factory's arguments after ``superclass``.  Runs once
    per relation (Django caches the manager class), never per query.
    """

    @functools.wraps(original)
    def factory(superclass: Any, rel: Any, *args: Any, **kwargs: Any) -> Any:
        manager_cls = original(superclass, rel, *args, **kwargs)
        try:
            _tag_manager_class(manager_cls, relation_of(rel, *args, **kwargs))
        except Exception:
            _logger.debug("spanscope: cannot tag the related manager of %r", rel, exc_info=True)
        return manager_cls

    return factory  # type: ignore[return-value]


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
    # ForwardOneToOneDescriptor reaches get_object through super().
    _replace(
        rd.ForwardManyToOneDescriptor,
        "get_object",
        # Called by ForwardManyToOneDescriptor.__get__.
        lambda original: _setting_relation(original, _forward_relation, 2),
    )


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
    _replace(
        rd.ReverseOneToOneDescriptor,
        "__get__",
        lambda original: _setting_relation(original, _reverse_one_to_one_relation, 1),
    )


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
            # A fresh Query: _apply_rel_filters has just cloned it for this queryset.
            # The private _query, as the evaluating wrappers read it: the public
            # property would apply a deferred filter early.
            try:
                queryset._query.__dict__[_TAG] = relation
            except Exception:
                _logger.debug("spanscope: cannot tag %r", type(queryset), exc_info=True)
        return queryset

    manager_cls.get_queryset = _mark(get_queryset)


def _reverse_fk_relation(rel: Any) -> Relation:
    return _relation(rel.model, rel.get_accessor_name(), "reverse_fk")


def _many_to_many_relation(rel: Any, reverse: bool) -> Relation:
    if reverse:
        return _relation(rel.model, rel.get_accessor_name(), "many_to_many")
    return _relation(rel.field.model, rel.field.name, "many_to_many")


def _patch_reverse_many_to_one_factory(rd: Any) -> None:
    _replace(
        rd,
        "create_reverse_many_to_one_manager",
        lambda original: _tagging_factory(original, _reverse_fk_relation),
    )


def _patch_many_to_many_factory(rd: Any) -> None:
    _replace(
        rd,
        "create_forward_many_to_many_manager",
        lambda original: _tagging_factory(
            original, lambda rel, reverse: _many_to_many_relation(rel, bool(reverse))
        ),
    )


# --- QuerySet: set the relation while querying ------------------------------------------

# The QuerySet methods that run a query for the queryset itself; each takes no
# argument (Django 4.2-5.x), so the wrapper takes none either.
_EVALUATING_METHODS = {"_fetch_all": 2, "count": 1, "exists": 1}


def _evaluating(original: F, caller_depth: int) -> F:
    """Wrap an evaluating ``QuerySet`` method: a tagged queryset's relation is current.

    ``caller_depth`` as for :func:`_setting_relation`: 2 for ``_fetch_all``, which
    ``__iter__``, ``__len__`` and the like call; 1 for ``count`` and ``exists``.
    """

    @functools.wraps(original)
    def wrapper(self: Any) -> Any:
        relation = self._query.__dict__.get(_TAG)
        if relation is None:
            return original(self)
        published: Published
        try:
            published = (relation, _getframe(caller_depth))
        except ValueError:  # a stack shallower than caller_depth
            published = (relation, None)
        token = current_relation.set(published)
        try:
            return original(self)
        finally:
            current_relation.reset(token)

    return wrapper  # type: ignore[return-value]


def _patch_queryset(queryset_cls: Any) -> None:
    # The wrapper reads the tag from the private ``_query`` (the public ``query``
    # property is a Python call on every evaluation); a Django without it is
    # left unpatched, and this patch reported as failed.
    if "_query" not in queryset_cls().__dict__:
        raise TypeError(f"{queryset_cls!r} instances have no _query; relations not tracked")
    for name, caller_depth in _EVALUATING_METHODS.items():
        _replace(queryset_cls, name, functools.partial(_evaluating, caller_depth=caller_depth))


def _patch_queryset_module(rd: Any) -> None:
    from django.db.models.query import QuerySet

    _patch_queryset(QuerySet)


# --- relation of a descriptor, for prefetches -----------------------------------------

# Descriptor class -> its relation; looked up along the MRO so that a subclass
# (ManyToManyDescriptor under ReverseManyToOneDescriptor) finds its own entry first.
_DESCRIPTOR_RELATIONS: dict[type, Callable[[Any], Relation]] = {}


def _register_descriptors(rd: Any) -> None:
    _DESCRIPTOR_RELATIONS.update(
        {
            rd.ForwardManyToOneDescriptor: _forward_relation,
            rd.ReverseOneToOneDescriptor: _reverse_one_to_one_relation,
            rd.ReverseManyToOneDescriptor: lambda d: _reverse_fk_relation(d.rel),
            rd.ManyToManyDescriptor: lambda d: _many_to_many_relation(d.rel, bool(d.reverse)),
        }
    )


def _descriptor_relation(descriptor: object) -> Relation | None:
    for klass in type(descriptor).__mro__:
        relation_of = _DESCRIPTOR_RELATIONS.get(klass)
        if relation_of is not None:
            return relation_of(descriptor)
    return None


# --- generic relations (django.contrib.contenttypes) ------------------------------------

_CONTENTTYPES_FIELDS = "django.contrib.contenttypes.fields"
_CLASS_PREPARED_UID = "spanscope.relations.contenttypes"


def _generic_foreign_key_relation(field: Any) -> Relation:
    relation: Relation | None = field.__dict__.get(_TAG)
    if relation is None:
        relation = field.__dict__[_TAG] = _relation(field.model, field.name, "generic")
    return relation


def _generic_relation(rel: Any) -> Relation:
    # rel.model is the model holding the GenericForeignKey; the accessor lives on
    # the model that declares the GenericRelation.
    return _relation(rel.field.model, rel.field.name, "generic")


def _patch_generic_foreign_key(fields: Any) -> None:
    _replace(
        fields.GenericForeignKey,
        "__get__",
        lambda original: _setting_relation(original, _generic_foreign_key_relation, 1),
    )


def _patch_generic_manager_factory(fields: Any) -> None:
    _replace(
        fields,
        "create_generic_related_manager",
        lambda original: _tagging_factory(original, _generic_relation),
    )


def _patch_loaded_contenttypes() -> bool:
    """Patch ``contenttypes.fields`` if it is fully imported; True once it is patched."""
    fields = sys.modules.get(_CONTENTTYPES_FIELDS)
    # Partly imported while its own ContentType model is being prepared.
    if fields is None or not hasattr(fields, "create_generic_related_manager"):
        return False
    _patch_generic_foreign_key(fields)
    _patch_generic_manager_factory(fields)
    _DESCRIPTOR_RELATIONS[fields.GenericForeignKey] = _generic_foreign_key_relation
    _DESCRIPTOR_RELATIONS[fields.ReverseGenericManyToOneDescriptor] = lambda d: _generic_relation(
        d.rel
    )
    return True


def _on_class_prepared(sender: Any, **kwargs: Any) -> None:
    try:
        if _patch_loaded_contenttypes():
            from django.db.models.signals import class_prepared

            class_prepared.disconnect(dispatch_uid=_CLASS_PREPARED_UID)
    except Exception:
        _logger.debug("spanscope: could not patch generic relations", exc_info=True)


def _patch_contenttypes(rd: Any) -> None:
    if _patch_loaded_contenttypes():
        return
    from django.db.models.signals import class_prepared

    # Receivers run only while model classes are created (startup), never per query.
    class_prepared.connect(_on_class_prepared, weak=False, dispatch_uid=_CLASS_PREPARED_UID)


# --- per-instance prefetch_related_objects ------------------------------------------------

_per_instance_prefetch: ContextVar[bool] = ContextVar("spanscope_per_instance", default=False)
_DJANGO_QUERY_MODULE = "django.db.models.query"


def _is_per_instance_call(model_instances: Any, caller_module: object) -> bool:
    """Whether a ``prefetch_related_objects`` call loads relations for one instance only.

    Only such a call is a lazy load in disguise: called once per instance in a
    loop it is an N+1, fixed by prefetching on the loop's queryset.  Calls from
    Django's own ``QuerySet`` (``prefetch_related()``, ``iterator(chunk_size)``)
    are batched prefetches -- already the fix -- even when the queryset returned
    a single row, so they are never tagged.  They are told apart by the calling
    module: one frame looked up per call of this (rare) function, not per query.
    A call from another module with several instances is a batched prefetch too.
    """
    if caller_module == _DJANGO_QUERY_MODULE:
        return False
    try:
        return len(model_instances) == 1
    except TypeError:  # an iterable without len() is not a single instance list
        return False


def _prefetch_relation(instances: Any, lookup: Any, level: int) -> Relation | None:
    through = lookup.prefetch_through.split("__")
    descriptor = getattr(type(instances[0]), through[level], None)
    relation = _descriptor_relation(descriptor)
    if relation is None or level == 0:
        return relation
    # Deeper levels are fixed by prefetching the whole path from the loop's model.
    return relation._replace(lookup="__".join(through[: level + 1]))


def _patch_prefetch_related_objects(rd: Any) -> None:
    from django.db import models
    from django.db.models import query

    original = query.prefetch_related_objects
    if not _is_patched(original):

        @functools.wraps(original)
        def prefetch_related_objects(model_instances: Any, *related_lookups: Any) -> Any:
            try:
                per_instance = _is_per_instance_call(
                    model_instances, sys._getframe(1).f_globals.get("__name__")
                )
            except Exception:
                per_instance = False
            if not per_instance:
                return original(model_instances, *related_lookups)
            token = _per_instance_prefetch.set(True)
            try:
                return original(model_instances, *related_lookups)
            finally:
                _per_instance_prefetch.reset(token)

        # QuerySet calls the module global; user code imports it from django.db.models.
        query.prefetch_related_objects = _mark(prefetch_related_objects)
        if models.prefetch_related_objects is original:
            models.prefetch_related_objects = query.prefetch_related_objects

    original_level = query.prefetch_one_level
    if _is_patched(original_level):
        return

    @functools.wraps(original_level)
    def prefetch_one_level(instances: Any, prefetcher: Any, lookup: Any, level: int) -> Any:
        if not _per_instance_prefetch.get():
            return original_level(instances, prefetcher, lookup, level)
        try:
            relation = _prefetch_relation(instances, lookup, level)
        except Exception:
            _logger.debug("spanscope: no relation for prefetch %r", lookup, exc_info=True)
            relation = None
        if relation is None:
            return original_level(instances, prefetcher, lookup, level)
        # Deep below the application's loop: the span processor walks to it.
        token = current_relation.set((relation, None))
        try:
            return original_level(instances, prefetcher, lookup, level)
        finally:
            current_relation.reset(token)

    query.prefetch_one_level = _mark(prefetch_one_level)


# Each patch is independent: one failing (a Django version without that hook)
# leaves the others working.
_PATCHES: tuple[tuple[str, Callable[[Any], None]], ...] = (
    ("forward many-to-one / one-to-one", _patch_forward_descriptor),
    ("reverse one-to-one", _patch_reverse_one_to_one_descriptor),
    ("reverse foreign key manager", _patch_reverse_many_to_one_factory),
    ("many-to-many manager", _patch_many_to_many_factory),
    ("queryset evaluation", _patch_queryset_module),
    ("descriptor relations for prefetches", _register_descriptors),
    ("per-instance prefetch_related_objects", _patch_prefetch_related_objects),
    ("generic relations", _patch_contenttypes),
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
