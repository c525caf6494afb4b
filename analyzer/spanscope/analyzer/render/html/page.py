"""The HTML page: the template with the CSS, the JavaScript and the data inlined.

A Content-Security-Policy with ``default-src 'none'`` makes the promise of an
offline file enforceable by the browser: no request can leave the page, and only
the page's own script and style (allowed by their SHA-256 hashes) can run.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
from functools import cache
from importlib.resources import files
from typing import Any, Final

from spanscope.analyzer.render.html.embed import script_json

_MARKER: Final = re.compile(r"<!--spanscope:(\w+)-->")


@cache
def asset(name: str) -> str:
    """A file of ``assets/`` as text (cached: the page is built once per report)."""
    return files("spanscope.analyzer.render.html").joinpath("assets", name).read_text("utf-8")


def _sha256(text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


def render_page(document: dict[str, Any]) -> str:
    """The complete HTML of the report whose data is ``document``."""
    css = asset("report.css")
    js = asset("report.js")
    csp = (
        f"default-src 'none'; script-src {_sha256(js)}; style-src {_sha256(css)}; "
        "img-src data:; base-uri 'none'; form-action 'none'"
    )
    parts = {
        "title": html.escape(document["title"]),
        "version": html.escape(document["spanscope_version"]),
        "csp": csp,
        "css": css,
        "js": js,
        "data": script_json(document),
    }
    # One pass over the template: text inserted for one marker is never scanned
    # for another, so data can never inject a marker of its own.
    return _MARKER.sub(lambda match: parts[match[1]], asset("report.html"))
