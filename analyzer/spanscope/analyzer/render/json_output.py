"""What every JSON renderer shares: the ``--format json`` name and how a document is written."""

from __future__ import annotations

import json
from typing import Any, ClassVar, TextIO


class JsonFormat:
    """What a JSON renderer answers to: ``--format json``, and ``.json`` output files."""

    name: ClassVar[str] = "json"
    suffixes: ClassVar[tuple[str, ...]] = (".json",)


def write_json(document: Any, out: TextIO) -> None:
    """``document`` indented, non-ASCII text kept as is, and a final newline."""
    # allow_nan=False: a NaN would make the output unparsable for strict readers.
    json.dump(document, out, indent=2, ensure_ascii=False, allow_nan=False)
    out.write("\n")
