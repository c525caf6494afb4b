"""SQL normalization: statements that differ only in values share one template."""

from __future__ import annotations

import pytest
from spanscope.analyzer.sqlnorm import normalize, normalize_info, normalize_many


@pytest.mark.parametrize(
    "statement",
    [
        'SELECT "a"."id" FROM "a" WHERE "a"."id" = %s',
        'SELECT "a"."id" FROM "a" WHERE "a"."id" = ?',
        'SELECT "a"."id" FROM "a" WHERE "a"."id" = $1',
        'SELECT "a"."id" FROM "a" WHERE "a"."id" = :id',
        'SELECT "a"."id" FROM "a" WHERE "a"."id" = %(id)s',
        'SELECT "a"."id" FROM "a" WHERE "a"."id" = 42',
        """SELECT "a"."id" FROM "a" WHERE "a"."id" = 'forty-two'""",
        'SELECT "a"."id" FROM "a" WHERE "a"."id" = 1.5e3',
        'SELECT "a"."id" FROM "a" WHERE "a"."id" = 0xFF',
    ],
)
def test_every_placeholder_style_and_literal_becomes_a_question_mark(statement: str) -> None:
    assert normalize(statement) == 'SELECT "a"."id" FROM "a" WHERE "a"."id" = ?'


def test_a_negative_number_is_one_literal() -> None:
    assert normalize("SELECT x FROM t WHERE y = -5") == normalize("SELECT x FROM t WHERE y = 5")
    assert normalize("SELECT x FROM t WHERE y = -5") == "SELECT x FROM t WHERE y = ?"


def test_a_minus_between_values_stays_an_operator() -> None:
    assert normalize("SELECT a - 5, b-1, (c) - 2 FROM t") == "SELECT a - ?, b - ?, (c) - ? FROM t"


def test_double_quoted_names_are_identifiers_not_literals() -> None:
    assert normalize('SELECT "Name" FROM "Book"') == 'SELECT "Name" FROM "Book"'


def test_backticks_are_identifiers() -> None:
    assert normalize("SELECT `name` FROM `book` WHERE `id` = %s", "mysql") == (
        "SELECT `name` FROM `book` WHERE `id` = ?"
    )


def test_comments_including_sqlcommenter_tags_are_dropped() -> None:
    statement = (
        "/*controller='books',traceparent='00-abc-01'*/ SELECT 1 FROM t -- trailing\n"
        "WHERE x = /* inline */ 2"
    )
    assert normalize(statement) == "SELECT ? FROM t WHERE x = ?"


def test_whitespace_and_keyword_case_are_folded() -> None:
    assert normalize("select  id\n\tfrom book\n  where id=%s") == "SELECT id FROM book WHERE id = ?"


def test_in_lists_collapse_whatever_their_length() -> None:
    one = normalize("SELECT * FROM t WHERE id IN (%s)")
    many = normalize("SELECT * FROM t WHERE id IN (1, 2, 3, 4)")
    assert one == many == "SELECT * FROM t WHERE id IN (...)"


def test_in_subqueries_are_kept() -> None:
    assert normalize("SELECT * FROM t WHERE id IN (SELECT id FROM u)") == (
        "SELECT * FROM t WHERE id IN (SELECT id FROM u)"
    )


def test_multi_row_values_collapse_to_one_row() -> None:
    single = normalize("INSERT INTO t (a, b) VALUES (%s, %s)")
    multi = normalize("INSERT INTO t (a, b) VALUES (%s, %s), (%s, %s), (3, 'x')")
    assert single == multi == "INSERT INTO t (a, b) VALUES (?, ?)"


def test_string_with_doubled_quote_is_one_literal() -> None:
    assert normalize("SELECT 'it''s' AS x") == "SELECT ? AS x"


def test_mysql_backslash_escaped_quote_stays_inside_the_literal() -> None:
    assert normalize(r"SELECT 'it\'s', x FROM t", "mysql") == "SELECT ?, x FROM t"


def test_postgres_escape_strings_dollar_quotes_and_casts() -> None:
    statement = r"SELECT E'a\'b', $body$ it's $$ here $body$, x::text FROM t WHERE y = $2"
    assert normalize(statement, "postgresql") == "SELECT ?, ?, x::text FROM t WHERE y = ?"


def test_savepoint_names_are_parameterized() -> None:
    assert normalize('SAVEPOINT "s140_x1"') == normalize('SAVEPOINT "s977_x12"') == "SAVEPOINT ?"
    assert normalize('RELEASE SAVEPOINT "s1_x2"') == "RELEASE SAVEPOINT ?"


def test_digits_inside_identifiers_are_not_literals() -> None:
    assert normalize("SELECT col2 FROM app_v2 WHERE t1.x = 1") == (
        "SELECT col2 FROM app_v2 WHERE t1.x = ?"
    )


def test_function_calls_read_without_a_space_before_the_parenthesis() -> None:
    assert normalize('SELECT count(*) AS "__count" FROM t') == 'SELECT COUNT(*) AS "__count" FROM t'


def test_unterminated_literal_does_not_raise() -> None:
    assert normalize("SELECT 'oops FROM t") == "SELECT ?"


def test_normalize_many_keeps_order_and_nulls() -> None:
    result = normalize_many(["SELECT 1", None, "select `a` from t"], [None, None, "mysql"])
    assert result == ["SELECT ?", None, "SELECT `a` FROM t"]


@pytest.mark.parametrize("system", ["mysql", "mariadb", "MySQL"])
def test_mysql_double_quoted_text_is_a_string_literal(system: str) -> None:
    statement = 'SELECT `id` FROM `user` WHERE `name` = "bob" AND `nick` = "b\\"o"'
    assert normalize(statement, system) == "SELECT `id` FROM `user` WHERE `name` = ? AND `nick` = ?"


@pytest.mark.parametrize("system", ["postgresql", "sqlite", None])
def test_double_quoted_text_is_a_name_outside_mysql(system: str | None) -> None:
    assert normalize('SELECT "name" FROM "user" WHERE "id" = 1', system) == (
        'SELECT "name" FROM "user" WHERE "id" = ?'
    )


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT * FROM t WHERE id IN (%s, %s, %s)",
        "SELECT * FROM t WHERE id IN (1, -2, 3)",
        "SELECT * FROM t WHERE id IN (?)",
        "SELECT * FROM t WHERE id IN ($1, $2)",
        "SELECT * FROM t WHERE id IN (%(a)s, %(b)s)",
        "SELECT * FROM t WHERE id IN (NULL, 'x')",
        "SELECT * FROM t WHERE id IN (%s::uuid, %s::uuid)",
    ],
)
def test_in_lists_of_any_length_and_placeholder_style_collapse(statement: str) -> None:
    assert normalize(statement) == "SELECT * FROM t WHERE id IN (...)"


def test_postgres_array_literals_collapse() -> None:
    assert normalize("SELECT * FROM t WHERE id = ANY(ARRAY[%s, %s, %s])", "postgresql") == (
        "SELECT * FROM t WHERE id = ANY(ARRAY[...])"
    )


def test_bulk_inserts_of_any_row_count_share_one_template() -> None:
    two = normalize("INSERT INTO t (a, b) VALUES (%s, %s), (%s, %s)")
    three = normalize("INSERT INTO t (a, b) VALUES (1, NULL), (2, 'x'), (-3, 'y') RETURNING id")
    assert two == "INSERT INTO t (a, b) VALUES (?, ?)"
    assert three == "INSERT INTO t (a, b) VALUES (?, NULL) RETURNING id"


@pytest.mark.parametrize(
    ("system", "statement"),
    [
        ("sqlite", 'SELECT "book"."id" FROM "book" WHERE "book"."author_id" = %s LIMIT 21'),
        ("postgresql", 'SELECT "book"."id" FROM "book" WHERE "book"."author_id" = $1 LIMIT 21'),
        ("mysql", "SELECT `book`.`id` FROM `book` WHERE `book`.`author_id` = %s LIMIT 21"),
    ],
)
def test_each_dialect_s_django_lookup_normalizes_its_value_and_limit(
    system: str, statement: str
) -> None:
    template = normalize(statement, system)
    assert template.endswith("WHERE " + template.split("WHERE ")[1])
    assert template.count("?") == 2
    assert "21" not in template


def test_info_tells_placeholders_from_inline_values() -> None:
    assert normalize_info("SELECT * FROM t WHERE id = %s").parameterized
    assert not normalize_info("SELECT * FROM t WHERE id = 42").parameterized
    assert (
        normalize_info("SELECT * FROM t WHERE id = 42").template == "SELECT * FROM t WHERE id = ?"
    )


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        (
            "SELECT * FROM t WHERE a IN (1, 2) AND b = 'x IN (3, 4)'",
            "SELECT * FROM t WHERE a IN (...) AND b = ?",
        ),
        ("select * from t where id in (-1, +2.5, NULL, %s)", "SELECT * FROM t WHERE id IN (...)"),
        ("SELECT * FROM t WHERE id IN (1, 2) -- IN (3, 4)", "SELECT * FROM t WHERE id IN (...)"),
        ("SELECT x FROM t JOIN (1, 2)", "SELECT x FROM t JOIN (?, ?)"),
    ],
)
def test_long_lists_shrink_only_where_a_list_of_values_stands(
    statement: str, expected: str
) -> None:
    assert normalize(statement) == expected


def test_a_list_of_inline_numbers_is_not_mistaken_for_placeholders() -> None:
    assert not normalize_info("SELECT * FROM t WHERE id IN (1, 2, 3)").parameterized
    assert normalize_info("SELECT * FROM t WHERE id IN (1, %s)").parameterized
