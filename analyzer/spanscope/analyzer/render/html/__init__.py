"""The self-contained HTML report (``spanscope report``).

One file, no network: the data is aggregated in Python (:mod:`.document`),
embedded as escaped JSON (:mod:`.embed`), and drawn by a small hand-written
script and inline SVG (``assets/``).

Size: whatever the input, a report stays under 2 MB -- the embedded data is
capped by :class:`Limits` (endpoints, chart series, waterfalls of at most 300
spans, findings) and then trimmed to ``Limits.data_bytes`` (1.8 MB).  A dump of
100 k requests (about a million spans, 40 endpoints) gives about 200 kB, which
Chromium opens and draws in under half a second.
"""

from spanscope.analyzer.render.html.build import DEFAULT_TITLE, HtmlReport, html_report
from spanscope.analyzer.render.html.document import DEFAULT_LIMITS, Limits

__all__ = ["DEFAULT_LIMITS", "DEFAULT_TITLE", "HtmlReport", "Limits", "html_report"]
