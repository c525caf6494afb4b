"""Where a DB span gets its ``db.*`` attributes: upstream's ``CursorTracer._populate_span``.

Every OpenTelemetry instrumentation of a driver Django uses (sqlite3, psycopg,
psycopg2, mysqlclient, PyMySQL) is built on ``opentelemetry.instrumentation.dbapi``,
whose ``CursorTracer.traced_execution`` starts the DB span and then calls
``self._populate_span(span, cursor, *args)`` with the DB-API call's arguments,
``(sql, params)``.  spanscope hooks that one method, for two reasons:

- **The query's parameters reach their span here**, with no per-query hook
  elsewhere: the span is in hand, so the params object is left on the span's
  attribute store (:data:`~spanscope.instrument.query_params.PARAMS_ATTRIBUTE`:
  no copy, no hashing), and the exporter side hashes it when, and only when, the
  span is exported.  The alternative, a Django execute wrapper publishing them
  in a context variable for ``on_start`` to read, costs every query a
  ``functools.partial``, a Python call and a context-variable set and reset.
- **Upstream's own attribute writes are the most expensive step of a DB span's
  start**: three semantic-convention helpers, each asking ``_report_old`` and
  ``_report_new`` about the stability mode and calling ``set_string_attribute``,
  then ``span.set_attributes``, which takes the span's lock and the store's and
  runs each value through ``_clean_attribute_value``'s chain of ``isinstance``
  checks against ``collections.abc`` classes.  Timed in place in the books
  demo's N+1 loop, upstream's ``_populate_span`` took ~25 µs of thread CPU per
  query, spanscope's ~12 (both minus the timer).  The mode is fixed for an
  integration, so the copy asks upstream's own helpers once per mode which keys
  they write (calling them on probe values), then writes each query's three
  values under those keys with the helpers' value rules, and stores them straight
  into the span's attribute dict when the SDK's validation provably changes
  nothing -- no value-length limit, the count limit not reached, plain ``str``
  values, no key already set, as
  :func:`spanscope.instrument.span_attributes.fast_path_applies` proves for
  spanscope's own attributes -- else through ``span.set_attributes``.

Because ``_populate_span`` and the helpers are private, the copy is installed
only over the exact code it was made from: the names, constants and locals of
upstream's function and of the helpers whose rules it copies must be the ones
recorded in :data:`_UPSTREAM_FINGERPRINT` and :data:`_HELPER_FINGERPRINTS`
(``opentelemetry-instrumentation-dbapi`` 0.66b1; the tests compare every
attribute with upstream's in each semantic-convention mode and under attribute
limits).  Any other version gets a plain wrapper instead -- upstream's method,
then the params left on the span -- and a signature it does not know gets
nothing (then :mod:`spanscope.instrument.query_params` falls back to Django's
execute wrappers).  A change upstream can therefore cost speed, never attributes.
"""

from __future__ import annotations

import functools
import inspect
import logging
import threading
from collections.abc import Callable
from typing import Any, Literal

from opentelemetry.attributes import BoundedAttributes

_logger = logging.getLogger(__name__)

_PATCHED = "__spanscope_patched__"
# CursorTracer._populate_span's parameters in every release spanscope supports.
_POPULATE_PARAMETERS = ("self", "span", "cursor", "args")

# What upstream's _populate_span is made of, for the releases the fast replacement
# copies: (co_names, co_consts, co_varnames).  Independent of the Python version.
_UPSTREAM_FINGERPRINT = (
    (
        "is_recording",
        "get_statement",
        "_db_api_integration",
        "_sem_conv_opt_in_mode_db",
        "_set_db_system",
        "database_system",
        "_set_db_name",
        "database",
        "_set_db_statement",
        "set_attributes",
        "span_attributes",
        "items",
        "set_attribute",
        "capture_parameters",
        "len",
        "str",
    ),
    (None, 1, "db.statement.parameters"),
    (
        "self",
        "span",
        "cursor",
        "args",
        "statement",
        "sem_conv_mode",
        "span_attrs",
        "attribute_key",
        "attribute_value",
    ),
)

Installed = Literal["fast", "wrapper"]


def fingerprint(function: Callable[..., Any]) -> tuple[tuple[Any, ...], ...]:
    code = function.__code__
    return (code.co_names, code.co_consts, code.co_varnames)


# The semantic-convention helpers the copy replaces with the keys they write, and
# their code as in 0.66b1: (co_names, co_consts, co_varnames).  The copy relies on
# their value rules -- set_string_attribute skips a falsy value, _set_db_statement
# a None statement -- which these fingerprints pin down.
_HELPER_FINGERPRINTS = {
    "_set_db_system": (
        ("_report_old", "set_string_attribute", "DB_SYSTEM", "_report_new", "DB_SYSTEM_NAME"),
        (None,),
        ("result", "system", "sem_conv_opt_in_mode"),
    ),
    "_set_db_name": (
        ("_report_old", "set_string_attribute", "DB_NAME", "_report_new", "DB_NAMESPACE"),
        (None,),
        ("result", "name", "sem_conv_opt_in_mode"),
    ),
    "_set_db_statement": (
        ("_report_old", "DB_STATEMENT", "_report_new", "DB_QUERY_TEXT"),
        (None,),
        ("result", "statement", "sem_conv_opt_in_mode"),
    ),
    "set_string_attribute": ((), (None,), ("result", "key", "value")),
}

# Which attribute keys one semantic-convention mode writes: system, name, statement.
ModeKeys = tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]


def _helpers_as_checked(upstream_globals: dict[str, Any]) -> bool:
    """Whether the helpers ``_populate_span`` calls are the code the copy was made from."""
    try:
        helpers = {name: upstream_globals[name] for name in _HELPER_FINGERPRINTS if name[0] == "_"}
        # set_string_attribute is called by the helpers, from their own module.
        helpers["set_string_attribute"] = helpers["_set_db_system"].__globals__[
            "set_string_attribute"
        ]
        return all(
            fingerprint(helpers[name]) == expected
            for name, expected in _HELPER_FINGERPRINTS.items()
        )
    except (KeyError, AttributeError):
        return False


def fast_populate_span(upstream: Callable[..., Any], leave_params: bool) -> Callable[..., Any]:
    """Upstream's ``_populate_span``, made cheap; see the module doc.

    Per semantic-convention mode (``OTEL_SEMCONV_STABILITY_OPT_IN``, fixed per
    integration), upstream's own helpers are asked once which keys they write, by
    calling them on probe values; a query then writes its three values under those
    keys, with the helpers' value rules, and stores them straight into the span's
    attribute dict when the SDK's validation provably changes nothing (see
    :func:`spanscope.instrument.span_attributes.fast_path_applies`; plain ``str``
    values; no key already set), else through ``span.set_attributes``: about twenty
    Python calls and two locks per query fewer than upstream's.
    """
    helpers = upstream.__globals__
    set_db_system = helpers["_set_db_system"]
    set_db_name = helpers["_set_db_name"]
    set_db_statement = helpers["_set_db_statement"]
    mode_keys: dict[object, ModeKeys] = {}

    def keys_of(mode: object) -> ModeKeys:
        keys = []
        for helper in (set_db_system, set_db_name, set_db_statement):
            probe: dict[str, Any] = {}
            helper(probe, "probe", mode)
            keys.append(tuple(probe))
        learned: ModeKeys = (keys[0], keys[1], keys[2])
        mode_keys[mode] = learned
        return learned

    @functools.wraps(upstream)
    def _populate_span(self: Any, span: Any, cursor: Any, *args: Any) -> None:
        if not span.is_recording():
            return
        statement = self.get_statement(cursor, args)
        integration = self._db_api_integration
        mode = integration._sem_conv_opt_in_mode_db
        system_keys, name_keys, statement_keys = mode_keys.get(mode) or keys_of(mode)
        span_attrs: dict[str, Any] = {}
        system = integration.database_system
        if system:  # set_string_attribute's rule
            for key in system_keys:
                span_attrs[key] = system
        name = integration.database
        if name:
            for key in name_keys:
                span_attrs[key] = name
        if statement is not None:  # _set_db_statement's rule
            for key in statement_keys:
                span_attrs[key] = statement
        # span_attributes.fast_path_applies, inline: two Python calls less per query.
        store = getattr(span, "_attributes", None)
        if (
            type(store) is BoundedAttributes
            and not store._immutable
            and store.max_value_len is None
            and type(store._dict) is dict
            and (store.maxlen is None or len(store._dict) + len(span_attrs) <= store.maxlen)
            and (not system or type(system) is str)
            and (not name or type(name) is str)
            and (statement is None or type(statement) is str)
            and store._dict.keys().isdisjoint(span_attrs)
        ):
            store._dict.update(span_attrs)
        else:
            span.set_attributes(span_attrs)
        for attribute_key, attribute_value in integration.span_attributes.items():
            span.set_attribute(attribute_key, attribute_value)
        if integration.capture_parameters and len(args) > 1:
            span.set_attribute("db.statement.parameters", str(args[1]))
        if leave_params and store is not None:
            # try/except, not contextlib.suppress: free in 3.11 unless it raises,
            # where suppress is a context manager's two calls per query.
            try:  # noqa: SIM105
                # Django passes no params argument for a query without them: None,
                # as Django's own execute wrappers see it.
                store._spanscope_params = args[1] if len(args) > 1 else None
            except AttributeError:  # an attribute store of another SDK: no hash
                pass

    return _populate_span


def leaving_params(upstream: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a ``_populate_span`` spanscope does not know: upstream's, then the params left on the span."""

    @functools.wraps(upstream)
    def _populate_span(self: Any, span: Any, cursor: Any, *args: Any) -> Any:
        result = upstream(self, span, cursor, *args)
        try:  # noqa: SIM105 (see fast_populate_span)
            span._attributes._spanscope_params = args[1] if len(args) > 1 else None
        except AttributeError:  # a non-recording span has no attribute store
            pass
        return result

    return _populate_span


_lock = threading.Lock()
_installed: Installed | None = None
_leaves_params = False


def installed() -> Installed | None:
    """Which replacement of ``_populate_span`` is in place, if any."""
    return _installed


def leaves_params() -> bool:
    """Whether the replacement in place leaves each query's params on its span."""
    return _leaves_params


def install(leave_params: bool) -> Installed | None:
    """Replace ``dbapi.CursorTracer._populate_span``; what was installed, or None.  Never raises.

    ``leave_params``: leave each query's params on its span (for the hash or the
    recorded values).  Without it, only the fast replacement is worth installing.
    The first call decides for the life of the process.
    """
    global _installed, _leaves_params
    with _lock:
        if _installed is not None:
            return _installed
        try:
            from opentelemetry.instrumentation.dbapi import CursorTracer
        except Exception:
            _logger.debug("spanscope: no dbapi instrumentation, DB spans populated as they are")
            return None
        upstream = CursorTracer.__dict__.get("_populate_span")
        if upstream is None or getattr(upstream, _PATCHED, False):
            return None
        parameters = inspect.signature(upstream).parameters
        if (
            tuple(parameters) != _POPULATE_PARAMETERS
            or parameters["args"].kind is not inspect.Parameter.VAR_POSITIONAL
        ):
            _logger.debug("spanscope: unexpected CursorTracer._populate_span%s", parameters)
            return None
        replacement: Callable[..., Any]
        if fingerprint(upstream) == _UPSTREAM_FINGERPRINT and _helpers_as_checked(
            upstream.__globals__
        ):
            replacement, _installed = fast_populate_span(upstream, leave_params), "fast"
        elif leave_params:
            replacement, _installed = leaving_params(upstream), "wrapper"
        else:
            return None
        setattr(replacement, _PATCHED, True)
        CursorTracer._populate_span = replacement  # type: ignore[method-assign]
        _leaves_params = leave_params
        return _installed
