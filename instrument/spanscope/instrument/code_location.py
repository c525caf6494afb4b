"""Find the first stack frame in the application's own code.

A DB span is started deep inside Django, the DB driver and OpenTelemetry; the
line worth showing is the one in the user's code that asked for the data.  We
walk ``frame.f_back`` from the span's start and return the first frame whose file
is not under an excluded prefix (the standard library, site-/dist-packages,
Django, OpenTelemetry and spanscope itself).

The include/exclude decision is cached per ``co_filename`` string.  The cache
is keyed by the file name rather than the code object on purpose: ``str``
caches its hash, while hashing a code object rehashes its bytecode and
constants on every lookup (measured over the methods of Django's QuerySet and
SQLCompiler: 0.43 µs vs 0.14 µs per lookup including loop overhead, 1.3 µs vs
0.2 µs for ``SQLCompiler.as_sql``), and several code objects share one file
anyway.

What a walk costs is the walk itself: on CPython 3.11 each ``f_back``
materialises a frame object (counted with callgrind: ~1,500 machine
instructions per frame walked, allocation and release included), and a DB span
starts about 20 frames below the application -- 6-8 of them in the
OpenTelemetry SDK and the DB instrumentation, a dozen in Django.
:meth:`CodeLocator.locate_caller` skips the first part: the first walk from a
given call path remembers the depth and code object of the outermost
"plumbing" frame (OpenTelemetry, ``contextlib``, spanscope); later walks jump
there with one ``sys._getframe(depth)`` -- a C loop that materialises only the
frame it returns -- check that it runs the same code, and walk on from its
caller.  Everything below that frame is the SDK starting the span, so skipping
it cannot skip application code.

The library frames above it -- Django's query machinery, with spanscope's own
wrappers in it -- are the rest of the cost, and CPython 3.11 cannot read a
frame's code without materialising the frame.  So walks also remember an
*upper* anchor: the depth and code of the outermost spanscope/OpenTelemetry
frame they passed before reaching application code, which for an ORM query is
the relation wrapper around the lazy load (``relations.py``) or the wrapper
around ``QuerySet._fetch_all`` -- one to three frames below the application.  A
later span whose stack has a frame running that same code at that same depth
is walked from there.  This assumes the frames between the span and that
wrapper are library frames, as they were when the depth was learned: the only
way to break it is a library calling back into application code that starts a
span with a path of exactly the learned length (any other length fails the
check and gets a full walk).  Relation attribution already assumes the same --
every query inside a lazy load belongs to it.

An upper anchor also remembers the depth of the application frame the walk
found above it, and a span whose stack matches the anchor goes there with a
second ``sys._getframe`` instead of walking the library frames in between (the
descriptor's ``__get__`` above a lazy load's wrapper): the application frame is
usually long-lived -- the view running its loop -- so it is already
materialised, and the N+1 loop's DB spans materialise one new frame object (the
wrapper's) instead of a dozen.  If the frame found there is not application
code, the walk goes up from the anchor as before and learns the new depth.  The
assumption here is that no application frame sits between the anchor and the
frame at the learned depth, which only a direct call of the wrapped Django
method from application code at that exact depth could break (the line
reported would then be its caller's).  Which wrapper becomes the anchor is
learned too: the outermost spanscope frame passed on the way up, so a lazy
load's ``get_object`` wrapper rather than the ``QuerySet._fetch_all`` wrapper
below it, which every queryset evaluation shares.

For the DB spans of a lazy load there is usually no walk at all: the wrapper
around the load publishes the frame of the code that asked for it (see
:mod:`spanscope.instrument.relations`), and the span processor checks it against
this locator's file cache (:meth:`CodeLocator.application_paths`) -- one lookup
-- instead of calling :meth:`CodeLocator.locate_caller`, whose first
``sys._getframe`` materialises the wrapper's frame (measured with callgrind,
taking the published frame cut spanscope's request-thread cost in the books
demo's N+1 loop from ~14,900 to ~12,300 machine instructions per DB span).

The walk captures only what is needed later, as one plain tuple
(:data:`RawLocation`): the file's absolute path (from the cache), the code
object, the frame's instruction offset and its globals.  Turning that into a
:class:`CodeLocation` -- the line number (a scan of the code's line table) and
the module-qualified function name (a string build) -- is left to
:func:`resolve`, which spanscope runs on the exporter thread.
"""

from __future__ import annotations

import bisect
import contextlib
import os
import site
import sys
import sysconfig
from collections.abc import Iterable, Mapping
from types import CodeType, FrameType, ModuleType
from typing import Any, NamedTuple

# Bounds the cache if an application exec()s code under ever-new file names.
_MAX_CACHED_FILES = 10_000
# Distinct call paths into span start remembered (one per DB/HTTP instrumentation, typically).
_MAX_ANCHORS = 8
# Upper anchors tried before a walk: each miss costs a sys._getframe() call.
_MAX_UPPER_ANCHORS = 4
_MISSING = object()
# What the file-name cache holds for plumbing files: library code, and a possible
# upper anchor (an empty string is never an absolute path, and is falsy like None).
_PLUMBING = ""


class CodeLocation(NamedTuple):
    file_path: str
    line_number: int
    function_name: str


# What a walk captures: (absolute file path, code object, ``f_lasti``, ``f_globals``).
# A plain tuple: a NamedTuple costs a Python-level ``__new__`` call per span.
RawLocation = tuple[str, CodeType, int, dict[str, Any]]

# id(code object) -> (that code object, start offsets, line numbers) of its line
# table, for resolve().  Keyed by id, checked by identity: hashing a code object
# costs ~1 µs per lookup (see above), and the entry keeps its code object alive,
# so an id is never reused while its entry stands.
_line_tables: dict[int, tuple[CodeType, list[int], list[int]]] = {}


def _line_table(code: CodeType) -> tuple[CodeType, list[int], list[int]]:
    table = _line_tables.get(id(code))
    if table is None or table[0] is not code:
        starts: list[int] = []
        lines: list[int] = []
        for start, _end, line in code.co_lines():
            starts.append(start)
            # No line: an artificial instruction; the function's first line is the best guess.
            lines.append(code.co_firstlineno if line is None else line)
        if len(_line_tables) >= _MAX_CACHED_FILES:
            _line_tables.clear()
        table = _line_tables[id(code)] = (code, starts, lines)
    return table


def line_number(code: CodeType, lasti: int) -> int:
    """The line of the instruction at byte offset ``lasti`` of ``code``: a frame's ``f_lineno``.

    ``co_lines()`` yields the ranges ``f_lineno`` looks the frame's ``f_lasti`` up in.
    """
    _code, starts, lines = _line_table(code)
    index = bisect.bisect_right(starts, lasti) - 1
    return lines[index] if index >= 0 else code.co_firstlineno


def resolve(raw: RawLocation) -> CodeLocation:
    """The :class:`CodeLocation` a walk captured, its line and function name worked out now."""
    path, code, lasti, module_globals = raw
    qualname = getattr(code, "co_qualname", code.co_name)  # co_qualname: 3.11+
    module = module_globals.get("__name__")
    function = f"{module}.{qualname}" if module else qualname
    return CodeLocation(path, line_number(code, lasti), function)


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


def default_plumbing_prefixes() -> tuple[str, ...]:
    """Files and folders of the code between an instrumented call and a span processor."""
    prefixes = {contextlib.__file__}
    for name in ("opentelemetry", "spanscope.instrument"):
        module = sys.modules.get(name)
        if module is not None:
            prefixes.update(d.rstrip(os.sep) + os.sep for d in _package_dirs(module))
    return tuple(sorted(prefixes))


class CodeLocator:
    """Maps a frame to the first :class:`CodeLocation` in application code."""

    def __init__(
        self,
        excluded_prefixes: Iterable[str] | None = None,
        plumbing_prefixes: Iterable[str] | None = None,
    ) -> None:
        prefixes = default_excluded_prefixes() if excluded_prefixes is None else excluded_prefixes
        self._excluded = tuple(prefixes)
        self._plumbing = tuple(
            default_plumbing_prefixes() if plumbing_prefixes is None else plumbing_prefixes
        )
        # co_filename -> absolute path when the file is application code, else
        # _PLUMBING or None (library code).
        # Shared by threads without a lock: a lost insert only means one more _classify.
        self._by_filename: dict[str, str | None] = {}
        self._is_plumbing: dict[str, bool] = {}
        # (depth below locate_caller, code object) of known outermost plumbing frames
        # starting a span; (depth, code object, depth of the application frame
        # found above it) of plumbing frames last seen below application code.
        self._anchors: tuple[tuple[int, CodeType], ...] = ()
        self._upper_anchors: tuple[tuple[int, CodeType, int], ...] = ()

    def _classify(self, filename: str) -> str | None:
        if self._plumbing_file(filename):
            return _PLUMBING
        if filename.startswith("<"):  # "<frozen runpy>", "<string>": no file to point at
            return None
        path = os.path.abspath(filename)
        if path.startswith(self._excluded) or os.path.realpath(path).startswith(self._excluded):
            return None
        # Catch-all for interpreters/layouts sysconfig does not describe (pip --target, zipapps).
        if f"{os.sep}site-packages{os.sep}" in path or f"{os.sep}dist-packages{os.sep}" in path:
            return None
        return path

    def find(self, frame: FrameType | None) -> RawLocation | None:
        """The first application frame from ``frame`` outwards, raw (see :func:`resolve`)."""
        get = self._by_filename.get
        while frame is not None:
            code = frame.f_code
            path = get(code.co_filename, _MISSING)
            if not path:  # library code (None or _PLUMBING)
                frame = frame.f_back
            elif path is _MISSING:  # the first frame of this file: classify it, look again
                self._remember(code.co_filename)
            else:
                return (path, code, frame.f_lasti, frame.f_globals)  # type: ignore[return-value]
        return None

    def application_paths(self) -> Mapping[str, str | None]:
        """``co_filename`` -> absolute path for the files known to be application code.

        The locator's own cache, for callers that classify a frame they already
        hold with one lookup: a file it has not classified yet, or library code,
        maps to a falsy value or is missing (then :meth:`locate_caller` learns it).
        Read only; the same mapping for the locator's life.
        """
        return self._by_filename

    def _remember(self, filename: str) -> None:
        cache = self._by_filename
        if len(cache) >= _MAX_CACHED_FILES:
            cache.clear()
        cache[filename] = self._classify(filename)

    def locate(self, frame: FrameType | None) -> CodeLocation | None:
        """The first application frame from ``frame`` outwards."""
        raw = self.find(frame)
        return None if raw is None else resolve(raw)

    def locate_caller(self) -> RawLocation | None:
        """The application frame that led to the call of the caller of this method, raw.

        Meant for a span processor's ``on_start``: it skips the span-starting
        plumbing and, when the stack matches one, goes straight from an upper
        anchor to the application frame found above it before (see the module
        docstring), and walks what it cannot skip; :func:`resolve` turns the
        result into a :class:`CodeLocation`.
        """
        # Depths count from this frame: sys._getframe(1) is the caller.
        getframe = sys._getframe
        for depth, code, above in self._upper_anchors:
            try:
                frame = getframe(depth)
            except ValueError:  # a shallower stack than the anchor's
                continue
            if frame.f_code is not code:
                continue
            try:
                # The application frame is usually long-lived (a view running
                # its loop): jumping there materialises no new frame object,
                # where walking up to it materialises each library frame between.
                application = getframe(above)
            except ValueError:
                application = None
            if application is not None:
                app_code = application.f_code
                path = self._by_filename.get(app_code.co_filename)
                if path:
                    return (path, app_code, application.f_lasti, application.f_globals)
            return self._find_learning(frame.f_back, depth + 1, (depth, code))
        for depth, code in self._anchors:
            try:
                frame = getframe(depth)
            except ValueError:
                continue
            if frame.f_code is code:
                return self._find_learning(frame.f_back, depth + 1)
        return self._find_learning(*self._skip_plumbing(getframe(1)))

    def _find_learning(
        self,
        frame: FrameType | None,
        depth: int,
        upper: tuple[int, CodeType] | None = None,
    ) -> RawLocation | None:
        """:meth:`find` from ``frame`` at ``depth``, learning an upper anchor on the way.

        The anchor is the outermost plumbing frame passed (or ``upper``, the one
        the walk starts above) with the depth of the application frame found.
        """
        get = self._by_filename.get
        while frame is not None:
            code = frame.f_code
            path = get(code.co_filename, _MISSING)
            if not path:
                if path is _PLUMBING:
                    upper = (depth, code)
                frame = frame.f_back
                depth += 1
            elif path is _MISSING:
                self._remember(code.co_filename)
            else:
                if upper is not None:
                    self._learn_upper((*upper, depth))
                return (path, code, frame.f_lasti, frame.f_globals)  # type: ignore[return-value]
        return None

    def _learn_upper(self, anchor: tuple[int, CodeType, int]) -> None:
        # Newest first: the N+1 loop that taught it is probably still running.
        # One tuple swap: readers on other threads see the old or the new tuple.
        kept = tuple(a for a in self._upper_anchors if a != anchor)
        self._upper_anchors = (anchor, *kept[: _MAX_UPPER_ANCHORS - 1])

    def _skip_plumbing(self, frame: FrameType | None) -> tuple[FrameType | None, int]:
        """The first frame above the plumbing and its depth; remembers the outermost plumbing frame."""
        # ``frame`` is locate_caller's caller: ``sys._getframe(1)`` there.
        depth = 1
        anchor: tuple[int, CodeType] | None = None
        while frame is not None and self._plumbing_file(frame.f_code.co_filename):
            anchor = (depth, frame.f_code)
            frame = frame.f_back
            depth += 1
        if anchor is not None and anchor not in self._anchors:
            # One tuple swap: readers on other threads see the old or the new tuple.
            self._anchors = (anchor, *self._anchors[: _MAX_ANCHORS - 1])
        return frame, depth

    def _plumbing_file(self, filename: str) -> bool:
        known = self._is_plumbing.get(filename)
        if known is None:
            if len(self._is_plumbing) >= _MAX_CACHED_FILES:
                self._is_plumbing.clear()
            known = self._is_plumbing[filename] = filename.startswith(self._plumbing)
        return known
