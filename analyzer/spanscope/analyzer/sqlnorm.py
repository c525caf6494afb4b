"""SQL normalization: turn a statement into the template that N+1 detection groups by.

``SELECT "a"."id" FROM "a" WHERE "a"."id" = 42 /* app='x' */`` and
``select "a"."id" from "a" where "a"."id" = %s`` both become
``SELECT "a"."id" FROM "a" WHERE "a"."id" = ?``.

Rules: comments (``--``, ``/* */`` including sqlcommenter tags) are dropped;
whitespace is collapsed; string, number and dollar-quoted literals and every
placeholder style (``%s``, ``%(name)s``, ``?``, ``$1``, ``:name``) become ``?``;
``IN (...)`` lists collapse to ``IN (...)`` whatever their length; repeated
``VALUES`` row groups collapse to the first one; savepoint names become ``?``;
keywords are upper-cased.  Double-quoted and backtick-quoted names are identifiers
(SQLite, PostgreSQL, and MySQL as Django drives it) and are kept verbatim.

Why a hand-written scanner rather than a library: measured on 4,000 distinct
Django-style statements (long IN lists, multi-row VALUES, sqlcommenter comments,
every placeholder style; 2 cores), ``sqlparse.lexer.tokenize`` alone took 1.36 s
(340 us each), sqlglot 30's pure-Python tokenizer alone 0.46-0.56 s (115-140 us
each), and this scanner 0.33 s (80 us each) *including* the rewriting that
the libraries would still need on top.  Speed was not the only problem: sqlglot
splits ``%s``/``%(name)s``/``:name`` placeholders into operator tokens, drops
the quotes of quoted identifiers, moves comments into side fields, and its MySQL
tokenizer rejected 1 in 8 of those statements (PostgreSQL ``E'...'`` strings);
sqlparse needs the same placeholder post-processing.  A statement is never
parsed, only tokenized, so an unfamiliar dialect feature degrades to "kept
verbatim" instead of an error.

Normalize each *distinct* statement once (:func:`normalize_many`) and join the
result back onto the span table; never call this per span.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Final

#: db_system values whose string literals use backslash escapes (``'it\\'s'``).
_BACKSLASH_ESCAPE_SYSTEMS: Final = frozenset({"mysql", "mariadb"})

_PLACEHOLDER: Final = "?"

# One alternation, tried left to right at each position; the first group that
# matches names the token kind.  Order matters: comments before operators,
# prefixed strings before words, ``::`` casts before ``:name`` placeholders.
_TOKEN_PATTERN: Final = r"""
  (?P<ws>\s+)
| (?P<block_comment>/\*.*?(?:\*/|\Z))
| (?P<line_comment>--[^\n]*)
| (?P<dquote>"(?:[^"]|"")*"?)
| (?P<backtick>`(?:[^`]|``)*`?)
| (?P<estring>[Ee]'(?:[^'\\]|\\.|'')*'?)
| (?P<string>(?:[NnBbXx]|[Uu]&)?'{string_body}*'?)
| (?P<dollar>\$(?P<tag>(?:[A-Za-z_]\w*)?)\$.*?(?:\$(?P=tag)\$|\Z))
| (?P<placeholder>%\(\w+\)s|%s|\?\d*|\$\d+|:[A-Za-z_]\w*|:\d+)
| (?P<cast>::)
| (?P<number>0[xX][0-9A-Fa-f]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
| (?P<word>[A-Za-z_][\w$]*)
| (?P<punct>.)
"""

_STANDARD_STRING_BODY: Final = r"(?:[^']|'')"
_BACKSLASH_STRING_BODY: Final = r"(?:[^'\\]|\\.|'')"

_SCANNERS: Final = {
    False: re.compile(
        _TOKEN_PATTERN.format(string_body=_STANDARD_STRING_BODY), re.VERBOSE | re.DOTALL
    ),
    True: re.compile(
        _TOKEN_PATTERN.format(string_body=_BACKSLASH_STRING_BODY), re.VERBOSE | re.DOTALL
    ),
}

_LITERAL_KINDS: Final = frozenset({"estring", "string", "dollar", "placeholder", "number"})
_DROPPED_KINDS: Final = frozenset({"ws", "block_comment", "line_comment"})

# Keywords folded to upper case.  Unquoted identifiers keep their spelling; a
# word in this set is a keyword in the statements ORMs emit, which is what
# matters for grouping (an identifier spelled like a keyword is rare and still
# groups consistently because the folding is deterministic).
_KEYWORDS: Final = frozenset(
    [
        "add",
        "all",
        "alter",
        "analyze",
        "and",
        "any",
        "array",
        "as",
        "asc",
        "begin",
        "between",
        "by",
        "case",
        "cast",
        "check",
        "collate",
        "column",
        "commit",
        "conflict",
        "constraint",
        "create",
        "cross",
        "current_date",
        "current_time",
        "current_timestamp",
        "database",
        "default",
        "deferrable",
        "deferred",
        "delete",
        "desc",
        "distinct",
        "do",
        "drop",
        "else",
        "end",
        "escape",
        "except",
        "exclusive",
        "exists",
        "explain",
        "false",
        "fetch",
        "filter",
        "first",
        "following",
        "for",
        "foreign",
        "from",
        "full",
        "glob",
        "group",
        "having",
        "if",
        "ignore",
        "ilike",
        "immediate",
        "in",
        "index",
        "inner",
        "insert",
        "intersect",
        "into",
        "is",
        "isnull",
        "join",
        "key",
        "last",
        "lateral",
        "left",
        "like",
        "limit",
        "lock",
        "match",
        "materialized",
        "natural",
        "no",
        "not",
        "nothing",
        "notnull",
        "null",
        "nulls",
        "of",
        "offset",
        "on",
        "only",
        "or",
        "order",
        "outer",
        "over",
        "partition",
        "pragma",
        "preceding",
        "primary",
        "range",
        "recursive",
        "references",
        "regexp",
        "release",
        "rename",
        "replace",
        "restrict",
        "returning",
        "right",
        "rollback",
        "row",
        "rows",
        "savepoint",
        "select",
        "set",
        "share",
        "skip",
        "some",
        "table",
        "temp",
        "temporary",
        "then",
        "ties",
        "to",
        "transaction",
        "true",
        "unbounded",
        "union",
        "unique",
        "update",
        "using",
        "vacuum",
        "values",
        "view",
        "when",
        "where",
        "window",
        "with",
        "without",
        "count",
        "sum",
        "avg",
        "min",
        "max",
        "coalesce",
        "nowait",
        "interval",
        "true",
        "false",
    ]
)

_SAVEPOINT_NAME_AFTER: Final = frozenset({"SAVEPOINT"})


def normalize(statement: str, db_system: str | None = None) -> str:
    """The template of one SQL statement (see the module docstring for the rules).

    ``db_system`` (``"mysql"``, ``"postgresql"``, ``"sqlite"``...) only decides
    whether a backslash escapes a quote inside a string literal.
    """
    return _normalize_cached(statement, (db_system or "").lower() in _BACKSLASH_ESCAPE_SYSTEMS)


def normalize_many(
    statements: Iterable[str | None], db_systems: Iterable[str | None] | None = None
) -> list[str | None]:
    """Normalize a batch of (already distinct) statements; ``None`` stays ``None``."""
    systems: Iterable[str | None] = db_systems if db_systems is not None else _nones()
    return [
        None if stmt is None else normalize(stmt, system)
        for stmt, system in zip(statements, systems, strict=False)
    ]


def _nones() -> Iterable[None]:
    while True:
        yield None


@lru_cache(maxsize=65536)
def _normalize_cached(statement: str, backslash_escapes: bool) -> str:
    tokens = _tokens(statement, backslash_escapes)
    tokens = _collapse_in_lists(tokens)
    tokens = _collapse_values_rows(tokens)
    return _join(tokens)


def _tokens(statement: str, backslash_escapes: bool) -> list[str]:
    out: list[str] = []
    previous_word = ""
    for match in _SCANNERS[backslash_escapes].finditer(statement):
        kind = match.lastgroup  # the outermost group that matched, never ``tag``
        if kind in _DROPPED_KINDS:
            continue
        text = match.group()
        if kind in _LITERAL_KINDS:
            text = _PLACEHOLDER
        elif kind == "word":
            upper = text.upper()
            if upper.lower() in _KEYWORDS:
                text = upper
            elif previous_word in _SAVEPOINT_NAME_AFTER:
                text = _PLACEHOLDER
        elif kind in ("dquote", "backtick") and previous_word in _SAVEPOINT_NAME_AFTER:
            # Django names savepoints "s<thread>_x<n>": unique per call, not per template.
            text = _PLACEHOLDER
        previous_word = text if kind == "word" else ""
        out.append(text)
    return out


def _closing_paren(tokens: list[str], open_index: int) -> int:
    """Index of the ``)`` matching ``tokens[open_index] == "("``, or -1."""
    depth = 0
    for index in range(open_index, len(tokens)):
        token = tokens[index]
        if token == "(":
            depth += 1
        elif token == ")":
            depth -= 1
            if depth == 0:
                return index
    return -1


def _collapse_in_lists(tokens: list[str]) -> list[str]:
    """``IN (?, ?, ?)`` -> ``IN (...)`` when the list holds only literals/placeholders."""
    out: list[str] = []
    index = 0
    while index < len(tokens):
        token = tokens[index]
        out.append(token)
        index += 1
        if token == "IN" and index < len(tokens) and tokens[index] == "(":
            close = _closing_paren(tokens, index)
            inner = tokens[index + 1 : close] if close > 0 else []
            if inner and all(t in (_PLACEHOLDER, ",", "-", "+") for t in inner):
                out.extend(("(", "...", ")"))
                index = close + 1
    return out


def _collapse_values_rows(tokens: list[str]) -> list[str]:
    """``VALUES (?, ?), (?, ?)`` -> ``VALUES (?, ?)``: rows identical to the first one go."""
    if "VALUES" not in tokens:
        return tokens
    out: list[str] = []
    index = 0
    while index < len(tokens):
        token = tokens[index]
        out.append(token)
        index += 1
        if token != "VALUES" or index >= len(tokens) or tokens[index] != "(":
            continue
        close = _closing_paren(tokens, index)
        if close < 0:
            continue
        first_row = tokens[index : close + 1]
        out.extend(first_row)
        index = close + 1
        width = len(first_row)
        while (
            tokens[index : index + 1] == [","]
            and tokens[index + 1 : index + 1 + width] == first_row
        ):
            index += 1 + width
    return out


_NO_SPACE_BEFORE: Final = frozenset({",", ")", ".", ";", "::", "]"})
_NO_SPACE_AFTER: Final = frozenset({"(", ".", "::", "["})


# ``COUNT(*)`` reads better than ``COUNT (*)``; ``IN (...)`` and ``VALUES (...)`` keep the space.
_CALLABLE_KEYWORDS: Final = frozenset({"COUNT", "SUM", "AVG", "MIN", "MAX", "COALESCE", "CAST"})


def _is_call(previous: str, token: str) -> bool:
    # Only known function keywords: an unquoted word before "(" may as well be a
    # table name (``INSERT INTO t (a, b)``), which keeps its space.
    return token == "(" and previous in _CALLABLE_KEYWORDS


def _join(tokens: list[str]) -> str:
    parts: list[str] = []
    previous = ""
    for token in tokens:
        spaced = token not in _NO_SPACE_BEFORE and previous not in _NO_SPACE_AFTER
        if parts and spaced and not _is_call(previous, token):
            parts.append(" ")
        parts.append(token)
        previous = token
    return "".join(parts).rstrip(";").rstrip()
