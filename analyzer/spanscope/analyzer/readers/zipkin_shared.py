"""Zipkin's shared spans: a client span and the server span it called, under one id.

B3 instrumentation (Brave, zipkin-go, Envoy's Zipkin tracer) by default lets the
server *join* the client's span: both halves of the RPC are reported with the same
``id``, the server half marked ``"shared": true`` (its ``parentId`` is the client's
parent, copied from the ``X-B3-ParentSpanId`` header).  Read as is, the halves
would be one span id twice -- load's duplicate merge would keep one and drop the
other -- and the server half could not be told apart as a request of its own.

Resolved as Zipkin's own tree builder (``zipkin2.internal.SpanNode``) and Jaeger's
``SpanIDDeduper`` adjuster do:

* the server half gets an id of its own and the shared id as its parent: it is a
  request *under* the client span that called it;
* a span whose parent is the shared id belongs under the server half when it was
  recorded by the server's service (or by no named service), as Zipkin decides it
  by the local endpoint; spans of the client's own service stay under the client.

A ``SERVER`` span without the flag that has the id of a ``CLIENT`` span in the same
trace is treated as shared too (older tracers do not set it; Jaeger's rule).  The new
id is a hash of the trace id, the shared id and the server's local endpoint (Zipkin
keys a shared span by exactly these): the same span read from two overlapping files
gets the same id, so the duplicate merge still counts it once.  It is re-hashed in
the (2^-64) case that it is already taken in the trace.

Children are re-attached only within one file: when the server half and its children
arrive in different files, those children stay under the client span.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

#: The fields of a Zipkin endpoint that identify the host that recorded a span.
_ENDPOINT_FIELDS: Final = ("serviceName", "ipv4", "ipv6", "port")


@dataclass(frozen=True)
class ZipkinSpan:
    """What the resolution needs of one read span; ``fields`` are the row's columns."""

    trace_id: str
    span_id: str
    parent_span_id: str
    kind: str  # canonical SpanKind: "Server", "Client", ...
    shared: bool  # the span's ``"shared": true``
    service: str
    endpoint: tuple[tuple[str, str], ...]  # the local endpoint, canonical
    fields: dict[str, Any]


def endpoint_key(endpoint: Any) -> tuple[tuple[str, str], ...]:
    """The identifying fields of a ``localEndpoint`` object, comparable and hashable."""
    if not isinstance(endpoint, dict):
        return ()
    return tuple(
        (name, str(endpoint[name])) for name in _ENDPOINT_FIELDS if endpoint.get(name) is not None
    )


def _hashed_id(seed: str, taken: set[str]) -> str:
    attempt = 0
    while True:
        salt = f"\x1e{attempt}" if attempt else ""
        candidate = hashlib.blake2b((seed + salt).encode(), digest_size=8).hexdigest()
        if candidate not in taken and candidate != "0" * 16:
            return candidate
        attempt += 1


def _is_server_half(span: ZipkinSpan, clients: set[tuple[str, str]]) -> bool:
    return span.shared or (span.kind == "Server" and (span.trace_id, span.span_id) in clients)


def resolve_shared(spans: Iterable[ZipkinSpan]) -> list[dict[str, Any]]:
    """The rows' fields with every shared server half given its own id and parent,
    and the shared id's children attached to the right half (see the module docstring)."""
    spans = list(spans)
    clients = {(s.trace_id, s.span_id) for s in spans if s.kind == "Client"}
    taken: dict[str, set[str]] = {}  # per trace, every id in use
    for s in spans:
        taken.setdefault(s.trace_id, set()).add(s.span_id)
    # The same server half reported twice (two parts, or two downloads in one file)
    # is one span: it keeps one new id, and load's duplicate merge keeps one row.
    new_id_of: dict[tuple[str, str, tuple[tuple[str, str], ...]], str] = {}
    # (trace, shared id) -> the server halves' (service, new id), in input order
    halves: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for s in spans:
        identity = (s.trace_id, s.span_id, s.endpoint)
        if not _is_server_half(s, clients) or identity in new_id_of:
            continue
        seed = "\x1f".join([s.trace_id, s.span_id, *("=".join(item) for item in s.endpoint)])
        new_id = _hashed_id(seed, taken[s.trace_id])
        taken[s.trace_id].add(new_id)
        new_id_of[identity] = new_id
        halves.setdefault((s.trace_id, s.span_id), []).append((s.service, new_id))
    rows = []
    for s in spans:
        if _is_server_half(s, clients):
            new_id = new_id_of[(s.trace_id, s.span_id, s.endpoint)]
            update = {"span_id": new_id, "parent_span_id": s.span_id}
        else:
            parent = _parent_half(halves.get((s.trace_id, s.parent_span_id), []), s.service)
            update = {"parent_span_id": parent} if parent else {}
        rows.append({**s.fields, **update} if update else s.fields)
    return rows


def _parent_half(halves: list[tuple[str, str]], service: str) -> str | None:
    """The new id of the server half a child of the shared id belongs under, if any."""
    if not halves:
        return None
    for half_service, new_id in halves:
        if half_service == service:
            return new_id
    # A span with no service name cannot be placed by service: like Zipkin, which
    # also indexes a shared span without its endpoint, it goes under the server.
    return halves[0][1] if not service else None
