"""``[tool.spanscope]``: found upwards from the current directory, validated key by key."""

from __future__ import annotations

from pathlib import Path

import pytest
from spanscope.analyzer.config import (
    CompareOptions,
    Config,
    ConfigError,
    GlobLimits,
    find_pyproject,
    load_config,
)
from spanscope.analyzer.errors import SpanscopeError

FULL = """
[project]
name = "books-demo"

[tool.spanscope]
min_repeats = 3

[tool.spanscope.compare]
alpha = 0.01
min_change_pct = 10
metric = "mean"

[tool.spanscope.check]
max_n_plus_one = 0
max_n_plus_one_per_endpoint = { "GET admin/*" = 2 }
p95_budget_ms = { "GET books/*" = 200, "*" = 1000 }
max_queries_per_request = 50
max_regression_pct = 10
regression_metric = "mean"

[[tool.spanscope.acknowledged]]
endpoint = "GET admin/*"
relation = "auth.User.groups"
reason = "the admin lists ten users at most"

[[tool.spanscope.acknowledged]]
endpoint = "GET books/"
statement = 'SELECT "a"."id" FROM "a" WHERE "a"."id" = %s LIMIT 21'
reason = "a cached fragment"
"""


def write(folder: Path, text: str, name: str = "pyproject.toml") -> Path:
    path = folder / name
    path.write_text(text)
    return path


def error_for(tmp_path: Path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return str(caught.value)


def test_every_key_is_read(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, FULL))
    assert config.min_repeats == 3
    assert config.compare == CompareOptions(alpha=0.01, min_change_pct=10, metric="mean")
    check = config.check
    assert check.max_n_plus_one == 0
    assert check.max_n_plus_one_per_endpoint == GlobLimits((("GET admin/*", 2),))
    assert check.p95_budget_ms == GlobLimits((("GET books/*", 200), ("*", 1000)))
    assert check.max_queries_per_request == GlobLimits((("*", 50),))
    assert (check.max_regression_pct, check.regression_metric) == (10, "mean")
    assert [ack.reason for ack in config.acknowledged] == [
        "the admin lists ten users at most",
        "a cached fragment",
    ]


def test_nearest_pyproject_above_the_current_directory_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, FULL)
    nested = tmp_path / "src" / "app"
    nested.mkdir(parents=True)
    monkeypatch.chdir(nested)
    assert find_pyproject() == tmp_path / "pyproject.toml"
    assert load_config().min_repeats == 3


def test_a_pyproject_without_the_table_gives_defaults(tmp_path: Path) -> None:
    path = write(tmp_path, '[project]\nname = "x"\n')
    assert load_config(start=tmp_path) == Config(path=str(path))


def test_no_pyproject_anywhere_gives_defaults_without_budgets(tmp_path: Path) -> None:
    assert find_pyproject(tmp_path) is None  # nothing above the temporary folder
    config = load_config(start=tmp_path)
    assert config == Config()
    assert config.check.has_rules() is False


def test_config_file_may_hold_the_table_at_top_level(tmp_path: Path) -> None:
    path = write(tmp_path, "[check]\nmax_n_plus_one = 1\n", name="spanscope.toml")
    assert load_config(path).check.max_n_plus_one == 1


def test_config_file_may_hold_the_pyproject_table(tmp_path: Path) -> None:
    path = write(tmp_path, "[tool.spanscope.check]\nmax_n_plus_one = 4\n", name="ci.toml")
    assert load_config(path).check.max_n_plus_one == 4


def test_a_number_budget_applies_to_every_endpoint() -> None:
    limits = GlobLimits((("*", 500),))
    assert limits.limit_for("POST search/") == ("*", 500)


def test_first_matching_glob_in_file_order_sets_the_limit() -> None:
    limits = GlobLimits((("GET books/*", 200), ("GET *", 300), ("*", 1000)))
    assert limits.limit_for("GET books/<int:pk>/") == ("GET books/*", 200)
    assert limits.limit_for("GET authors/") == ("GET *", 300)
    assert limits.limit_for("POST books/") == ("*", 1000)


def test_globs_match_case_sensitively() -> None:
    assert GlobLimits((("get *", 1),)).limit_for("GET books/") is None


def test_unknown_key_names_file_and_key_and_suggests_the_right_one(tmp_path: Path) -> None:
    message = error_for(tmp_path, "[tool.spanscope.check]\nmax_n_plus_on = 0\n")
    assert str(tmp_path / "pyproject.toml") in message
    assert "[tool.spanscope.check] max_n_plus_on: unknown key" in message
    assert message.endswith("(hint: did you mean 'max_n_plus_one'?)")


def test_wrong_type_names_the_key_the_expected_type_and_the_value(tmp_path: Path) -> None:
    message = error_for(tmp_path, '[tool.spanscope.check]\nmax_n_plus_one = "none"\n')
    assert "[tool.spanscope.check] max_n_plus_one must be an integer >= 0, got 'none'" in message
    assert "(hint:" in message


def test_booleans_are_not_numbers(tmp_path: Path) -> None:
    message = error_for(tmp_path, "[tool.spanscope.check]\nmax_regression_pct = true\n")
    assert "max_regression_pct must be a number >= 0" in message


def test_a_bad_limit_inside_a_glob_table_names_the_glob(tmp_path: Path) -> None:
    message = error_for(tmp_path, '[tool.spanscope.check]\np95_budget_ms = { "GET *" = -5 }\n')
    assert '[tool.spanscope.check] p95_budget_ms."GET *" must be a number > 0, got -5' in message


def test_alpha_must_be_a_probability(tmp_path: Path) -> None:
    message = error_for(tmp_path, "[tool.spanscope.compare]\nalpha = 5\n")
    assert "[tool.spanscope.compare] alpha must be a number between 0 and 1" in message


def test_metric_must_be_one_of_the_choices(tmp_path: Path) -> None:
    message = error_for(tmp_path, '[tool.spanscope.compare]\nmetric = "p99"\n')
    assert "metric must be one of 'mean', 'p50', 'p95'" in message


def test_a_section_that_is_not_a_table_is_an_error(tmp_path: Path) -> None:
    message = error_for(tmp_path, "[tool.spanscope]\ncheck = 3\n")
    assert "[tool.spanscope] check must be a table" in message


def test_invalid_toml_names_the_file_and_the_position(tmp_path: Path) -> None:
    message = error_for(tmp_path, "[tool.spanscope\nmin_repeats = 3\n")
    assert str(tmp_path / "pyproject.toml") in message
    assert "not valid TOML" in message and "line 1" in message


def test_a_missing_config_file_is_an_error_with_a_hint(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"configuration file not found \(hint: "):
        load_config(tmp_path / "missing.toml")


def test_config_errors_exit_like_every_usage_error() -> None:
    assert issubclass(ConfigError, SpanscopeError)
    assert ConfigError("x", "y").exit_code == 2


def test_acknowledgment_needs_a_reason(tmp_path: Path) -> None:
    message = error_for(
        tmp_path, '[[tool.spanscope.acknowledged]]\nendpoint = "GET x/"\nrelation = "a.B.c"\n'
    )
    assert "[tool.spanscope.acknowledged #1] reason is missing" in message


def test_acknowledgment_needs_a_statement_or_a_relation(tmp_path: Path) -> None:
    message = error_for(
        tmp_path, '[[tool.spanscope.acknowledged]]\nendpoint = "GET x/"\nreason = "ok"\n'
    )
    assert "neither statement nor relation" in message


def test_acknowledged_statement_is_normalized_so_raw_sql_matches(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, FULL))
    ack = config.acknowledged[1]
    assert ack.statement == 'SELECT "a"."id" FROM "a" WHERE "a"."id" = ? LIMIT ?'
    assert ack.matches("GET books/", ack.statement, relation=None)
    assert not ack.matches("GET authors/", ack.statement, relation=None)


def test_acknowledged_relation_matches_endpoint_globs(tmp_path: Path) -> None:
    ack = load_config(write(tmp_path, FULL)).acknowledged[0]
    assert ack.matches("GET admin/users/", "SELECT ...", "auth.User.groups")
    assert not ack.matches("GET admin/users/", "SELECT ...", "auth.User.permissions")
