"""What spanscope captures when a span starts: code location, ORM relation, query parameters, layer.

It runs in ``on_start`` because that is the only moment the application's stack
is still the stack that started the query; the DB instrumentations set their
``db.*`` attributes only after the span has started (see
``opentelemetry.instrumentation.dbapi.CursorTracer.traced_execution``), so spans
are recognised by their instrumentation scope name instead, through
:data:`SCOPE_RULES`.

Two ways to use it:

- :class:`SpanCapture` (what spanscope's configurator sets up, see
  :mod:`spanscope.instrument.deferred`): ``on_start`` only captures what cannot
  be known later, as one tuple left on the span's attribute store; the exporter
  wrapper turns it into attributes in batches on the exporter thread.  Its
  ``on_start`` is installed on the export processor itself, so the SDK calls
  one processor per span, not two;
- :class:`SpanscopeSpanProcessor` (a processor on its own): the same capture,
  made into attributes on the span at once, without the SDK's per-value
  validation when that is provably equivalent
  (:mod:`spanscope.instrument.span_attributes`).

``on_start`` runs for every span of every request, so it does little: spans
come in runs from one instrumentation scope, so the rule of the last scope seen
is reused after an identity check (no property call, no string hash), the
location is the frame a lazy load published when that is application code
(:data:`~spanscope.instrument.relation_context.Published`) or else captured raw
by a stack walk (:meth:`CodeLocator.locate_caller`), and the capture
is one tuple stored with one attribute assignment.  A query's parameters are
not read here: they reach the span after it has started, left on it by
spanscope's ``_populate_span`` (:mod:`spanscope.instrument.cursor_tracer`),
unless that could not be installed and a Django execute wrapper publishes them
(:data:`~spanscope.instrument.query_params.current_params`).  Spans of instrumentations
not in the registry return after one dict lookup.  Costs:
``benchmarks/callgrind_instrument.py`` and ``benchmarks/bench_instrument.py``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import NamedTuple

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from spanscope.instrument import attributes, query_params
from spanscope.instrument.code_location import CodeLocator
from spanscope.instrument.deferred import Enrichment, take_captured
from spanscope.instrument.query_params import current_params
from spanscope.instrument.relation_context import current_relation
from spanscope.instrument.span_attributes import add_attributes

_logger = logging.getLogger(__name__)


class ScopeRule(NamedTuple):
    """What the processor adds to the spans of one instrumentation scope."""

    layer: str | None  # ``spanscope.layer`` to set, or None when the span's creator sets it
    locate: bool  # add code.* of the application frame that started the span
    query: bool  # add spanscope.orm.* and the query-parameter hash


_DB = ScopeRule(attributes.LAYER_DB, locate=True, query=True)
_HTTP = ScopeRule(attributes.LAYER_HTTP, locate=True, query=False)
_OWN = ScopeRule(None, locate=True, query=False)

DB_INSTRUMENTATIONS = (
    "sqlite3",
    "dbapi",
    "psycopg",
    "psycopg2",
    "pymysql",
    "mysqlclient",
    "mysql",
    "aiopg",
    "asyncpg",
    "pymssql",
    "sqlalchemy",
)
HTTP_INSTRUMENTATIONS = ("requests", "urllib3", "urllib", "httpx", "aiohttp_client")
# spanscope's own layer spans set their layer themselves (they are also useful
# without this processor) and get a code location here.
OWN_SCOPES = ("spanscope.instrument.cache", "spanscope.instrument.templates")

# Registry: instrumentation scope (tracer) name -> rule.
SCOPE_RULES: Mapping[str, ScopeRule] = {
    **{f"opentelemetry.instrumentation.{name}": _DB for name in DB_INSTRUMENTATIONS},
    **{f"opentelemetry.instrumentation.{name}": _HTTP for name in HTTP_INSTRUMENTATIONS},
    **dict.fromkeys(OWN_SCOPES, _OWN),
}
# The scopes whose spans are SQL queries.
DB_INSTRUMENTATION_SCOPES: frozenset[str] = frozenset(
    name for name, rule in SCOPE_RULES.items() if rule.query
)

_NO_PARAMS = query_params.no_params()


def enrichment_from_env() -> Enrichment:
    """Parameter hash and capture as ``SPANSCOPE_PARAMS_HASH[_KEY]``/``SPANSCOPE_CAPTURE_PARAMS`` say."""
    hasher = (
        query_params.ParamsHasher(query_params.key_from_env())
        if query_params.hashing_enabled()
        else None
    )
    return Enrichment(hasher, query_params.capture_enabled())


# Read through bound methods held in globals: one global load and a C call per span.
_current_relation = current_relation.get
_current_params = current_params.get


class SpanCapture(SpanProcessor):
    """Leaves what spanscope needs of a starting span on the span, for the exporter thread.

    ``on_start`` stores one :data:`~spanscope.instrument.deferred.Captured`
    tuple on the span's attribute store (:func:`~spanscope.instrument.deferred.take_captured`
    takes it back); the attribute store is the one object a ``Span`` shares
    with the ``ReadableSpan`` exporters receive, and what is left on it lives
    and dies with the span, so nothing needs bounding or forgetting.  It never
    raises: a failure is logged at debug level and the span goes out unenriched.
    """

    def __init__(
        self, locator: CodeLocator | None = None, rules: Mapping[str, ScopeRule] = SCOPE_RULES
    ) -> None:
        self._locator = locator if locator is not None else CodeLocator()
        self._locate = self._locator.locate_caller
        self._application_path = self._locator.application_paths().get
        self._rules = dict(rules)
        # The last instrumentation scope seen and its rule: spans come in runs of one scope.
        self._last: tuple[InstrumentationScope | None, ScopeRule | None] = (None, None)

    def _rule(self, scope: InstrumentationScope | None) -> ScopeRule | None:
        rule = self._rules.get(scope.name) if scope is not None else None
        self._last = (scope, rule)
        return rule

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        try:
            # The SDK's private fields: its properties are a Python call each.
            scope = span._instrumentation_scope
            last_scope, rule = self._last
            if scope is not last_scope:
                rule = self._rule(scope)
            if rule is None:
                return
            if not rule.query:
                # locate_caller counts its depths from here: called from on_start itself.
                location = self._locate() if rule.locate else None
                span._attributes._spanscope_captured = (  # type: ignore[union-attr]
                    rule.layer,
                    location,
                    None,
                    _NO_PARAMS,
                )
                return
            published = _current_relation()
            relation = location = None
            if published is not None:
                relation, caller = published
                # A lazy load published the frame that asked for it: when that is
                # application code it is the location, and no walk is needed.
                if caller is not None and rule.locate:
                    code = caller.f_code
                    path = self._application_path(code.co_filename)
                    if path:
                        location = (path, code, caller.f_lasti, caller.f_globals)
            if location is None and rule.locate:
                location = self._locate()
            span._attributes._spanscope_captured = (  # type: ignore[union-attr]
                rule.layer,
                location,
                relation,
                _current_params(),
            )
        except Exception:  # never let enrichment break the host application
            _logger.debug("spanscope could not enrich span %r", span, exc_info=True)


class SpanscopeSpanProcessor(SpanProcessor):
    """Adds ``code.*``, ``spanscope.orm.*``, ``spanscope.db.params_hash`` and ``spanscope.layer``.

    A processor on its own, for a pipeline spanscope's configurator did not
    build: the attributes are on the span when ``on_start`` returns, but for the
    parameter hash, added in ``on_end`` (the parameters reach the span after it
    has started, see :mod:`spanscope.instrument.query_params`).  Register
    it before any exporting processor (processors run in order, and an exporter
    only sees what was set by then).  It never raises: a failure is logged at
    debug level and the span goes out unenriched.

    ``enrichment`` (default: from the environment) says whether parameters are
    hashed and whether their values are recorded (opt-in: they may be personal
    data).
    """

    def __init__(
        self,
        locator: CodeLocator | None = None,
        rules: Mapping[str, ScopeRule] = SCOPE_RULES,
        enrichment: Enrichment | None = None,
    ) -> None:
        self._capture = SpanCapture(locator, rules)
        self._enrichment = enrichment if enrichment is not None else enrichment_from_env()

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        self._capture.on_start(span, parent_context)
        try:
            captured = take_captured(span)
            if captured is not None:
                values = self._enrichment.attributes(captured)
                if values:
                    add_attributes(span, values)
        except Exception:  # never let enrichment break the host application
            _logger.debug("spanscope could not enrich span %r", span, exc_info=True)

    def on_end(self, span: ReadableSpan) -> None:
        # The cursor-tracer hook leaves a query's parameters on its span after
        # on_start (spanscope.instrument.query_params): their hash is added here,
        # before the exporting processors registered after this one see the span.
        try:
            self._enrichment.store_params(span)
        except Exception:  # never let enrichment break the host application
            _logger.debug("spanscope could not enrich span %r", span, exc_info=True)

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True
