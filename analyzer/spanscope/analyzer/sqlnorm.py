"""SQL normalization: turn a statement into the template that N+1 detection groups by.

``SELECT "a"."id" FROM "a" WHERE "a"."id" = 42 /* app='x' */`` and
``select "a"."id" from "a" where "a"."id" = %s`` both become
``SELECT "a"."id" FROM "a" WHERE "a"."id" = ?``.

Rules: comments (``--``, ``/* */`` including sqlcommenter tags) are dropped;
whitespace is collapsed; string, number (a sign included: ``= -5``) and
dollar-quoted literals and every placeholder style (``%s``, ``%(name)s``, ``?``,
``$1``, ``:name``) become ``?``; value lists ``IN (...)`` and ``ARRAY[...]``
collapse whatever their length (``NULL``, ``TRUE``, ``FALSE`` and casts such as
``?::uuid`` may be among the values); a multi-row ``VALUES`` keeps only its first
row; savepoint names become ``?``; keywords are upper-cased.  Backtick-quoted names
are identifiers and kept verbatim; so are double-quoted ones, except for
``db_system`` mysql/mariadb, where ``"..."`` is a string literal (MySQL without
``ANSI_QUOTES``; Django's MySQL backend quotes names with backticks).

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
from typing import Final, NamedTuple

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


def _scanner(backslash_escapes: bool) -> re.Pattern[str]:
    body = _BACKSLASH_STRING_BODY if backslash_escapes else _STANDARD_STRING_BODY
    pattern = _TOKEN_PATTERN.format(string_body=body)
    if backslash_escapes:
        # MySQL (without ANSI_QUOTES) reads "..." as a string literal, with backslash
        # escapes; Django's MySQL backend quotes names with backticks.
        pattern = pattern.replace(
            '(?P<dquote>"(?:[^"]|"")*"?)', '(?P<dstring>"(?:[^"\\\\]|\\\\.|"")*"?)'
        )
    return re.compile(pattern, re.VERBOSE | re.DOTALL)


_SCANNERS: Final = {False: _scanner(False), True: _scanner(True)}

_LITERAL_KINDS: Final = frozenset(
    {"estring", "string", "dstring", "dollar", "placeholder", "number"}
)
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

_UPPER_KEYWORDS: Final = frozenset(word.upper() for word in _KEYWORDS)
_SAVEPOINT_NAME_AFTER: Final = frozenset({"SAVEPOINT"})


class Template(NamedTuple):
    """A normalized statement and whether its source had placeholders."""

    template: str
    #: True when the source has a placeholder (``%s``, ``?``, ``$1``...): two runs of
    #: the same text then say nothing about whether their parameters were equal.
    parameterized: bool


def normalize(statement: str, db_system: str | None = None) -> str:
    """The template of one SQL statement (see the module docstring for the rules).

    ``db_system`` (``"mysql"``, ``"postgresql"``, ``"sqlite"``...) decides the
    dialect: for MySQL and MariaDB a backslash escapes a quote inside a string
    literal and ``"..."`` is a string, not a name.
    """
    return normalize_info(statement, db_system).template


def normalize_info(statement: str, db_system: str | None = None) -> Template:
    """:func:`normalize`, plus whether the statement has placeholders."""
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


# Long IN lists of plain numbers and placeholders are much of what makes a dump's
# distinct statements many and long; shrinking each to one item with one C-level
# regex pass before scanning took a quarter off the time per statement (110 -> 82 us
# on 20,000 distinct statements, one in four with an IN list) and changes no result:
# the scanner collapses the list anyway, and such text inside a string literal or a
# comment is replaced or dropped whole.
_LIST_ITEM: Final = r"(?:[-+]?\d+(?:\.\d+)?|%s|\?|\$\d+|NULL)"
_SIMPLE_IN_LIST: Final = re.compile(
    rf"\bIN\s*\(\s*{_LIST_ITEM}(?:\s*,\s*{_LIST_ITEM})+\s*\)", re.IGNORECASE
)


def _shorter_in_list(match: re.Match[str]) -> str:
    # One item of the same kind, so "had placeholders" stays what it was.
    text = match.group()
    return "IN (?)" if ("%s" in text or "?" in text or "$" in text) else "IN (0)"


@lru_cache(maxsize=65536)
def _normalize_cached(statement: str, backslash_escapes: bool) -> Template:
    statement = _SIMPLE_IN_LIST.sub(_shorter_in_list, statement)
    tokens, placeholders = _tokens(statement, backslash_escapes)
    tokens = _collapse_lists(tokens)
    tokens = _collapse_values_rows(tokens)
    return Template(_join(tokens), placeholders)


# After one of these a ``-`` or ``+`` is binary (``a - 5``); anywhere else it is a
# sign that belongs to the number (``= -5``, ``(-5, 3)``, ``LIMIT -1``).
_VALUE_KEYWORDS: Final = frozenset(
    {"END", "NULL", "TRUE", "FALSE", "CURRENT_DATE", "CURRENT_TIME", "CURRENT_TIMESTAMP"}
)


def _ends_value(token: str) -> bool:
    if token in (_PLACEHOLDER, ")", "]") or token in _VALUE_KEYWORDS:
        return True
    first = token[:1]
    return first in ('"', "`") or (
        (first.isalnum() or first == "_") and token not in _UPPER_KEYWORDS
    )


def _tokens(statement: str, backslash_escapes: bool) -> tuple[list[str], bool]:
    """The kept tokens, and whether any placeholder was seen."""
    out: list[str] = []
    placeholders = False
    previous_word = ""
    for match in _SCANNERS[backslash_escapes].finditer(statement):
        kind = match.lastgroup  # the outermost group that matched, never ``tag``
        if kind in _DROPPED_KINDS:
            continue
        text = match.group()
        if kind in _LITERAL_KINDS:
            placeholders = placeholders or kind == "placeholder"
            text = _PLACEHOLDER
            if (
                kind == "number"
                and out
                and out[-1] in ("-", "+")
                and (len(out) == 1 or not _ends_value(out[-2]))
            ):
                out.pop()  # a signed number is one literal
        elif kind == "word":
            upper = text.upper()
            if upper in _UPPER_KEYWORDS:
                text = upper
            elif previous_word in _SAVEPOINT_NAME_AFTER:
                text = _PLACEHOLDER
        elif kind in ("dquote", "backtick") and previous_word in _SAVEPOINT_NAME_AFTER:
            # Django names savepoints "s<thread>_x<n>": unique per call, not per template.
            text = _PLACEHOLDER
        previous_word = text if kind == "word" else ""
        out.append(text)
    return out, placeholders


def _closing(tokens: list[str], open_index: int) -> int:
    """Index of the bracket closing ``tokens[open_index]`` (``(`` or ``[``), or -1."""
    opening = tokens[open_index]
    closing = ")" if opening == "(" else "]"
    depth = 0
    for index in range(open_index, len(tokens)):
        token = tokens[index]
        if token == opening:
            depth += 1
        elif token == closing:
            depth -= 1
            if depth == 0:
                return index
    return -1


# What a collapsible value list may hold besides placeholders and commas: literal
# keywords and casts (``?::uuid``).
_LIST_VALUE_WORDS: Final = frozenset({"NULL", "TRUE", "FALSE"})


def _is_value_list(inner: list[str]) -> bool:
    if not inner or _PLACEHOLDER not in inner:
        return False
    for index, token in enumerate(inner):
        after_cast = index > 0 and inner[index - 1] == "::"
        if not (token in (_PLACEHOLDER, ",", "::") or token in _LIST_VALUE_WORDS or after_cast):
            return False
    return True


def _collapse_lists(tokens: list[str]) -> list[str]:
    """``IN (?, ?, ?)`` -> ``IN (...)`` and ``ARRAY[?, ?]`` -> ``ARRAY[...]`` when the
    list holds only values, whatever its length."""
    out: list[str] = []
    index = 0
    while index < len(tokens):
        token = tokens[index]
        out.append(token)
        index += 1
        if token in ("IN", "ARRAY") and index < len(tokens) and tokens[index] in ("(", "["):
            close = _closing(tokens, index)
            if close > 0 and _is_value_list(tokens[index + 1 : close]):
                out.extend((tokens[index], "...", tokens[close]))
                index = close + 1
    return out


def _collapse_values_rows(tokens: list[str]) -> list[str]:
    """``VALUES (?, ?), (?, NULL), ...`` -> ``VALUES (?, ?)``: a bulk insert of any
    number of rows is one template, named by its first row."""
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
        close = _closing(tokens, index)
        if close < 0:
            continue
        out.extend(tokens[index : close + 1])
        index = close + 1
        while tokens[index : index + 2] == [",", "("]:
            following = _closing(tokens, index + 1)
            if following < 0:
                break
            index = following + 1
    return out


_NO_SPACE_BEFORE: Final = frozenset({",", ")", ".", ";", "::", "]", "["})
_NO_SPACE_AFTER: Final = frozenset({"(", ".", "::", "["})


# ``COUNT(*)`` reads better than ``COUNT (*)``; ``IN (...)`` and ``VALUES (...)`` keep the space.
_CALLABLE_KEYWORDS: Final = frozenset(
    {"COUNT", "SUM", "AVG", "MIN", "MAX", "COALESCE", "CAST", "ANY", "SOME"}
)


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
