"""Data embedded in the report's ``<script type="application/json">`` cannot end it."""

from __future__ import annotations

import json

from spanscope.analyzer.render.html.embed import script_json

MARKUP = "</script><script>alert(1)</script><!-- & -->"


def test_markup_characters_are_escaped_so_the_html_parser_sees_no_tag() -> None:
    text = script_json({"name": MARKUP})
    assert "<" not in text and ">" not in text and "&" not in text
    assert "\\u003c/script\\u003e" in text


def test_escaped_json_parses_back_to_the_same_strings() -> None:
    data = {"name": MARKUP, "sql": "a < b && c > d", "line": "x\u2028y\u2029z", "n": [1, 2.5, None]}
    assert json.loads(script_json(data)) == data


def test_line_separators_are_escaped_for_javascript_readers() -> None:
    text = script_json(["x\u2028y\u2029z"])
    assert "\u2028" not in text and "\u2029" not in text


def test_non_ascii_text_stays_readable() -> None:
    assert "café" in script_json(["café"])
