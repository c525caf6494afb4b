"""Which ORM relation is being lazily loaded right now, if any.

Kept apart from :mod:`spanscope.instrument.relations` (which patches Django) so the
span processor can read the current relation without importing Django.  A
:class:`~contextvars.ContextVar` follows threads, asyncio tasks and asgiref's
``sync_to_async`` hops, so the relation set around a lazy load is visible to the
DB span started by the query underneath it and to nothing else.
"""

from __future__ import annotations

from contextvars import ContextVar
from types import FrameType
from typing import Literal, NamedTuple

RelationKind = Literal[
    "forward_fk",
    "one_to_one",
    "reverse_one_to_one",
    "reverse_fk",
    "many_to_many",
    "generic",
]


class Relation(NamedTuple):
    """One relation of one model, e.g. ``Relation("inventory.Book.author", "forward_fk", "author")``.

    ``name`` is ``app_label.Model.field_or_accessor`` of the model whose instance
    triggered the load; ``lookup`` is what to pass to ``select_related()`` or
    ``prefetch_related()`` to load it up front.
    """

    name: str
    kind: RelationKind
    lookup: str


# What a lazy load publishes: its relation, and the frame that should be the
# application code that asked for it -- the caller of the descriptor or queryset
# method that runs the load, found by the wrapper with one ``sys._getframe`` (that
# frame is usually long-lived, a view running its loop, so no new frame object is
# made) -- or None.  The span processor uses the frame as the DB span's code
# location when it is application code, instead of walking the stack from the
# span's start: a walk materialises at least the wrapper's own frame, which a
# frame object makes costly to leave (see spanscope.instrument.code_location).
Published = tuple[Relation, FrameType | None]

# Set with ``token = current_relation.set((rel, frame))`` / ``current_relation.reset(token)``
# around the load: cheaper than a context manager on a path that runs per query.
current_relation: ContextVar[Published | None] = ContextVar("spanscope_orm_relation", default=None)
