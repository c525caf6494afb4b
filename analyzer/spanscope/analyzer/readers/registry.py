"""Name -> reader registry and content sniffing.

A reader declares its name, how to recognise its format from the first decompressed
bytes of a file, and how to turn a file into span tables.  New formats register here;
nothing else in the analyzer needs to change.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final, Protocol

import pyarrow as pa
from spanscope.analyzer.diagnostics import Diagnostics
from spanscope.analyzer.errors import UsageError


class Reader(Protocol):
    """Turns one file into span tables (:data:`BASE_SCHEMA`, or :data:`SPAN_SCHEMA` when the
    file already carries the derived columns)."""

    @property
    def name(self) -> str: ...

    def sniff(self, head: bytes) -> bool:
        """True if ``head`` (the first decompressed bytes of a file) is in this format."""
        ...

    def read(self, path: str, diagnostics: Diagnostics) -> Iterator[pa.Table]:
        """Span tables in file order; bad records go to ``diagnostics``."""
        ...


_READERS: Final[dict[str, Reader]] = {}


def register(reader: Reader) -> Reader:
    """Add ``reader``; sniffing asks readers in registration order."""
    _READERS[reader.name] = reader
    return reader


def reader_names() -> list[str]:
    return list(_READERS)


def get_reader(name: str) -> Reader:
    try:
        return _READERS[name]
    except KeyError:
        raise UsageError(
            f"unknown input format {name!r}", f"choose one of: {', '.join(_READERS)}"
        ) from None


def sniff(head: bytes) -> Reader | None:
    """The first registered reader that recognises ``head``, or None."""
    return next((reader for reader in _READERS.values() if reader.sniff(head)), None)


def text_start(head: bytes) -> bytes:
    """``head`` without a UTF-8 byte-order mark and leading whitespace."""
    return head.removeprefix(b"\xef\xbb\xbf").lstrip()


def first_line(head: bytes) -> bytes:
    return text_start(head).split(b"\n", 1)[0].strip()


# Keys that only OTLP trace data has (any spelling the readers accept).
OTLP_MARKERS: Final = (b'"resourceSpans"', b'"resource_spans"')
