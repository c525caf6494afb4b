"""Find the first stack frame in the application's own code.

A DB span is started deep inside Django, the DB driver and OpenTelemetry; the
line worth showing is the one in the user's code that asked for the data.  We
walk ``frame.f_back`` from the span's start and return the first frame whose file
is not under an excluded prefix (the standard library, site-/dist-packages,
Django, OpenTelemetry and spanscope itself).

Per-span cost is a few attribute loads and one dict lookup per frame: the
include/exclude decision is cached per ``co_filename`` string.  The cache is
keyed by the file name rather than the code object on purpose: ``str`` caches
its hash, while hashing a code object rehashes its bytecode and constants on
every lookup (measured over the methods of Django's QuerySet and SQLCompiler:
0.43 µs vs 0.14 µs per lookup including loop overhead, 1.3 µs vs 0.2 µs for
``SQLCompiler.as_sql``), and several code objects share one file anyway.
"""

from __future__ import annotations

import os
import site
import sys
import sysconfig
from collections.abc import Iterable
from types import FrameType, ModuleType
from typing import NamedTuple

# Bounds the cache if an application exec()s code under ever-new file names.
_MAX_CACHED_FILES = 10_000
_MISSING = object()


class CodeLocation(NamedTuple):
    file_path: str
    line_number: int
    function_name: str


def _package_dirs(module: ModuleType) -> list[str]:
    # ``__path__`` covers namespace packages (``opentelemetry`` is one).
    return [str(p) for p in getattr(module, "__path__", [])]


def _candidate_library_dirs() -> Iterable[str]:
    paths = sysconfig.get_paths()
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        if key in paths:
            yield paths[key]
    yield from getattr(site, "getsitepackages", list)()
    user_site = getattr(site, "getusersitepackages", lambda: None)()
    if user_site:
        yield user_site
    for entry in sys.path:
        parts = entry.replace("\\", "/").split("/")
        if "site-packages" in parts or "dist-packages" in parts:
            yield entry
    for name in ("django", "opentelemetry", "asgiref", "spanscope.instrument"):
        module = sys.modules.get(name)
        if module is None:
            try:
                module = __import__(name, fromlist=["_"])
            except ImportError:
                continue
        yield from _package_dirs(module)


def default_excluded_prefixes() -> tuple[str, ...]:
    """Directory prefixes (each ending in a separator) whose frames are never "user code"."""
    prefixes: set[str] = set()
    for directory in _candidate_library_dirs():
        for form in (os.path.abspath(directory), os.path.realpath(directory)):
            prefixes.add(form.rstrip(os.sep) + os.sep)
    # Longest first only matters for readability when debugging; matching is any().
    return tuple(sorted(prefixes, key=len, reverse=True))


class CodeLocator:
    """Maps a frame to the first :class:`CodeLocation` in application code."""

    def __init__(self, excluded_prefixes: Iterable[str] | None = None) -> None:
        prefixes = default_excluded_prefixes() if excluded_prefixes is None else excluded_prefixes
        self._excluded = tuple(prefixes)
        # co_filename -> absolute path when the file is application code, else None.
        self._by_filename: dict[str, str | None] = {}

    def _classify(self, filename: str) -> str | None:
        if filename.startswith("<"):  # "<frozen runpy>", "<string>": no file to point at
            return None
        path = os.path.abspath(filename)
        if path.startswith(self._excluded) or os.path.realpath(path).startswith(self._excluded):
            return None
        # Catch-all for interpreters/layouts sysconfig does not describe (pip --target, zipapps).
        if f"{os.sep}site-packages{os.sep}" in path or f"{os.sep}dist-packages{os.sep}" in path:
            return None
        return path

    def locate(self, frame: FrameType | None) -> CodeLocation | None:
        cache = self._by_filename
        while frame is not None:
            code = frame.f_code
            path = cache.get(code.co_filename, _MISSING)
            if path is _MISSING:
                if len(cache) >= _MAX_CACHED_FILES:
                    cache.clear()
                path = cache[code.co_filename] = self._classify(code.co_filename)
            if path is not None:
                qualname = getattr(code, "co_qualname", code.co_name)  # co_qualname: 3.11+
                module = frame.f_globals.get("__name__")
                function = f"{module}.{qualname}" if module else qualname
                return CodeLocation(str(path), frame.f_lineno, function)
            frame = frame.f_back
        return None
