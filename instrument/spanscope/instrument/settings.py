"""Environment variables spanscope reads (beyond the standard ``OTEL_*`` ones)."""

from __future__ import annotations

from typing import Final

# Folder for the OTLP JSON-lines trace files; relative paths are resolved
# against the working directory at start-up.
SPANSCOPE_TRACES_DIR: Final = "SPANSCOPE_TRACES_DIR"
DEFAULT_TRACES_DIR: Final = "spanscope-traces"

# Name under which spanscope's file exporter is registered in the
# ``opentelemetry_traces_exporter`` entry-point group (pyproject.toml).
FILE_EXPORTER_NAME: Final = "spanscope_file"
