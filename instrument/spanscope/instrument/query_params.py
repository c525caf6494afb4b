"""The parameters of the query being executed right now, and their keyed hash.

The parameters reach their DB span through spanscope's replacement of upstream's
``CursorTracer._populate_span`` (:mod:`spanscope.instrument.cursor_tracer`),
which leaves the params object on the span's attribute store
(:data:`PARAMS_ATTRIBUTE`: no copy, no hashing); the exporter side hashes it
when, and only when, the span is exported (:mod:`spanscope.instrument.deferred`).
When that method cannot be replaced (no dbapi instrumentation, or a signature
spanscope does not know), a Django execute wrapper (``connection.execute_wrappers``,
a documented hook) publishes them in :data:`current_params` around the DB-API
call instead, and the span processor reads them when the span starts.

Why keyed BLAKE2b rather than HMAC-SHA256: both are keyed MACs (BLAKE2's keyed
mode is specified as one in RFC 7693), but through OpenSSL 3, Python's
``hmac.digest(key, msg, "sha256")`` cost 8-18 µs per call on the 2-core
development machine (OpenSSL 3 looks the digest up on every call), keyed
``hashlib.blake2b`` 2-3.5 µs including ``repr`` of the parameters.

The key comes from ``SPANSCOPE_PARAMS_HASH_KEY`` or is drawn at random once per
process.  A random key means hashes are comparable within one process only --
which is what duplicate detection needs (the repeats of one request run in one
process) -- and that nobody without the key can test a guessed value against a
hash.  Set a shared key to compare across processes, and keep it secret.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from typing import Any, Literal

from spanscope.instrument import attributes, cursor_tracer
from spanscope.instrument.settings import (
    SPANSCOPE_CAPTURE_PARAMS,
    SPANSCOPE_PARAMS_HASH,
    SPANSCOPE_PARAMS_HASH_KEY,
    env_flag,
)

_logger = logging.getLogger(__name__)

_NO_PARAMS = object()

# Where the cursor-tracer hook leaves a DB span's params: an attribute of the
# span's attribute store, next to what on_start captured (spanscope.instrument.deferred).
PARAMS_ATTRIBUTE = "_spanscope_params"

# The parameters of the query whose DB-API call is running in this context
# (published only by the fallback execute wrapper).
current_params: ContextVar[object] = ContextVar("spanscope_query_params", default=_NO_PARAMS)

HASH_BYTES = 8  # 16 hex digits: collisions among one request's queries are negligible


def no_params() -> object:
    """The sentinel :data:`current_params` holds outside a Django query."""
    return _NO_PARAMS


def key_from_env(environ: Mapping[str, str] | None = None) -> bytes:
    configured = (os.environ if environ is None else environ).get(SPANSCOPE_PARAMS_HASH_KEY, "")
    key = configured.encode("utf-8") if configured else os.urandom(32)
    # BLAKE2b takes keys of up to 64 bytes; a longer passphrase is hashed down first.
    return key if len(key) <= 64 else hashlib.blake2b(key).digest()


class ParamsHasher:
    """``params -> 16 hex digits``, keyed; equal parameters give equal hashes in one process."""

    def __init__(self, key: bytes) -> None:
        self._prototype = hashlib.blake2b(key=key, digest_size=HASH_BYTES)

    def __call__(self, params: object) -> str:
        digest = self._prototype.copy()
        # repr is deterministic for the types drivers take (numbers, strings,
        # bytes, dates, Decimal, UUID, None and sequences/mappings of them) and
        # tells 1 from "1".
        digest.update(repr(params).encode("utf-8", "backslashreplace"))
        return digest.hexdigest()


def parameter_attributes(params: object) -> dict[str, str]:
    """The values themselves, ``db.query.parameter.<position or name>`` (opt-in only)."""
    if isinstance(params, Mapping):
        items: Any = params.items()
    elif isinstance(params, (list, tuple)):
        items = enumerate(params)
    else:
        return {}
    return {f"{attributes.DB_QUERY_PARAMETER_PREFIX}{k}": repr(v) for k, v in items}


def hashing_enabled(environ: Mapping[str, str] | None = None) -> bool:
    return env_flag(SPANSCOPE_PARAMS_HASH, True, environ)


def capture_enabled(environ: Mapping[str, str] | None = None) -> bool:
    return env_flag(SPANSCOPE_CAPTURE_PARAMS, False, environ)


# --- the fallback: a Django execute wrapper ----------------------------------------------


def publish_params(
    execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]
) -> Any:
    """A Django execute wrapper: ``params`` is visible to the DB span started inside ``execute``."""
    token = current_params.set(params)
    try:
        return execute(sql, params, many, context)
    finally:
        current_params.reset(token)


def _add_wrapper(sender: object, connection: Any, **kwargs: object) -> None:
    try:
        wrappers = connection.execute_wrappers
        if publish_params not in wrappers:
            wrappers.append(publish_params)
    except Exception:  # a backend without execute_wrappers: no hashes, nothing breaks
        _logger.debug("spanscope: cannot wrap %r", connection, exc_info=True)


_lock = threading.Lock()
Hook = Literal["cursor tracer", "execute wrapper"]
_installed: Hook | None = None


def installed_hook() -> Hook | None:
    """Which hook hands DB spans their query parameters, if any."""
    return _installed


def install(environ: Mapping[str, str] | None = None) -> bool:
    """Hand every DB span its query's parameters.  Idempotent; never raises.

    spanscope's ``_populate_span`` when upstream's dbapi instrumentation is as
    expected (installed even when the parameters are not wanted, for its faster
    attribute store), else a Django execute wrapper on each connection, added when Django opens
    it (``connection_created``), so this may, and should, run before the first
    query; neither needs configured settings.  With neither the hash nor the
    values asked for (``SPANSCOPE_PARAMS_HASH=0``, ``SPANSCOPE_CAPTURE_PARAMS``
    unset) nothing would read them, and no query carries them.
    """
    global _installed
    wanted = hashing_enabled(environ) or capture_enabled(environ)
    # Installed with or without the params: its faster attribute store is worth it alone.
    hooked = cursor_tracer.install(leave_params=wanted)
    if not wanted:
        return True
    with _lock:
        if _installed is not None:
            return True
        if hooked is not None and cursor_tracer.leaves_params():
            _installed = "cursor tracer"
            return True
        try:
            from django.db.backends.signals import connection_created
        except Exception:
            _logger.debug("spanscope: Django not importable, query parameters not hashed")
            return False
        connection_created.connect(_add_wrapper, weak=False, dispatch_uid="spanscope-params")
        _installed = "execute wrapper"
        return True
