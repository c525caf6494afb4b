"""The parameters of the query being executed right now, and their keyed hash.

Django passes every query through ``connection.execute_wrappers`` (a documented
hook) just before the DB-API cursor call that the OpenTelemetry DB
instrumentations wrap, so a wrapper sees ``sql`` and ``params`` and runs
*around* the DB span's start.  :func:`install` appends one such wrapper to each
connection (through the ``connection_created`` signal); it only publishes the
params object in :data:`current_params` -- no copy, no hashing -- and the span
processor hashes it when, and only when, a DB span is actually recorded.

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
from typing import Any

from spanscope.instrument import attributes
from spanscope.instrument.settings import (
    SPANSCOPE_CAPTURE_PARAMS,
    SPANSCOPE_PARAMS_HASH,
    SPANSCOPE_PARAMS_HASH_KEY,
    env_flag,
)

_logger = logging.getLogger(__name__)

_NO_PARAMS = object()

# The parameters of the query whose DB-API call is running in this context.
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


# --- the Django hook --------------------------------------------------------------


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
_installed = False


def install(environ: Mapping[str, str] | None = None) -> bool:
    """Publish the parameters of every Django query.  Idempotent; never raises.

    Each connection is wrapped when Django opens it (``connection_created``),
    so this may, and should, run before the first query; connecting the signal
    needs no configured settings.  With neither the hash nor the values asked
    for (``SPANSCOPE_PARAMS_HASH=0``, ``SPANSCOPE_CAPTURE_PARAMS`` unset) nothing
    would read them, and nothing is wrapped: the wrapper is a Python call and a
    context-variable set and reset on every query.
    """
    global _installed
    if not (hashing_enabled(environ) or capture_enabled(environ)):
        return True
    with _lock:
        if _installed:
            return True
        try:
            from django.db.backends.signals import connection_created
        except Exception:
            _logger.debug("spanscope: Django not importable, query parameters not hashed")
            return False
        connection_created.connect(_add_wrapper, weak=False, dispatch_uid="spanscope-params")
        _installed = True
        return True
