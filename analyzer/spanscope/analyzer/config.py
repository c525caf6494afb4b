"""Thresholds and options from ``[tool.spanscope]`` in ``pyproject.toml`` (or a file of one's own).

:func:`load_config` reads the nearest ``pyproject.toml`` found from the current
directory upwards, or the file given with ``--config FILE``.  That file may hold
the same ``[tool.spanscope]`` table, or the table's contents at its top level
(a ``spanscope.toml`` with a bare ``[check]`` section).  Every key and type is
validated up front: a typo in a CI budget must fail the build with a message
naming the file and the key, never be ignored.

.. code-block:: toml

    [tool.spanscope]
    min_repeats = 5                  # same-template queries under one parent that make an N+1
    group_by = "route"               # endpoints keyed by route | url (method + path) | name
    apdex_ms = 500                   # Apdex target T: satisfied <= T < tolerating <= 4T

    [tool.spanscope.compare]
    alpha = 0.05                     # Mann-Whitney U significance level
    min_change_pct = 5               # smaller relative changes are never called faster/slower
    metric = "p50"                   # the statistic that change is measured on: mean | p50 | p95

    [tool.spanscope.check]
    max_n_plus_one = 0               # N+1 findings allowed in total
    max_n_plus_one_per_endpoint = { "GET admin/*" = 2 }
    p95_budget_ms = { "GET books/*" = 200, "*" = 1000 }   # or one number for every endpoint
    max_queries_per_request = { "GET books/*" = 10, "*" = 50 }   # or one number
    max_regression_pct = 10          # vs --baseline, counted only when significant
    regression_metric = "p95"        # p95 | mean

    [[tool.spanscope.acknowledged]]  # accepted N+1 findings: reported, never a failure
    endpoint = "GET admin/*"         # an endpoint or a glob
    relation = "auth.User.groups"    # or statement = "SELECT ..." (raw or normalized SQL)
    reason = "the admin lists ten users at most"

Endpoint patterns are ``fnmatch`` globs matched case-sensitively against
``"METHOD route"``; for one endpoint the first matching pattern in file order
sets its limit, so put specific patterns before ``"*"``.
"""

from __future__ import annotations

import difflib
import fnmatch
import math
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal, TypedDict, TypeVar

from spanscope.analyzer.errors import SpanscopeError
from spanscope.analyzer.sqlnorm import normalize

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 reads TOML with the tomllib backport
    import tomli as tomllib

PYPROJECT: Final = "pyproject.toml"
TABLE: Final = "tool.spanscope"

CompareMetric = Literal["mean", "p50", "p95"]
RegressionMetric = Literal["mean", "p95"]


class ConfigError(SpanscopeError):
    """A configuration file is unreadable, or one of its keys has a wrong name or value."""


@dataclass(frozen=True)
class GlobLimits:
    """Limits per endpoint glob, in file order; the first matching pattern wins."""

    rules: tuple[tuple[str, float], ...] = ()

    def limit_for(self, endpoint: str) -> tuple[str, float] | None:
        """``(pattern, limit)`` of the first pattern matching ``endpoint``, else ``None``."""
        for pattern, limit in self.rules:
            if fnmatch.fnmatchcase(endpoint, pattern):
                return pattern, limit
        return None

    def __bool__(self) -> bool:
        return bool(self.rules)


@dataclass(frozen=True)
class Acknowledgment:
    """An accepted N+1 finding: ``endpoint`` glob plus its ``statement`` or ``relation``."""

    endpoint: str
    reason: str
    statement: str | None = None  # normalized, so raw SQL from a log matches too
    relation: str | None = None

    def matches(self, endpoint: str, statement: str, relation: str | None) -> bool:
        if not fnmatch.fnmatchcase(endpoint, self.endpoint):
            return False
        if self.relation is not None and self.relation != relation:
            return False
        return self.statement is None or self.statement == statement

    def describe(self) -> str:
        what = self.relation if self.relation is not None else self.statement
        return f"{self.endpoint}: {what}"


@dataclass(frozen=True)
class CompareOptions:
    alpha: float = 0.05
    min_change_pct: float = 5.0
    metric: CompareMetric = "p50"


@dataclass(frozen=True)
class CheckConfig:
    max_n_plus_one: int | None = None
    max_n_plus_one_per_endpoint: GlobLimits = field(default_factory=GlobLimits)
    p95_budget_ms: GlobLimits = field(default_factory=GlobLimits)
    max_queries_per_request: GlobLimits = field(default_factory=GlobLimits)
    max_regression_pct: float | None = None
    regression_metric: RegressionMetric = "p95"

    def has_rules(self) -> bool:
        return (
            self.max_n_plus_one is not None
            or bool(self.max_n_plus_one_per_endpoint)
            or bool(self.p95_budget_ms)
            or bool(self.max_queries_per_request)
            or self.max_regression_pct is not None
        )


@dataclass(frozen=True)
class Config:
    """The validated ``[tool.spanscope]`` table; ``path`` is ``None`` when no file was found."""

    path: str | None = None
    min_repeats: int = 5
    group_by: str = "route"
    apdex_ms: float = 500.0
    compare: CompareOptions = field(default_factory=CompareOptions)
    check: CheckConfig = field(default_factory=CheckConfig)
    acknowledged: tuple[Acknowledgment, ...] = ()

    def analysis_options(
        self, min_repeats: int | None, group_by: str | None, apdex_ms: float | None
    ) -> AnalysisOptions:
        """The command line's values where given, this file's (or the defaults) elsewhere."""
        return AnalysisOptions(
            min_repeats=min_repeats if min_repeats is not None else self.min_repeats,
            group_by=group_by if group_by is not None else self.group_by,
            apdex_ms=apdex_ms if apdex_ms is not None else self.apdex_ms,
        )


class AnalysisOptions(TypedDict):
    """Keyword arguments of ``analyze`` and ``html_report`` that the config file can set."""

    min_repeats: int
    group_by: str
    apdex_ms: float


# --- discovery and parsing -------------------------------------------------------------


def find_pyproject(start: str | os.PathLike[str] | None = None) -> Path | None:
    """The nearest ``pyproject.toml`` in ``start`` (default: the current directory) or above."""
    folder = Path(start if start is not None else Path.cwd()).resolve()
    for candidate in (folder, *folder.parents):
        path = candidate / PYPROJECT
        if path.is_file():
            return path
    return None


def load_config(
    path: str | os.PathLike[str] | None = None, *, start: str | os.PathLike[str] | None = None
) -> Config:
    """The configuration in ``path``, else in the nearest ``pyproject.toml``, else defaults."""
    if path is None:
        found = find_pyproject(start)
        if found is None:
            return Config()
        return parse_config(_read_toml(found), str(found), explicit=False)
    return parse_config(_read_toml(Path(path)), os.fspath(path), explicit=True)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: configuration file not found", "check the --config path"
        ) from None
    except OSError as err:
        raise ConfigError(
            f"{path}: cannot read the configuration: {err.strerror}",
            "check the file's permissions",
        ) from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(
            f"{path}: not valid TOML: {err}", "fix the syntax at that line and column"
        ) from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text", "save the file as UTF-8") from None


def parse_config(document: Mapping[str, Any], path: str, *, explicit: bool = True) -> Config:
    """Validate a parsed TOML document; ``explicit`` files may hold the table at top level."""
    table = _spanscope_table(document, path, explicit=explicit)
    if table is None:
        return Config(path=path)
    reader = _Reader(path, TABLE)
    reader.check_keys(table, _TOP_KEYS)
    return Config(
        path=path,
        min_repeats=reader.get(table, "min_repeats", _int_at_least(2), 5),
        group_by=reader.get(table, "group_by", _choice("route", "url", "name"), "route"),
        apdex_ms=reader.get(table, "apdex_ms", _number_at_least(0.0, above=True), 500.0),
        compare=_compare_options(reader.sub(table, "compare")),
        check=_check_config(reader.sub(table, "check")),
        acknowledged=_acknowledgments(reader, table),
    )


def _spanscope_table(
    document: Mapping[str, Any], path: str, *, explicit: bool
) -> Mapping[str, Any] | None:
    tool = document.get("tool")
    if isinstance(tool, Mapping) and "spanscope" in tool:
        table = tool["spanscope"]
        if not isinstance(table, Mapping):
            raise ConfigError(
                f"{path}: [{TABLE}] must be a table", f"write it as a [{TABLE}] section"
            )
        return table
    if explicit and Path(path).name != PYPROJECT:
        return document
    return None


# --- validation ------------------------------------------------------------------------

T = TypeVar("T")
Parser = Callable[[Any], T]


class _Invalid(Exception):
    """A value of the wrong type or range; ``expected`` says what was wanted."""

    def __init__(self, expected: str, *, item: tuple[str, Any] | None = None) -> None:
        self.expected = expected
        self.item = item  # (glob, value) when one entry of a glob table is wrong
        super().__init__(expected)


@dataclass(frozen=True)
class _Reader:
    """Reads one TOML table, naming ``path`` and the dotted key in every error."""

    path: str
    table: str

    def where(self, key: str) -> str:
        return f"{self.path}: [{self.table}] {key}"

    def check_keys(self, table: Mapping[str, Any], known: tuple[str, ...]) -> None:
        for key in table:
            if key not in known:
                close = difflib.get_close_matches(key, known, n=1)
                hint = f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(known)}"
                raise ConfigError(f"{self.where(key)}: unknown key", hint)

    def get(self, table: Mapping[str, Any], key: str, parse: Parser[T], default: T) -> T:
        if key not in table:
            return default
        try:
            return parse(table[key])
        except _Invalid as err:
            name, value = (
                (key, table[key]) if err.item is None else (f'{key}."{err.item[0]}"', err.item[1])
            )
            raise ConfigError(
                f"{self.where(name)} must be {err.expected}, got {value!r}",
                f"fix the value of {key} in {self.path}",
            ) from None

    def sub(self, table: Mapping[str, Any], key: str) -> tuple[_Reader, Mapping[str, Any]]:
        value = table.get(key, {})
        if not isinstance(value, Mapping):
            raise ConfigError(
                f"{self.where(key)} must be a table, got {value!r}",
                f"write it as a [{self.table}.{key}] section",
            )
        return _Reader(self.path, f"{self.table}.{key}"), value


def _number(value: Any) -> float:
    # bool is an int subclass in Python, but `true` is never a threshold.
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _Invalid("a number")
    return float(value)


def _int_at_least(minimum: int) -> Parser[int]:
    def parse(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise _Invalid(f"an integer >= {minimum}")
        return value

    return parse


def _number_at_least(minimum: float, *, above: bool = False) -> Parser[float]:
    relation = ">" if above else ">="

    def parse(value: Any) -> float:
        try:
            number = _number(value)
        except _Invalid:
            raise _Invalid(f"a number {relation} {minimum:g}") from None
        if number < minimum or (above and number == minimum):
            raise _Invalid(f"a number {relation} {minimum:g}")
        return number

    return parse


def _probability(value: Any) -> float:
    number = _number_at_least(0, above=True)(value)
    if number >= 1:
        raise _Invalid("a number between 0 and 1 (exclusive)")
    return number


def _choice(*choices: str) -> Parser[Any]:
    def parse(value: Any) -> str:
        if value not in choices:
            raise _Invalid("one of " + ", ".join(repr(c) for c in choices))
        return str(value)

    return parse


def _glob_limits(limit: Parser[float], *, allow_scalar: bool) -> Parser[GlobLimits]:
    """A table ``{glob = limit}``; with ``allow_scalar`` a bare number means ``{"*" = n}``."""
    shape = 'a number or a table of endpoint globs, e.g. { "GET books/*" = 200 }'
    if not allow_scalar:
        shape = 'a table of endpoint globs, e.g. { "GET admin/*" = 2 }'

    def parse(value: Any) -> GlobLimits:
        if allow_scalar and not isinstance(value, Mapping):
            try:
                return GlobLimits((("*", limit(value)),))
            except _Invalid as err:
                raise _Invalid(f"{shape} ({err.expected})") from None
        if not isinstance(value, Mapping) or not value:
            raise _Invalid(shape)
        rules = []
        for pattern, item in value.items():
            try:
                rules.append((str(pattern), limit(item)))
            except _Invalid as err:
                raise _Invalid(err.expected, item=(str(pattern), item)) from None
        return GlobLimits(tuple(rules))

    return parse


_TOP_KEYS: Final = ("min_repeats", "group_by", "apdex_ms", "compare", "check", "acknowledged")
_COMPARE_KEYS: Final = ("alpha", "min_change_pct", "metric")
_CHECK_KEYS: Final = (
    "max_n_plus_one",
    "max_n_plus_one_per_endpoint",
    "p95_budget_ms",
    "max_queries_per_request",
    "max_regression_pct",
    "regression_metric",
)
_ACK_KEYS: Final = ("endpoint", "statement", "relation", "reason")


def _compare_options(section: tuple[_Reader, Mapping[str, Any]]) -> CompareOptions:
    reader, table = section
    reader.check_keys(table, _COMPARE_KEYS)
    default = CompareOptions()
    return CompareOptions(
        alpha=reader.get(table, "alpha", _probability, default.alpha),
        min_change_pct=reader.get(
            table, "min_change_pct", _number_at_least(0), default.min_change_pct
        ),
        metric=reader.get(table, "metric", _choice("mean", "p50", "p95"), default.metric),
    )


def _check_config(section: tuple[_Reader, Mapping[str, Any]]) -> CheckConfig:
    reader, table = section
    reader.check_keys(table, _CHECK_KEYS)
    count = _int_at_least(0)
    return CheckConfig(
        max_n_plus_one=reader.get(table, "max_n_plus_one", count, None),
        max_n_plus_one_per_endpoint=reader.get(
            table,
            "max_n_plus_one_per_endpoint",
            _glob_limits(lambda v: float(count(v)), allow_scalar=False),
            GlobLimits(),
        ),
        p95_budget_ms=reader.get(
            table,
            "p95_budget_ms",
            _glob_limits(_number_at_least(0, above=True), allow_scalar=True),
            GlobLimits(),
        ),
        max_queries_per_request=reader.get(
            table,
            "max_queries_per_request",
            _glob_limits(lambda v: float(count(v)), allow_scalar=True),
            GlobLimits(),
        ),
        max_regression_pct=reader.get(table, "max_regression_pct", _number_at_least(0), None),
        regression_metric=reader.get(table, "regression_metric", _choice("mean", "p95"), "p95"),
    )


def _acknowledgments(reader: _Reader, table: Mapping[str, Any]) -> tuple[Acknowledgment, ...]:
    entries = table.get("acknowledged", [])
    shape = "an array of tables ([[tool.spanscope.acknowledged]] sections)"
    if not isinstance(entries, list) or not all(isinstance(e, Mapping) for e in entries):
        raise ConfigError(
            f"{reader.where('acknowledged')} must be {shape}",
            "give each accepted finding its own [[tool.spanscope.acknowledged]] section",
        )
    return tuple(_acknowledgment(reader, index, entry) for index, entry in enumerate(entries, 1))


def _acknowledgment(reader: _Reader, index: int, entry: Mapping[str, Any]) -> Acknowledgment:
    item = _Reader(reader.path, f"{reader.table}.acknowledged #{index}")
    item.check_keys(entry, _ACK_KEYS)
    values: dict[str, str | None] = {}
    for key in _ACK_KEYS:
        value = entry.get(key)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise ConfigError(
                f"{item.where(key)} must be a non-empty string, got {value!r}",
                f"quote the {key} in {reader.path}",
            )
        values[key] = value
    for required in ("endpoint", "reason"):
        if values[required] is None:
            raise ConfigError(
                f"{item.where(required)} is missing",
                "every acknowledgment names its endpoint (or a glob) and why it is accepted",
            )
    if values["statement"] is None and values["relation"] is None:
        raise ConfigError(
            f"{item.where('statement')}: neither statement nor relation is given",
            'name the finding: relation = "app.Model.field" or statement = "SELECT ..."',
        )
    statement = values["statement"]
    return Acknowledgment(
        endpoint=str(values["endpoint"]),
        reason=str(values["reason"]),
        statement=normalize(statement) if statement is not None else None,
        relation=values["relation"],
    )
