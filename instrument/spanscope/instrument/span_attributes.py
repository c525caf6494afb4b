"""Add attributes to a span that is being started, without the SDK's per-value validation.

``Span.set_attributes`` runs every value through ``_clean_attribute_value``
(type checks, sequence copies, length limits) under two locks: ~4 µs per
attribute on the 2-core development machine, which made it the largest part of
spanscope's per-span cost.  The values spanscope adds are plain ``str``/``int``/
``bool`` built by spanscope itself, so that validation cannot change them --
unless a length limit (``OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT``) or a count limit
would apply.  :func:`add_attributes` therefore writes straight into the span's
``BoundedAttributes`` store only when it can prove the result is what the SDK
would have produced, and otherwise calls the public API.  No lock is needed:
``on_start`` runs before ``start_span`` hands the span to anyone.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk.trace import Span
from opentelemetry.util.types import AttributeValue


def fast_path_applies(span: Span, count: int) -> bool:
    """Whether ``count`` new plain attributes may be stored directly on ``span``."""
    store = getattr(span, "_attributes", None)
    return (
        type(store) is BoundedAttributes
        and not store._immutable
        and store.max_value_len is None
        and type(getattr(store, "_dict", None)) is dict
        and (store.maxlen is None or len(store._dict) + count <= store.maxlen)
    )


def attribute_store(span: Span) -> dict[str, AttributeValue]:
    """The plain dict behind ``span``'s attributes; only after :func:`fast_path_applies`."""
    store: Any = span._attributes
    return store._dict  # type: ignore[no-any-return]


def add_attributes(span: Span, new: Mapping[str, AttributeValue]) -> None:
    """``span.set_attributes(new)`` for spanscope's own plain values, minus the validation cost."""
    if fast_path_applies(span, len(new)):
        attribute_store(span).update(new)
    else:
        span.set_attributes(new)
