"""A whole-file OTLP JSON document: one (pretty-printed) ``TracesData`` object, or an
array of them -- how public examples and hand-saved exports look.

Such files are small, so the document is parsed at once; problems are reported at the
line where the offending object starts.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

import pyarrow as pa
from spanscope.analyzer.diagnostics import Diagnostics
from spanscope.analyzer.readers import registry, source
from spanscope.analyzer.readers.otlp_objects import add_traces_data
from spanscope.analyzer.readers.rows import SpanRows

_HINT: Final = "the file must hold one OTLP TracesData JSON object (or an array of them)"


class OtlpJsonReader:
    name = "otlp-json"

    def sniff(self, head: bytes) -> bool:
        start = registry.text_start(head)
        # `[` starts an array of documents; `{` alone on its line a pretty-printed one.
        document = start.startswith(b"[") or registry.first_line(head) == b"{"
        return document and any(marker in head for marker in registry.OTLP_MARKERS)

    def read(self, path: str, diagnostics: Diagnostics) -> Iterator[pa.Table]:
        document = source.read_json_document(path, diagnostics, _HINT)
        if document is source.NOT_JSON:
            return
        rows = SpanRows()
        documents = document if isinstance(document, list) else [document]
        for item in documents:
            # orjson keeps no positions; line 1 is the best location for a whole document.
            add_traces_data(item, rows, diagnostics, path, 1)
        if len(rows):
            yield rows.to_table()
