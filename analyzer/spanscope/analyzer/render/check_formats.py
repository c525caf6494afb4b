"""The output formats of ``spanscope check``: ``text`` (default), ``json``, ``junit``, ``sarif``."""

from __future__ import annotations

from typing import Final

from spanscope.analyzer.analyses.check import CheckResult
from spanscope.analyzer.render.check_json import CheckJsonRenderer
from spanscope.analyzer.render.check_junit import CheckJunitRenderer
from spanscope.analyzer.render.check_sarif import CheckSarifRenderer
from spanscope.analyzer.render.check_text import CheckTextRenderer
from spanscope.analyzer.render.result_formats import Formats

CHECK_FORMATS: Final = Formats[CheckResult](
    "text", CheckTextRenderer, CheckJsonRenderer, CheckJunitRenderer, CheckSarifRenderer
)
