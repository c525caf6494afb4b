"""``group_by`` and ``apdex_ms`` in ``[tool.spanscope]``: how endpoints are keyed and scored."""

from __future__ import annotations

from pathlib import Path

import pytest
from spanscope.analyzer.config import ConfigError, load_config


def _config(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "pyproject.toml"
    path.write_text(f"[tool.spanscope]\n{body}\n", encoding="utf-8")
    return path


def test_defaults_key_by_route_and_score_against_half_a_second(tmp_path: Path) -> None:
    config = load_config(_config(tmp_path, "min_repeats = 5"))
    assert (config.group_by, config.apdex_ms) == ("route", 500.0)


def test_both_keys_are_read(tmp_path: Path) -> None:
    config = load_config(_config(tmp_path, 'group_by = "url"\napdex_ms = 200'))
    assert (config.group_by, config.apdex_ms) == ("url", 200.0)


def test_an_unknown_grouping_names_the_file_key_and_choices(tmp_path: Path) -> None:
    path = _config(tmp_path, 'group_by = "host"')
    with pytest.raises(ConfigError, match=r"group_by.*'route', 'url', 'name'"):
        load_config(path)


def test_a_zero_apdex_target_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="apdex_ms"):
        load_config(_config(tmp_path, "apdex_ms = 0"))
