"""Normalization of single OTLP values: ids, enums, times, ``AnyValue``.

Used by the per-record readers; the vectorized OTLP path applies the same rules with
Arrow compute and hands every value it is not sure about back to these functions, so
the two paths agree by construction.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import datetime
from typing import Any, Final

import orjson
import pyarrow as pa
from spanscope.analyzer.schema import SPAN_KINDS, STATUS_CODES

_HEX: Final = re.compile(r"[0-9a-fA-F]+")
# Base64 of 16 / 8 bytes is 24 / 12 characters (the protobuf JSON mapping of ``bytes``,
# which some writers use for ids although OTLP/JSON specifies hex).
_B64_LENGTH: Final = {32: 24, 16: 12}


class BadRecord(ValueError):
    """One span cannot be used; carries the Diagnostics kind and a hint."""

    def __init__(self, kind: str, message: str, hint: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.hint = hint


_ID_HINT: Final = "OTLP/JSON ids are hex strings: 32 characters for traceId, 16 for spanId"
_TIME_HINT: Final = "startTimeUnixNano/endTimeUnixNano must be integer nanoseconds since the epoch"


def normalize_id(value: Any, hex_length: int, field_name: str) -> str:
    """A lower-case hex id of ``hex_length`` characters; all-zero and empty are invalid."""
    if isinstance(value, str):
        text = value[2:] if value[:2] in ("0x", "0X") else value
        if len(text) == hex_length and _HEX.fullmatch(text):
            text = text.lower()
            if text.strip("0"):
                return text
            raise BadRecord("missing-id", f"{field_name} is all zeros", _ID_HINT)
        if len(text) == _B64_LENGTH[hex_length]:
            try:
                decoded = base64.b64decode(text, validate=True)
            except (binascii.Error, ValueError):
                decoded = b""
            if len(decoded) * 2 == hex_length and decoded.strip(b"\0"):
                return decoded.hex()
        if not text:
            raise BadRecord("missing-id", f"{field_name} is empty", _ID_HINT)
    elif value is None:
        raise BadRecord("missing-id", f"{field_name} is missing", _ID_HINT)
    raise BadRecord("bad-id", f"{field_name} {_preview(value)} is not a valid id", _ID_HINT)


def padded_id(value: Any, hex_length: int, field_name: str) -> str:
    """Like :func:`normalize_id`, but a shorter hex string is left-padded with zeros.

    Jaeger and Zipkin write 64-bit trace ids as 16 hex characters (and older Jaeger
    versions drop leading zeros); as a 128-bit id they are the same number.
    """
    if isinstance(value, str) and 0 < len(value) < hex_length and _HEX.fullmatch(value):
        value = value.rjust(hex_length, "0")
    return normalize_id(value, hex_length, field_name)


def normalize_parent_id(value: Any) -> str:
    """``""`` for a root span (missing, empty or all-zero parent), else a 16-char hex id."""
    if value is None or value == "":
        return ""
    if isinstance(value, str) and value.removeprefix("0x").strip("0") == "":
        return ""
    return normalize_id(value, 16, "parentSpanId")


def unix_nanos(value: Any, field_name: str) -> int:
    """int64 nanoseconds from a JSON number or a decimal string (the OTLP/JSON spelling)."""
    if isinstance(value, int) and not isinstance(value, bool):
        nanos = value
    elif isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 19:
        nanos = int(value)
    elif value is None:
        raise BadRecord("missing-time", f"{field_name} is missing", _TIME_HINT)
    else:
        raise BadRecord("bad-time", f"{field_name} {_preview(value)} is not an integer", _TIME_HINT)
    if not 0 < nanos < 2**63:
        raise BadRecord("bad-time", f"{field_name} {nanos} is out of range", _TIME_HINT)
    return nanos


def iso_nanos(value: Any, field_name: str) -> int:
    """Nanoseconds since the epoch from an ISO-8601 time (ConsoleSpanExporter output)."""
    if not isinstance(value, str):
        raise BadRecord("missing-time", f"{field_name} is missing", _TIME_HINT)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BadRecord(
            "bad-time", f"{field_name} {_preview(value)} is not an ISO time", _TIME_HINT
        ) from None
    if moment.tzinfo is None:
        raise BadRecord("bad-time", f"{field_name} {_preview(value)} has no time zone", _TIME_HINT)
    seconds = int(moment.timestamp())
    return seconds * 1_000_000_000 + moment.microsecond * 1000


def check_interval(start: int, end: int) -> None:
    if end < start:
        raise BadRecord(
            "bad-time",
            f"span ends before it starts (end {end} < start {start})",
            "the writer's clock or the dump is corrupt",
        )


def _enum_lookup(names: tuple[str, ...], prefixes: tuple[str, ...]) -> dict[str, str]:
    table: dict[str, str] = {}
    for index, name in enumerate(names):
        for spelling in (str(index), name):
            for prefix in ("", *prefixes):
                table[(prefix + spelling).upper()] = name
    return table


# Accept ints, the proto enum names (SPAN_KIND_SERVER), the Python SDK's repr
# (SpanKind.SERVER) and the ClickHouse spelling (Server), case-insensitively.
_KINDS: Final = _enum_lookup(SPAN_KINDS, ("SPAN_KIND_", "SPANKIND."))
_STATUSES: Final = _enum_lookup(STATUS_CODES, ("STATUS_CODE_", "STATUSCODE."))


def span_kind(value: Any) -> str:
    """Unknown values read as ``Unspecified``, as protobuf does for unknown enum numbers."""
    return _KINDS.get(str(value).upper(), SPAN_KINDS[0]) if value is not None else SPAN_KINDS[0]


def status_code(value: Any) -> str:
    return (
        _STATUSES.get(str(value).upper(), STATUS_CODES[0]) if value is not None else STATUS_CODES[0]
    )


def text(value: Any) -> str:
    """A name or message: strings as they are, anything else as compact JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return any_to_json(value)


def format_double(value: float) -> str:
    # Arrow's float->string cast, so that both OTLP paths print a double identically.
    result: str = pa.scalar(value, pa.float64()).cast(pa.string()).as_py()
    return result


def _double(value: Any) -> float:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        # The protobuf JSON mapping spells special doubles as "NaN", "Infinity", "-Infinity".
        return float(value)
    raise ValueError(value)


def _field(mapping: dict[str, Any], camel: str, snake: str) -> Any:
    value = mapping.get(camel)
    return mapping.get(snake) if value is None else value


def any_value_to_python(value: Any) -> Any:
    """An OTLP ``AnyValue`` as a plain Python value (bytes stay base64 text)."""
    if not isinstance(value, dict):
        return value
    for camel, snake in (("stringValue", "string_value"), ("bytesValue", "bytes_value")):
        inner = _field(value, camel, snake)
        if inner is not None:
            return inner
    inner = _field(value, "boolValue", "bool_value")
    if inner is not None:
        return inner
    inner = _field(value, "intValue", "int_value")
    if inner is not None:
        try:
            return int(inner)
        except (TypeError, ValueError):
            return inner
    inner = _field(value, "doubleValue", "double_value")
    if inner is not None:
        try:
            return _double(inner)
        except (TypeError, ValueError):
            return inner
    inner = _field(value, "arrayValue", "array_value")
    if inner is not None:
        values = inner.get("values") if isinstance(inner, dict) else None
        return [any_value_to_python(item) for item in values] if isinstance(values, list) else []
    inner = _field(value, "kvlistValue", "kvlist_value")
    if inner is not None:
        values = inner.get("values") if isinstance(inner, dict) else None
        return dict(key_values(values))
    return None


def any_to_json(value: Any) -> str:
    # NaN/inf are not JSON: orjson writes null for them, which is the usual choice.
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def stringify(value: Any) -> str:
    """A plain attribute value as the ClickHouse exporter stores it (``AsString``)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return format_double(value)
    return any_to_json(value)


def any_value_text(value: Any) -> str:
    if isinstance(value, dict):
        for camel, snake in (("intValue", "int_value"), ("doubleValue", "double_value")):
            inner = _field(value, camel, snake)
            # Keep the writer's spelling of an int64 ("12" stays "12"); parse only numbers.
            if isinstance(inner, str) and camel == "intValue":
                return inner
    return stringify(any_value_to_python(value))


def key_values(items: Any) -> list[tuple[str, Any]]:
    """``[{"key": k, "value": AnyValue}]`` as (key, plain value) pairs; entries without a key are dropped."""
    if not isinstance(items, list):
        return []
    return [
        (item["key"], any_value_to_python(item.get("value")))
        for item in items
        if isinstance(item, dict) and isinstance(item.get("key"), str)
    ]


def attributes_text(items: Any) -> list[tuple[str, str]]:
    """OTLP attributes as (key, string) pairs, in order."""
    if not isinstance(items, list):
        return []
    return [
        (item["key"], any_value_text(item.get("value")))
        for item in items
        if isinstance(item, dict) and isinstance(item.get("key"), str)
    ]


def micros_to_nanos(value: Any, field_name: str, *, positive: bool = False) -> int:
    """Microseconds (Jaeger, Zipkin) -> nanoseconds, validated like :func:`unix_nanos`
    (``positive``: zero is invalid too, as for a start time)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        if value is None:
            raise BadRecord("missing-time", f"{field_name} is missing", _MICROS_HINT)
        raise BadRecord("bad-time", f"{field_name} {_preview(value)} is not a number", _MICROS_HINT)
    try:
        micros = int(value) if not isinstance(value, float) else round(value)
    except (ValueError, OverflowError):
        raise BadRecord(
            "bad-time", f"{field_name} {_preview(value)} is not a number", _MICROS_HINT
        ) from None
    if not int(positive) <= micros < 2**63 // 1000:
        raise BadRecord("bad-time", f"{field_name} {micros} is out of range", _MICROS_HINT)
    return micros * 1000


_MICROS_HINT: Final = "Jaeger and Zipkin times are integer microseconds since the epoch"


def _preview(value: Any) -> str:
    shown = repr(value)
    return shown if len(shown) <= 40 else shown[:37] + "..."
