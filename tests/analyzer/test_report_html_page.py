"""The report page is one self-contained file: inline assets, nothing to fetch."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest
from spanbuilder import SpanBuilder
from spanscope.analyzer.render.html import html_report
from spanscope.analyzer.render.html.page import asset

XSS = "</script><script>alert(1)</script>"


@pytest.fixture(scope="module")
def page() -> str:
    builder = SpanBuilder()
    request = builder.request("GET", "books/", start_ms=0, duration_ms=40)
    builder.queries(request, 'SELECT * FROM "book" WHERE "id" = %s', count=6, start_ms=2, each_ms=1)
    builder.span(request, XSS, start_ms=20, duration_ms=5)
    builder.request("GET", f"{XSS}/", start_ms=100, duration_ms=10)
    return html_report(builder.table(), title=f"Shop {XSS}").html


def _inline(page: str, tag: str) -> list[str]:
    return re.findall(rf"<{tag}>(.*?)</{tag}>", page, flags=re.S)


def test_the_page_references_no_external_resource(page: str) -> None:
    assert not re.search(r"""\s(src|href)\s*=\s*["']?(https?:|//)""", page)
    assert "@import" not in page and "url(" not in page


def test_markup_in_span_names_and_the_title_never_appears_raw(page: str) -> None:
    assert XSS not in page
    assert page.count("<script") == 2
    assert "Shop &lt;/script&gt;" in page


def test_content_security_policy_forbids_every_fetch_and_allows_only_the_inline_script(
    page: str,
) -> None:
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page)
    assert policy is not None
    (script,) = _inline(page, "script")
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert "default-src 'none'" in policy[1]
    assert f"script-src 'sha256-{digest}'" in policy[1]


def test_assets_cannot_close_their_own_elements_early() -> None:
    assert "</script" not in asset("report.js").lower()
    assert "</style" not in asset("report.css").lower()


def test_the_script_never_writes_markup_from_data() -> None:
    script = asset("report.js")
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in script
