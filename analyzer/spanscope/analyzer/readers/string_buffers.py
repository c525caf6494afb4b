"""Checks over the whole data buffer of an Arrow string array at once.

Ids and times written by trace exporters are almost always exactly right (lower-case
hex of the right length, plain digits); proving that for a whole column in one pass
lets the readers skip their per-string rules, which then only run on the rare column
that needs them.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa

#: Byte classes for :func:`chars_ok`.
LOWER_HEX: Final = b"0123456789abcdef"
DIGITS: Final = b"0123456789"


def chars_ok(text: pa.Array[Any], allowed: bytes) -> npt.NDArray[np.int32] | None:
    """The lengths of ``text``'s strings if none is null and every byte is ``allowed``.

    One pass of ``bytes.translate`` over the string data: what ids and times look like
    in every dump written by an OTLP exporter, checked far cheaper than a regular
    expression per string.  None sends the caller to its exact per-string rules.
    """
    if text.null_count or text.type != pa.string():
        return None
    buffers: list[Any] = text.buffers()  # validity, offsets, data
    offsets: npt.NDArray[np.int32] = np.frombuffer(
        buffers[1], dtype=np.int32, count=len(text) + 1, offset=text.offset * 4
    )
    if buffers[2] is not None and offsets[-1] > offsets[0]:
        data = memoryview(buffers[2])[offsets[0] : offsets[-1]]
        if bytes(data).translate(None, allowed):  # anything left is not allowed
            return None
    lengths: npt.NDArray[np.int32] = np.diff(offsets)
    return lengths
