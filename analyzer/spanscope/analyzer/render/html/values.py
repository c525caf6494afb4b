"""Small value helpers shared by the report sections: rounding and bounded text."""

from __future__ import annotations

import math
from typing import Final

#: Milliseconds to 3 decimals (1 us) is finer than any chart can show.
DECIMALS: Final = 3


def ms(value: float | None, decimals: int = DECIMALS) -> float | None:
    """``value`` rounded, ``None`` for missing and non-finite numbers (JSON has no NaN)."""
    if value is None or not math.isfinite(value):
        return None
    return round(float(value), decimals)


def clip(text: str | None, limit: int) -> str | None:
    """``text`` cut to ``limit`` characters with an ellipsis: bounds the embedded data."""
    if text is None or len(text) <= limit:
        return text
    return text[: limit - 1] + "\u2026"
