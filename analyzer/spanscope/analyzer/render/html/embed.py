"""JSON that is safe inside an HTML ``<script type="application/json">`` element.

The HTML parser ends a script element at the first ``</script`` whatever the
JSON around it means, and ``<!--`` switches it into a comment-like state; a SQL
statement or span name can contain either.  Escaping every ``<``, ``>`` and
``&`` as a JSON unicode escape makes the text inert for the HTML parser while
``JSON.parse`` reads back exactly the same strings.  U+2028/U+2029 are escaped
too, so the text is also valid as a JavaScript literal should anyone paste it.
"""

from __future__ import annotations

import json
from typing import Any, Final

_ESCAPES: Final = {
    ord("<"): "\\u003c",
    ord(">"): "\\u003e",
    ord("&"): "\\u0026",
    0x2028: "\\u2028",
    0x2029: "\\u2029",
}


def script_json(data: Any) -> str:
    """``data`` as compact JSON with ``<``, ``>``, ``&``, U+2028 and U+2029 escaped.

    NaN and infinities are refused (``JSON.parse`` rejects them): callers turn
    missing numbers into ``None`` first.
    """
    text = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return text.translate(_ESCAPES)
