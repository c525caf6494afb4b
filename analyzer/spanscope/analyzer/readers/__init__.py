"""Readers: every supported dump format -> span tables in the canonical schema.

Importing this package registers the built-in formats; see :mod:`.registry`.
"""

from __future__ import annotations

from spanscope.analyzer.readers import (
    console,
    jaeger,
    otlp_framed,
    otlp_json,
    otlp_jsonl,
    parquet,
    zipkin,
)
from spanscope.analyzer.readers.registry import Reader, get_reader, reader_names, register, sniff

# Registration order is sniffing order: the most specific signatures first.
register(parquet.ParquetReader())
register(otlp_framed.OtlpFramedReader())
register(otlp_jsonl.OtlpJsonLinesReader())
register(otlp_json.OtlpJsonReader())
register(jaeger.JaegerReader())
register(zipkin.ZipkinReader())
register(console.ConsoleReader())

__all__ = ["Reader", "get_reader", "reader_names", "register", "sniff"]
