"""How requests are grouped into endpoints: by route (the default), URL path or span name.

Django's route (``books/<int:pk>/``) is the right key for almost every app: one view,
one row.  It is the wrong key where one catch-all route serves many different pages
-- Wagtail, django CMS and flat pages serve the whole site through ``<path:path>`` --
so ``--group-by url`` keys requests by method and URL path instead (the query string
is dropped: it would make every search its own endpoint), and ``--group-by name``
by the server span's name, for services whose spans are named by hand.

Each key is a pure function of the server spans' columns, kept in a registry so
that a new grouping is one entry, not another branch.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, Final, Literal, get_args

import numpy as np
import pyarrow as pa
import pyarrow.compute as _compute
from spanscope.analyzer.errors import UsageError
from spanscope.analyzer.requests import Prepared

pc: Any = _compute

GroupBy = Literal["route", "url", "name"]
GROUP_BY_CHOICES: Final[tuple[str, ...]] = get_args(GroupBy)
DEFAULT_GROUP_BY: Final[GroupBy] = "route"


#: The path of an absolute URL: what follows ``scheme://host[:port]``.
_URL_PATH: Final = r"^[A-Za-z][A-Za-z0-9+.\-]*://[^/?#]*(?P<path>[^?#]*)"


def _full_url_path(attributes: Any) -> Any:
    """The path of ``url.full`` (or the older ``http.url``): older Django instrumentation
    records only the full URL on server spans, never ``url.path``/``http.target``."""
    if pa.types.is_null(attributes.type):
        return pa.nulls(len(attributes), pa.string())
    full = pc.coalesce(
        pc.map_lookup(attributes, "url.full", "first"),
        pc.map_lookup(attributes, "http.url", "first"),
    )
    return pc.struct_field(pc.extract_regex(full, _URL_PATH), [0])


def _by_url(servers: pa.Table) -> Any:
    """``"GET /blog/first-post/"``; ``"GET (no url)"`` when the span recorded no URL."""
    method = pc.fill_null(servers.column("http_method"), "")
    target = pc.coalesce(
        pc.cast(servers.column("http_target"), pa.string()),
        _full_url_path(servers.column("SpanAttributes")),
    )
    path = pc.replace_substring_regex(target, pattern=r"[?#].*$", replacement="")
    has_path = pc.fill_null(pc.not_equal(path, ""), False)
    path = pc.if_else(has_path, path, "(no url)")
    # Non-HTTP server spans (gRPC, consumers) keep their span name, as with routes.
    return pc.if_else(
        pc.not_equal(method, ""),
        pc.binary_join_element_wise(method, path, " "),
        pc.cast(servers.column("SpanName"), pa.string()),
    )


def _by_name(servers: pa.Table) -> Any:
    return pc.cast(servers.column("SpanName"), pa.string())


_KEYS: Final[dict[str, Callable[[pa.Table], Any]]] = {"url": _by_url, "name": _by_name}


def check_group_by(group_by: str) -> GroupBy:
    """``group_by`` as a :data:`GroupBy`, or a :class:`UsageError` naming the choices."""
    if group_by not in GROUP_BY_CHOICES:
        raise UsageError(
            f"unknown endpoint grouping {group_by!r}",
            f"use one of {', '.join(GROUP_BY_CHOICES)}",
        )
    return group_by  # type: ignore[return-value]  # checked just above


def regroup(prepared: Prepared, group_by: str) -> Prepared:
    """``prepared`` with its requests' ``endpoint`` keyed by ``group_by``.

    Every analysis reads the endpoint from the request table, so replacing that one
    column regroups endpoints, breakdown and findings alike.
    """
    if check_group_by(group_by) == DEFAULT_GROUP_BY:
        return prepared
    tree, requests = prepared.tree, prepared.requests
    rows = np.flatnonzero(tree.is_server)
    # The request table is ordered by request id; put the server rows in that order.
    rows = rows[np.argsort(tree.request[rows], kind="stable")]
    columns = ["SpanName", "http_method", "http_target", "SpanAttributes"]
    servers = tree.view.select(columns).take(rows)
    endpoint = _KEYS[group_by](servers)
    index = requests.schema.get_field_index("endpoint")
    return dataclasses.replace(prepared, requests=requests.set_column(index, "endpoint", endpoint))
