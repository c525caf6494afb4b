"""Environment variables spanscope reads (beyond the standard ``OTEL_*`` ones), and their parsing.

Every reader is forgiving: a malformed value logs one warning naming the
variable and falls back to the default, because a typo in an environment
variable must never stop the application from starting.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Final

_logger = logging.getLogger(__name__)

# Folder for the OTLP JSON-lines trace files; relative paths are resolved
# against the working directory at start-up.
SPANSCOPE_TRACES_DIR: Final = "SPANSCOPE_TRACES_DIR"
DEFAULT_TRACES_DIR: Final = "spanscope-traces"

# Name under which spanscope's file exporter is registered in the
# ``opentelemetry_traces_exporter`` entry-point group (pyproject.toml).
FILE_EXPORTER_NAME: Final = "spanscope_file"

# Rotation of trace files: size of one file, number of files kept in the folder,
# and compression of rotated files ("none" or "gzip").
SPANSCOPE_MAX_FILE_MB: Final = "SPANSCOPE_MAX_FILE_MB"
DEFAULT_MAX_FILE_MB: Final = 100.0
SPANSCOPE_MAX_FILES: Final = "SPANSCOPE_MAX_FILES"
DEFAULT_MAX_FILES: Final = 50
SPANSCOPE_COMPRESS: Final = "SPANSCOPE_COMPRESS"
DEFAULT_COMPRESS: Final = "none"

# Keyed hash of query parameters on DB spans ("0" disables it), the key (any
# string; default: random per process), and opt-in capture of the values.
SPANSCOPE_PARAMS_HASH: Final = "SPANSCOPE_PARAMS_HASH"
SPANSCOPE_PARAMS_HASH_KEY: Final = "SPANSCOPE_PARAMS_HASH_KEY"
SPANSCOPE_CAPTURE_PARAMS: Final = "SPANSCOPE_CAPTURE_PARAMS"

# One span per Django middleware ("1"); off by default.
SPANSCOPE_MIDDLEWARE_SPANS: Final = "SPANSCOPE_MIDDLEWARE_SPANS"

_TRUE: Final = frozenset({"1", "true", "yes", "on"})
_FALSE: Final = frozenset({"0", "false", "no", "off"})


def env_flag(name: str, default: bool, environ: Mapping[str, str] | None = None) -> bool:
    """``1/true/yes/on`` or ``0/false/no/off`` (any case); unset or empty means ``default``."""
    raw = (os.environ if environ is None else environ).get(name, "").strip().lower()
    if not raw:
        return default
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    _logger.warning("spanscope: %s=%r is not a boolean (hint: use 1 or 0)", name, raw)
    return default


def env_number(
    name: str, default: float, minimum: float, environ: Mapping[str, str] | None = None
) -> float:
    """A number >= ``minimum``; unset, empty or invalid means ``default``."""
    raw = (os.environ if environ is None else environ).get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = minimum - 1
    if not value >= minimum:  # also rejects NaN
        _logger.warning(
            "spanscope: %s=%r is not a number >= %g (hint: unset it to use %g)",
            name,
            raw,
            minimum,
            default,
        )
        return default
    return value


def env_choice(
    name: str, default: str, choices: frozenset[str], environ: Mapping[str, str] | None = None
) -> str:
    """One of ``choices`` (case-insensitive); unset, empty or unknown means ``default``."""
    raw = (os.environ if environ is None else environ).get(name, "").strip().lower()
    if not raw:
        return default
    if raw not in choices:
        _logger.warning(
            "spanscope: %s=%r is not one of %s (hint: unset it to use %r)",
            name,
            raw,
            ", ".join(sorted(choices)),
            default,
        )
        return default
    return raw
